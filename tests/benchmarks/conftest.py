"""The scripts under test (benchmarks/*.py, docs/scripts/*.py): each test module names its
script in ``SCRIPT``."""

import importlib.util
import sys

import pytest


@pytest.fixture(scope="module")
def bench(request):
    """The module's ``SCRIPT`` (a script file, not a package) imported under a
    name of its own, registered in ``sys.modules`` while the module's tests run (its
    dataclasses look their module up there)."""
    script = request.module.SCRIPT
    spec = importlib.util.spec_from_file_location(f"{script.stem}_bench_under_test", script)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(spec.name, None)
