"""docs/results.md's generated blocks equal their regeneration from the committed JSON
(docs/scripts/results_tables.py): the LeNet-5-on-digits blocks from
benchmarks/results/demo_seed*.json (--digits), the MNIST blocks from mnist_*.json, each
from the command written in its first line (--mnist, --ternary)."""

import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


#: The script under test, imported by the ``bench`` fixture (conftest.py).
SCRIPT = ROOT / "docs" / "scripts" / "results_tables.py"


@pytest.fixture(scope="module")
def results_tables(bench):
    return bench


def _block(text: str, name: str) -> str:
    m = re.search(rf"<!-- {name}:begin -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    assert m is not None, f"markers of block {name!r} are missing from docs/results.md"
    return m.group(1)


@pytest.fixture(scope="module")
def blocks(results_tables):
    return results_tables.digits_blocks(ROOT)


def test_digits_blocks_come_from_six_committed_seeds_and_one_full_run(results_tables, blocks):
    runs = results_tables.digits_runs(ROOT)
    assert [r["baseline"]["seed"] for r in runs] == list(range(6))
    assert set(blocks) == {"digits-main", "digits-full"}
    full = [r for r in runs if "--only" not in r["meta"]["command"]]
    assert full and full[0]["baseline"]["seed"] == 0
    methods = {r["method"] for r in full[0]["results"]}
    assert {"PQ 2x2-dim + arithmetic + FT", "RVQ 2-dim 2 stages + arithmetic + FT"} <= methods


def test_committed_digits_blocks_equal_their_regeneration(results_tables, blocks):
    text = (ROOT / results_tables.DIGITS_PAGE).read_text(encoding="utf-8")
    stale = [name for name, body in blocks.items() if _block(text, name) != body]
    assert not stale, f"stale blocks {stale}: run docs/scripts/results_tables.py --digits --write"


def test_a_changed_result_changes_the_block(results_tables, tmp_path):
    """The comparison above can fail: one ratio changed in the JSON changes the table."""
    runs = results_tables.digits_runs(ROOT)
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    for r in runs:
        seed = r["baseline"]["seed"]
        if seed == 0:
            r = json.loads(json.dumps(r))
            row = next(x for x in r["results"] if x["method"] == r["main_method"])
            row["ratio"] += 1.0
        path = tmp_path / "benchmarks" / "results" / f"demo_seed{seed}.json"
        path.write_text(json.dumps(r), encoding="utf-8")
    forged = results_tables.digits_blocks(tmp_path)
    assert forged["digits-main"] != results_tables.digits_blocks(ROOT)["digits-main"]


def test_write_blocks_replaces_only_the_marked_text(results_tables, tmp_path):
    page = tmp_path / "page.md"
    page.write_text("a\n<!-- x:begin -->\nold\n<!-- x:end -->\nb\n", encoding="utf-8")
    results_tables.write_blocks(page, {"x": "new"})
    assert page.read_text(encoding="utf-8") == "a\n<!-- x:begin -->\nnew\n<!-- x:end -->\nb\n"
    with pytest.raises(ValueError, match="needs one"):
        results_tables.write_blocks(page, {"y": "z"})


# -- MNIST (examples/mnist.py, examples/mnist_ternary.py) --------------------------
PAGE = ROOT / "docs" / "results.md"
BLOCKS = (
    "mnist",
    "mnist-labels",
    "mnist-previous",
    "mnist-gapmask",
    "mnist-ctxmask",
    "mnist-binindex",
)


def _mnist_block(name: str) -> str:
    return _block(PAGE.read_text(encoding="utf-8"), name)


def _command(body: str) -> list[str]:
    m = re.match(r"<!-- results_tables\.py --mnist (.*?) -->", body)
    assert m is not None, "an MNIST block starts with the command that printed it"
    return m.group(1).split()


@pytest.mark.parametrize("name", BLOCKS)
def test_committed_mnist_block_equals_its_regeneration(results_tables, name, monkeypatch):
    body = _mnist_block(name)
    args = _command(body)
    files = [a for a in args if a.endswith(".json")]
    assert files and all((ROOT / f).is_file() for f in files), "the block's JSON is committed"
    monkeypatch.chdir(ROOT)
    assert results_tables.mnist_block_text(args) == body, (
        f"block {name} is stale: rerun the command in its first line with "
        f"--write docs/results.md --block {name}"
    )


def test_the_headline_block_holds_every_committed_seed():
    files = _command(_mnist_block("mnist"))
    committed = sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "benchmarks" / "results").glob("mnist_seed*.json")
    )
    assert sorted(f for f in files if f.endswith(".json")) == committed


def test_a_changed_mnist_result_changes_the_block(results_tables, tmp_path, monkeypatch):
    """The comparison above can fail: one headline ratio changed in the JSON changes the
    block."""
    args = _command(_mnist_block("mnist"))
    for f in args:
        if f.endswith(".json"):
            (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / f, tmp_path / f)
    first = tmp_path / next(f for f in args if f.endswith(".json"))
    run = json.loads(first.read_text())
    run["networks"]["LeNet-5"]["main"]["ratio"] += 1.0
    first.write_text(json.dumps(run))
    monkeypatch.chdir(tmp_path)
    assert results_tables.mnist_block_text(args) != _mnist_block("mnist")


def test_committed_ternary_block_equals_its_regeneration(results_tables, monkeypatch):
    body = _mnist_block("mnist-ternary")
    m = re.match(r"<!-- results_tables\.py --ternary (\S+) -->", body)
    assert m is not None, "the ternary block starts with the command that printed it"
    monkeypatch.chdir(ROOT)
    assert results_tables.ternary_block_text(m.group(1)) == body, (
        "block mnist-ternary is stale: rerun docs/scripts/results_tables.py --ternary "
        f"{m.group(1)} --write docs/results.md --block mnist-ternary"
    )
