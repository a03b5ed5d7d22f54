"""docs/results.md's MNIST blocks equal their regeneration from the committed
benchmarks/results/mnist_*.json (docs/scripts/results_tables.py --mnist), each block from
the command written in its first line."""

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "results.md"
BLOCKS = ("mnist", "mnist-labels", "mnist-previous")


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


results_tables = _load(ROOT / "docs" / "scripts" / "results_tables.py", "results_tables_mnist")


def _block(name: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    m = re.search(rf"<!-- {name}:begin -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    assert m is not None, f"markers of block {name!r} are missing from docs/results.md"
    return m.group(1)


def _command(body: str) -> list[str]:
    m = re.match(r"<!-- results_tables\.py --mnist (.*?) -->", body)
    assert m is not None, "an MNIST block starts with the command that printed it"
    return m.group(1).split()


@pytest.mark.parametrize("name", BLOCKS)
def test_committed_mnist_block_equals_its_regeneration(name, monkeypatch):
    body = _block(name)
    args = _command(body)
    files = [a for a in args if a.endswith(".json")]
    assert files and all((ROOT / f).is_file() for f in files), "the block's JSON is committed"
    monkeypatch.chdir(ROOT)
    assert results_tables.mnist_block_text(args) == body, (
        f"block {name} is stale: rerun the command in its first line with "
        f"--write docs/results.md --block {name}"
    )


def test_the_headline_block_holds_every_committed_seed():
    files = _command(_block("mnist"))
    committed = sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "benchmarks" / "results").glob("mnist_seed*.json")
    )
    assert sorted(f for f in files if f.endswith(".json")) == committed


def test_a_changed_result_changes_the_block(tmp_path, monkeypatch):
    """The comparison above can fail: one headline ratio changed in the JSON changes the
    block."""
    args = _command(_block("mnist"))
    for f in args:
        if f.endswith(".json"):
            (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / f, tmp_path / f)
    first = tmp_path / next(f for f in args if f.endswith(".json"))
    run = json.loads(first.read_text())
    run["networks"]["LeNet-5"]["main"]["ratio"] += 1.0
    first.write_text(json.dumps(run))
    monkeypatch.chdir(tmp_path)
    assert results_tables.mnist_block_text(args) != _block("mnist")


def test_committed_ternary_block_equals_its_regeneration(monkeypatch):
    body = _block("mnist-ternary")
    m = re.match(r"<!-- results_tables\.py --ternary (\S+) -->", body)
    assert m is not None, "the ternary block starts with the command that printed it"
    monkeypatch.chdir(ROOT)
    assert results_tables.ternary_block_text(m.group(1)) == body, (
        "block mnist-ternary is stale: rerun docs/scripts/results_tables.py --ternary "
        f"{m.group(1)} --write docs/results.md --block mnist-ternary"
    )
