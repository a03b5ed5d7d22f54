"""benchmarks/scale.py on tiny inputs, and docs/scaling.md generated from its committed JSON."""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "scale.py"


def test_main_on_tiny_inputs(bench, tmp_path):
    docs = tmp_path / "scaling.md"
    docs.write_text("# Scaling\n\nhand-written text stays\n")
    args = ["--quick", "--parts", "throughput,rss,projection", "--no-json", "--markdown"]
    res = bench.main([*args, str(docs)])
    assert set(res["throughput"]["quantizers"]) == {"E8 step=0.2", "Z step=0.25"}
    assert res["rss"]["n"] == 1 << 20 and res["rss"]["met"]
    assert res["rss"]["max_abs_error"] <= 0.2 + 1e-6  # E8's covering radius times the step
    rows = res["projection"]["rows"]
    assert [r["machines"] for r in rows] == [1, 8, 64]
    assert rows[0]["encode_compute_s"] > rows[1]["encode_compute_s"] > rows[2]["encode_compute_s"]
    assert (
        rows[0]["network_GB_total"]
        == 0
        < rows[1]["network_GB_total"]
        == rows[2]["network_GB_total"]
    )
    text = docs.read_text()
    assert text.startswith("# Scaling\n\nhand-written text stays\n")
    assert text.count("<!-- scale:begin -->") == 1 and "| E8 step=0.2 |" in text
    bench.main([*args, str(docs)])
    assert docs.read_text().count("<!-- scale:begin -->") == 1  # the block is replaced


def test_docs_block_is_the_committed_json(bench):
    """Every number in docs/scaling.md's block comes from benchmarks/results/scale.json."""
    doc = json.loads((ROOT / "benchmarks" / "results" / "scale.json").read_text())
    text = (ROOT / "docs" / "scaling.md").read_text()
    block = text.split("<!-- scale:begin -->\n", 1)[1].split("\n<!-- scale:end -->", 1)[0]
    assert block == bench.markdown(doc).rstrip()
