"""benchmarks/memory.py: the docs table comes from the JSON, and the block is replaced in place."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "memory.py"


def _case(enc, dec, seconds, load=None):
    row = {
        "encode": {"ratio": enc, "seconds": seconds},
        "decode": {"ratio": dec, "seconds": 1.0},
    }
    if load is not None:
        row["load"] = load
    return row


def test_table_orders_rows_by_size_then_case(bench):
    text = bench.table(
        {
            "TCQ-8 step 2^26": _case(0.5, 1.12, 28.571, 24.6),
            "E8 step 2^24": _case(0.57, 1.1, 0.91),
            "TCQ-8 step 2^24": _case(1.104, 1.118, 8.72, 21.44),
        }
    )
    rows = text.splitlines()[2:]
    assert rows == [
        "| E8 step=0.2 | 2^24 | 0.57 | 1.10 | 0.91 | – |",
        "| TCQ-8 step=0.1 | 2^24 | 1.10 | 1.12 | 8.72 | 21.4 |",
        "| TCQ-8 step=0.1 | 2^26 | 0.50 | 1.12 | 28.57 | 24.6 |",
    ]


def test_report_rewrites_only_the_block(bench, tmp_path):
    page = tmp_path / "reliability.md"
    page.write_text("# R\n\nbefore\n<!-- memory:begin -->\nold\n<!-- memory:end -->\nafter\n")
    bench.main(["--report", "--markdown", str(page)])
    text = page.read_text()
    assert text.startswith("# R\n\nbefore\n<!-- memory:begin -->\n| case | n |")
    assert text.endswith("<!-- memory:end -->\nafter\n") and "old" not in text
    # Every case of the committed JSON is a row.
    results = json.loads((ROOT / "benchmarks" / "results" / "memory.json").read_text())["results"]
    assert text.count("\n| ") == len(results) + 1  # the header row too
    no_block = tmp_path / "no_block.md"
    no_block.write_text("# nothing to replace\n")
    with pytest.raises(SystemExit):
        bench.main(["--report", "--markdown", str(no_block)])


def test_unknown_case_is_refused(bench):
    with pytest.raises(SystemExit):
        bench.main(["--cases", "E9 step", "--log2n", "10"])
