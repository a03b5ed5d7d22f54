"""Every docstring example runs; every public name is documented; no torch import."""

import doctest
import importlib
import inspect
import subprocess
import sys

import pytest

import theory

MODULES = [
    "theory",
    "theory.blahut_arimoto",
    "theory.bounds",
    "theory.errors",
    "theory.lattices",
    "theory.sources",
    "theory.sweep",
]


# Bookkeeping functions with no theory behind them, hence no formula.
NO_FORMULA = {
    "lattice_names",
    "curve_from_records",
    "parse_rd_json",
    "read_rd_json",
    "records_to_json",
}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize("name", theory.__all__)
def test_public_names_are_documented(name):
    obj = getattr(theory, name)
    if inspect.isfunction(obj):
        doc = inspect.getdoc(obj) or ""
        sections = ["Returns", "Examples"]
        if inspect.signature(obj).parameters:  # functions with arguments validate them
            sections += ["Parameters", "Raises"]
        for section in sections:
            assert section in doc, f"{name} lacks a {section} section"
        assert ".. math::" in doc or ":math:" in doc or name in NO_FORMULA, name
    elif inspect.isclass(obj):
        assert inspect.getdoc(obj), f"{name} lacks a docstring"


def test_theory_never_imports_torch_or_codec():
    code = "import sys, theory; print('torch' in sys.modules, 'codec' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
