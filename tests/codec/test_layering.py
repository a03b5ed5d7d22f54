"""The import rules of docs/architecture.md: codec never imports bindings, theory or torch."""

import ast
import pathlib
import subprocess
import sys

import codec

CODEC_DIR = pathlib.Path(codec.__file__).parent
FORBIDDEN = ("bindings", "theory", "torch")


def _imported_roots(path: pathlib.Path, *, module_level_only: bool) -> set:
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level_only else ast.walk(tree)
    roots = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_codec_module_imports_bindings_theory_or_torch():
    """The library never imports them. The command line (codec/cli/) may, lazily inside a
    function, for one command's needs (torch for .pt files, theory for ``rdcodec rd``)."""
    offenders = {}
    for p in CODEC_DIR.rglob("*.py"):
        in_cli = p.parent.name == "cli"
        found = _imported_roots(p, module_level_only=in_cli) & set(FORBIDDEN)
        if in_cli:
            found |= _imported_roots(p, module_level_only=False) & {"bindings"}
        if found:
            offenders[str(p.relative_to(CODEC_DIR))] = sorted(found)
    assert offenders == {}


def test_kernels_folder_holds_only_kernels():
    """codec/_kernels: numba-compiled functions and constants, no classes."""
    for p in (CODEC_DIR / "_kernels").glob("*.py"):
        tree = ast.parse(p.read_text())
        assert not [n.name for n in tree.body if isinstance(n, ast.ClassDef)], p.name


def test_importing_codec_loads_none_of_them():
    code = f"import sys, codec, codec.cli; print([m for m in {FORBIDDEN!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


OPTIONAL = ("zarr", "numcodecs", "dask", "distributed")  # the `scale` extra
ADAPTERS = {"zarr.py": {"zarr", "numcodecs"}, "dask.py": {"dask"}}


def test_only_the_adapters_import_the_scale_extra():
    """codec/zarr.py and codec/dask.py may import the optional `scale` extra; nothing
    else in codec does, so the core installs and runs without it."""
    offenders = {}
    for p in CODEC_DIR.rglob("*.py"):
        found = _imported_roots(p, module_level_only=False) & set(OPTIONAL)
        allowed = ADAPTERS.get(p.name, set()) if p.parent == CODEC_DIR else set()
        if found - allowed:
            offenders[str(p.relative_to(CODEC_DIR))] = sorted(found - allowed)
    assert offenders == {}


def test_importing_codec_loads_no_scale_extra_until_asked():
    code = (
        "import sys, codec, codec.cli\n"
        f"print([m for m in {OPTIONAL!r} if m in sys.modules])\n"
        "codec.zarr\n"
        "print('zarr' in sys.modules, 'dask' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True False"]
