"""Every docstring example in the codec package runs (the theory package has its own)."""

import doctest
import importlib
import pkgutil

import pytest

import codec

MODULES = sorted(m.name for m in pkgutil.walk_packages(codec.__path__, "codec."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
