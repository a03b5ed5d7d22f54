"""benchmarks/tcq.py on tiny inputs: its main(argv), the JSON parts and the docs block."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "tcq.py"


def test_main_on_tiny_inputs(bench, tmp_path):
    docs = tmp_path / "bench.md"
    docs.write_text("# Benchmarks\n\nhand-written text stays\n")
    res = bench.main(
        [
            "--quick",
            "--parts",
            "gaps,speed",
            "--n",
            "4096",
            "--speed-n",
            "8192",
            "--repeats",
            "1",
            "--no-json",
            "--markdown",
            str(docs),
        ]
    )
    methods = [m[0] for m in bench.METHODS]
    assert {"TCQ-8", "TCQ-256", "Z", "E8", "E8+dither", "ECSQ"} <= set(methods)
    for name in ("gaussian", "laplacian"):
        pts = res["gaps"][name]["points"]
        assert len(pts["method"]) == len(methods) * len(bench.QUICK_GAP_RATES)
        assert all(g > -0.05 for g in pts["gap_bits"])
    assert set(res["speed"]["encode_mps"]) == set(methods)
    assert {t["target"].split(",")[0] for t in res["targets"]} >= {"Gaussian gap", "encode"}
    text = docs.read_text()
    assert text.startswith("# Benchmarks\n\nhand-written text stays\n")
    assert text.count("<!-- tcq:begin -->") == 1 and "| TCQ-256 |" in text
    bench.main(["--quick", "--parts", "gaps", "--n", "4096", "--no-json", "--markdown", str(docs)])
    assert docs.read_text().count("<!-- tcq:begin -->") == 1  # the block is replaced
