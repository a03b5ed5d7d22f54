"""benchmarks/vs_nncodec.py on tiny inputs, in the test venv (no NNCodec, no network)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "vs_nncodec.py"


def test_main_on_tiny_inputs(bench, tmp_path, capsys):
    rng = np.random.default_rng(0)
    npz = tmp_path / "tiny.npz"
    np.savez(
        npz,
        fc=(0.05 * rng.standard_normal((32, 16))).astype(np.float32),
        conv=(0.1 * rng.laplace(size=(4, 2, 3, 3))).astype(np.float32),
    )
    docs = tmp_path / "bench.md"
    docs.write_text("# Benchmarks\n\nhand-written text stays\n")
    out = bench.main(
        [
            "--sources",
            "gaussian,laplacian",
            "--n",
            "4096",
            "--weights-npz",
            str(npz),
            "--qps=-28,-20,-12,-4",
            "--methods",
            "E8+dither,Z,ECSQ,k-means,TCQ-8",
            "--results-dir",
            str(tmp_path / "results"),
            "--docs",
            str(docs),
            "--figures",
            str(tmp_path / "fig"),
            "--no-nncodec",
        ]
    )
    printed = capsys.readouterr().out
    assert "NNCodec is not installed here (or --no-nncodec): its columns are skipped" in printed
    assert set(out) == {"gaussian", "laplacian", "tiny"}

    for name in out:
        doc = json.loads((tmp_path / "results" / f"nncodec_{name}.json").read_text())
        assert set(doc) == {"name", "description", "environment", "results"}
        pts = doc["results"]["points"]
        ok = [i for i, s in enumerate(pts["status"]) if s == "ok"]
        assert {pts["method"][i] for i in ok} >= {"E8+dither", "Z", "ECSQ", "k-means"}
        for i in ok:
            assert pts["codec"][i] == "rdcodec"
            assert pts["bits_per_weight"][i] == pytest.approx(8 * pts["bytes"][i] / pts["n"][i])
            assert math.isfinite(pts["snr_db"][i]) and pts["encode_seconds"][i] > 0
        # NNCodec's rows are one 'skipped' line that says why
        nn = [s for c, s in zip(pts["codec"], pts["status"], strict=True) if c == "NNCodec"]
        assert nn and all(s.startswith("skipped (nncodec not installed") for s in nn)
        # the trellis quantizer row is either measured or reported as unavailable
        tcq = {s for m, s in zip(pts["method"], pts["status"], strict=True) if m == "TCQ-8"}
        assert tcq == {"ok"} or all(s.startswith("unavailable (") for s in tcq)
        assert doc["results"]["comparison"]["note"].startswith("no NNCodec+DQ points")
        if doc["results"]["meta"]["kind"] == "source":  # gap to R(D) / the SLB
            gaps = [pts["gap_bits"][i] for i in ok]
            assert all(g > -0.05 for g in gaps)  # never (far) below the bound
        assert (tmp_path / "fig" / f"nncodec_{name}.png").stat().st_size > 1000

    lossless = out["tiny"]["results"]["lossless"]
    assert lossless["method"] == ["zstd -3", "zstd -19", "lzma", "bz2 -9", "zlib -9"]
    for m, s, bpw in zip(
        lossless["method"], lossless["status"], lossless["bits_per_weight"], strict=True
    ):
        assert s == "ok" or (m.startswith("zstd") and s.startswith("unavailable"))
        assert s != "ok" or 8 < bpw < 40

    text = docs.read_text()
    assert text.startswith("# Benchmarks\n\nhand-written text stays\n")
    block = text.split("<!-- nncodec:begin -->")[1].split("<!-- nncodec:end -->")[0]
    assert "### gaussian" in block and "### tiny" in block
    assert "](fig/nncodec_gaussian.png)" in block  # relative to the page

    # --report alone regenerates the same block from the JSON files
    bench.main(
        [
            "--report",
            "--results-dir",
            str(tmp_path / "results"),
            "--docs",
            str(docs),
            "--figures",
            str(tmp_path / "fig"),
        ]
    )
    assert docs.read_text() == text


def test_bd_rate_uses_the_package_and_halving_is_minus_50(bench):
    pytest.importorskip("bjontegaard")
    rate = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    snr = 6.02 * rate
    assert bench.bd_rate_pkg(rate, snr, rate / 2, snr) == pytest.approx(-50.0, abs=1e-6)
