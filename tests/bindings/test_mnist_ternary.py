"""examples/mnist_ternary.py: a quick run on synthetic idx files writes its table and JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from examples import mnist_ternary  # noqa: E402


def write_idx(path: Path, a: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, a.ndim]) + np.asarray(a.shape, ">u4").tobytes()
    path.write_bytes(header + a.astype(np.uint8).tobytes())


def synthetic_mnist(folder: Path) -> None:
    """MNIST's four files and shapes: a bright bar whose row is the label, plus noise."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 60000), ("t10k", 10000)):
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = (rng.random((n, 28, 28)) * 60).astype(np.uint8)
        x[np.arange(n), 2 + 2 * y.astype(int), 4:24] = 255
        write_idx(folder / f"{split}-images-idx3-ubyte", x)
        write_idx(folder / f"{split}-labels-idx1-ubyte", y)


def test_quick_run_writes_ternary_rows(tmp_path, capsys):
    synthetic_mnist(tmp_path)
    out = tmp_path / "mnist_ternary.json"
    argv = ["--quick", "--mnist", str(tmp_path), "--out", str(out), "--no-progress"]
    assert mnist_ternary.main(argv + ["--stages", "0.5,1", "--mlq-batches", "3"]) == 0
    assert "MLQ ternary" in capsys.readouterr().out
    doc = json.loads(out.read_text())
    res = doc["results"]
    assert res["parameters"] == 431080 and doc["load_average_end"]
    assert [r["method"] for r in res["rows"]] == ["ternary TWN", "MLQ ternary"]
    for r in res["rows"]:
        assert r["ratio"] == pytest.approx(res["float32_bytes"] / r["n_bytes"])
        assert r["bits_per_weight"] < 2.0  # ternary indices, coded: not 32 bits
        assert r["test_acc"] > 50  # the bar task is easy; a broken archive gives ~10 %


def test_bad_stages_exit_with_usage_error():
    with pytest.raises(SystemExit):
        mnist_ternary.main(["--stages", "half"])
