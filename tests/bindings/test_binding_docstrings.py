"""Every docstring example in the torch binding runs (one test per module of bindings.torch)."""

import doctest
import importlib
import pkgutil

import pytest

pytest.importorskip("torch")

import bindings.torch  # noqa: E402

MODULES = sorted(
    ["bindings.torch"]
    + [m.name for m in pkgutil.walk_packages(bindings.torch.__path__, "bindings.torch.")]
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_every_public_function_has_an_example():
    finder = doctest.DocTestFinder()
    for name in bindings.torch.__all__:
        obj = getattr(bindings.torch, name)
        if callable(obj) and not isinstance(obj, type):
            tests = finder.find(obj, name)
            assert any(t.examples for t in tests), f"{name} has no docstring example"
