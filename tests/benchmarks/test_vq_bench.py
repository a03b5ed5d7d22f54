"""benchmarks/vq.py on tiny inputs: its main(argv), the docs block and the figure."""

import json
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "vq.py"


def test_main_on_tiny_inputs_writes_block_and_figure(bench, tmp_path):
    docs = tmp_path / "bench.md"
    docs.write_text("# Benchmarks\n\nhand-written text stays\n")
    fig = tmp_path / "vq.png"
    argv = ["--quick", "--n", "4096", "--train-vectors", "512", "--max-iter", "3"]
    argv += ["--repeats", "1", "--no-write", "--markdown", str(docs), "--figure", str(fig)]
    argv += ["--minilm-match", r"token_type_embeddings"]
    res = bench.main(argv)
    g = res["gaussian"]
    learned = [v for v in g.values() if isinstance(v, dict) and "config" in v]
    assert {p["config"]["quantizer"] for p in learned} == {"vq", "pq", "rvq"}
    for p in learned:  # real bytes: the codebooks are a part of the rate
        assert 0 < p["codebook_bits_per_weight"] < p["bits_per_weight"]
    # every lattice curve is sorted by rate, and SNR grows with it
    for lat in ("Z", "D4", "E8"):
        r, s = g[lat]["bits_per_weight"], g[lat]["snr_db"]
        assert r == sorted(r) and s[-1] > s[0]
    assert len(res["training"]) == 2 and res["run"]["load_average_end"]
    text = docs.read_text()
    assert text.startswith("# Benchmarks\n\nhand-written text stays\n")
    assert text.count("<!-- vq:begin -->") == 1 and "Target of issue 17" in text
    assert "scikit-learn KMeans" in text
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # --report rebuilds the same block from the JSON alone
    (tmp_path / "vq_tiny.json").write_text(
        json.dumps({"environment": bench.environment(), "results": res})
    )
    bench.RESULTS = tmp_path
    docs.write_text("# Benchmarks\n")
    bench.main(["--report", "--name", "vq_tiny", "--markdown", str(docs), "--figure", str(fig)])
    assert docs.read_text().split("<!-- vq:begin -->")[1] == text.split("<!-- vq:begin -->")[1]


def test_target_line_reads_both_numbers(bench):
    def pt(rate, snr, e8, **cfg):
        return {"bits_per_weight": rate, "snr_db": snr, "e8_snr_db_at_rate": e8, "config": cfg}

    g = {
        "a": pt(1.9, 9.5, 9.9, quantizer="vq", subvector=2),  # -0.4 dB
        "b": pt(2.5, 12.0, 11.0, quantizer="vq", subvector=8),  # above 2 bit: not counted
    }
    assert "**not met**" in bench.target_line(g)
    g["c"] = pt(1.99, 10.0, 10.2, quantizer="pq", subvector=4, subspaces=2)  # -0.2 dB
    line = bench.target_line(g)
    assert "**met**" in line and "-0.20 dB" in line and "-0.40 dB" not in line.split(";")[0]


def test_timing_only_rerun_keeps_the_curves_and_records_the_load(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    (tmp_path / "vq_t.json").write_text(json.dumps({"results": {"gaussian": {"kept": 1}}}))
    argv = ["--timing-only", "--name", "vq_t", "--train-vectors", "512", "--max-iter", "2"]
    bench.main(argv + ["--repeats", "1"])
    res = json.loads((tmp_path / "vq_t.json").read_text())["results"]
    assert res["gaussian"] == {"kept": 1}  # the RD curves are not rerun
    assert [(r["dim"], r["levels"]) for r in res["training"]] == bench.TIMING_CONFIGS
    run = res["training_run"]
    assert run["command"].startswith("benchmarks/vq.py --timing-only")
    assert len(run["load_average_start"]) == 3 and len(run["load_average_end"]) == 3
    lines = bench.training_table(res["training"], run)
    assert "load average" in lines[-1] and "--timing-only" in lines[-1]
