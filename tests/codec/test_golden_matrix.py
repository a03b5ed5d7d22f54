"""Golden streams for every quantizer x coder, and for the archive, checkpoint and
torch model-file formats.

tests/golden/matrix.json holds, per case, the exact stream (hex) and the
decoded values (float.hex). Bytes never change unless the format version does:
``RDCODEC_REGEN_GOLDEN=1 pytest tests/codec/test_golden_matrix.py`` rewrites
the file, and refuses to change the decoded values of an existing case while
the format version stays the same (a new encoder may pick other indices only
with a version bump).

The values are not the decoder's word alone: tests/golden/oracle.py, which
shares no code with the codec, predicts them from the input and the bytes of
docs/format.md (exactly for lattices and vector quantizers, nearest-level for
uniform and k-means codebooks, properties for ECSQ and TCQ: see its
docstring), both when the goldens are checked and before they are regenerated.
"""

import importlib.util
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import codec
from codec import checkpoint, container

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "matrix.json"
_spec = importlib.util.spec_from_file_location(
    "golden_oracle", GOLDEN.parent / "oracle.py"
)  # tests/ is not a package: load the oracle by path
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)
REGEN = os.environ.get("RDCODEC_REGEN_GOLDEN") == "1"
FORMAT = f"{container.FORMAT_MAJOR}.{container.FORMAT_MINOR}"

QUANTIZERS = {
    "z_dither": {"lattice": "Z", "step": 0.25, "seed": 11},
    "d4_dither": {"lattice": "D4", "step": 0.25, "seed": 12},
    "e8_dither": {"lattice": "E8", "step": 0.25, "seed": 13},
    "e8_plain": {"lattice": "E8", "step": 0.25, "dither": False},
    "uniform": {"quantizer": "uniform", "step": 0.25},
    "ecsq": {"quantizer": "ecsq", "lam": 0.05},
    "kmeans": {"quantizer": "kmeans", "levels": 5},
    "tcq4": {"quantizer": "tcq", "states": 4, "step": 0.25},
    "tcq8": {"quantizer": "tcq", "states": 8, "step": 0.25},
    "tcq256": {"quantizer": "tcq", "states": 256, "step": 0.25},
    # a step off the input's grid: no element halfway between two levels
    "uniform_offgrid": {"quantizer": "uniform", "step": 0.27},
    "vq": {"quantizer": "vq", "levels": 4},
    "pq": {"quantizer": "pq", "levels": 4},
    "rvq": {"quantizer": "rvq", "levels": 3},
}
CODERS = ("arithmetic", "huffman", "lzw", "adaptive")
CASES = {f"{q}/{c}": dict(opts, coder=c) for q, opts in QUANTIZERS.items() for c in CODERS}


def golden_input():
    # Exactly representable values, independent of any RNG implementation.
    i = np.arange(61, dtype=np.float64)
    return ((i * 37) % 23 - 11) / 8.0


def _archive_bytes(tmp_path) -> bytes:
    x = golden_input()
    path = tmp_path / "golden.rda"
    codec.save(path, {"a": x, "b": x[:17].reshape(1, 17).astype(np.float32)}, step=0.25, seed=5)
    return path.read_bytes()


def _checkpoint_bytes() -> bytes:
    """A checkpoint file (docs/format.md §8): a codec record and a raw record."""
    x = golden_input()
    f = io.BytesIO()
    w = checkpoint.CheckpointWriter(f, header={"format": "npz", "source": "golden.npz"})
    w.add_codec("w", "float64", x.shape, codec.encode(x, lattice="D4", step=0.25, seed=6))
    w.add_raw("n", np.arange(5, dtype=np.int32))
    w.close()
    return f.getvalue()


def _checkpoint_values(data: bytes) -> np.ndarray:
    with checkpoint.CheckpointReader(io.BytesIO(data)) as r:
        return np.concatenate([r.read("w").reshape(-1), r.read("n").astype(np.float64)])


def golden_state():
    """A fixed small state dict (no training): two float32 weights quantized together,
    a bias stored losslessly, an integer buffer through the arithmetic coder."""
    import torch

    x = golden_input()
    return {
        "fc1.weight": torch.tensor(x[:48].reshape(6, 8), dtype=torch.float32),
        "fc1.bias": torch.tensor(x[48:54], dtype=torch.float32),
        "fc2.weight": torch.tensor(x[45:61].reshape(2, 8), dtype=torch.float32),
        "steps": torch.tensor([3, -1, 7, 0], dtype=torch.int64),
    }


def _model_values(state: dict) -> np.ndarray:
    return np.concatenate([state[k].double().numpy().reshape(-1) for k in sorted(state)])


def oracle_check(name: str, blob: bytes, values: list) -> None:
    """The stored values against tests/golden/oracle.py (AssertionError if they differ)."""
    q = name.split("/")[0]
    y = np.array([float.fromhex(v) for v in values])
    x = golden_input()
    lattice = {"z_dither": "Z", "d4_dither": "D4", "e8_dither": "E8", "e8_plain": "E8"}
    if q in lattice:
        opts = QUANTIZERS[q]
        expected = oracle.lattice_values(x, lattice[q], opts["step"], opts.get("seed"))
    elif q in ("vq", "pq", "rvq"):
        expected = oracle.vq_values(x, blob)
    elif q in ("uniform", "uniform_offgrid", "kmeans"):
        ties = oracle.check_nearest_level(x, y, blob)
        assert q == "uniform" or ties == 0, f"{name}: {ties} elements halfway between levels"
        return
    elif q == "ecsq":
        return oracle.check_ecsq(x, y, blob)
    elif q.startswith("tcq"):
        return oracle.check_tcq(y, blob)
    else:
        raise AssertionError(f"no oracle for golden case {name}")
    assert [float(v).hex() for v in expected] == values, f"{name}: not the oracle's values"


def _load():
    return json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {"format": FORMAT, "cases": {}}


def _entry(blob: bytes, values: np.ndarray) -> dict:
    return {"stream": blob.hex(), "values": [float(v).hex() for v in values.reshape(-1)]}


def _check_or_store(name: str, blob: bytes, values: np.ndarray, store: dict, check=None):
    """Compare with the stored golden, or (regenerating) store it; ``check(blob, values)``
    is the oracle, run on the new values before they may be stored."""
    entry = _entry(blob, values)
    old = store["cases"].get(name)
    if REGEN:
        if check is not None:
            check(blob, entry["values"])
        if old is not None and store["format"] == FORMAT and old["values"] != entry["values"]:
            pytest.fail(f"{name}: decoded values changed without a format version change")
        store["cases"][name] = entry
        return
    assert old is not None, f"no golden for {name}: regenerate on purpose (see module docstring)"
    assert entry["stream"] == old["stream"], f"{name}: encoder output changed"
    assert entry["values"] == old["values"], f"{name}: decoded values changed"


@pytest.fixture(scope="module")
def store():
    data = _load()
    yield data
    if REGEN:
        data["format"] = FORMAT
        GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


@pytest.mark.parametrize("name", list(CASES))
def test_golden_matrix(name, store):
    blob = codec.encode(golden_input(), **CASES[name])
    _check_or_store(name, blob, codec.decode(blob), store, lambda b, v: oracle_check(name, b, v))
    if not REGEN:  # the stored stream decodes to the stored values, which the oracle predicts
        old = store["cases"][name]
        y = codec.decode(bytes.fromhex(old["stream"]))
        assert [float(v).hex() for v in y] == old["values"]
        oracle_check(name, bytes.fromhex(old["stream"]), old["values"])


def test_golden_archive(store, tmp_path):
    data = _archive_bytes(tmp_path)
    loaded = codec.load(tmp_path / "golden.rda")
    values = np.concatenate([loaded["a"].astype(np.float64), loaded["b"].reshape(-1)])
    # the archive's records: golden_input() at step 0.25, seed 5, codec.save's default E8
    x = golden_input()
    a = oracle.lattice_values(x, "E8", 0.25, 5)
    b = oracle.lattice_values(x[:17], "E8", 0.25, 5, dtype="float32")
    assert np.array_equal(values, np.concatenate([a, b.astype(np.float64)]))
    _check_or_store("archive", data, values, store)


def test_golden_checkpoint(store):
    """The checkpoint file format (docs/format.md §8): head, records, index, tail."""
    data = _checkpoint_bytes()
    values = _checkpoint_values(data)
    expected = np.concatenate(
        [oracle.lattice_values(golden_input(), "D4", 0.25, 6), np.arange(5.0)]
    )
    assert np.array_equal(values, expected)  # the oracle, before anything is stored
    _check_or_store("checkpoint", data, values, store)
    if not REGEN:
        stored = bytes.fromhex(store["cases"]["checkpoint"]["stream"])
        assert np.array_equal(_checkpoint_values(stored), expected)


def test_golden_torch_model_file(store):
    """The torch binding's model file (bindings/torch/archive.py): fixed bytes for a
    fixed state dict; the quantized group is one E8 stream of fc1.weight then fc2.weight."""
    bt = pytest.importorskip("bindings.torch")
    state = golden_state()
    cm = bt.compress_state_dict(state, lattice="E8", step=0.25, seed=9)
    data = cm.to_bytes()
    decoded = bt.decompress_state_dict(data)
    values = _model_values(decoded)
    group = np.concatenate(
        [state["fc1.weight"].numpy().reshape(-1), state["fc2.weight"].numpy().reshape(-1)]
    )
    q = oracle.lattice_values(group.astype(np.float64), "E8", 0.25, 9, dtype="float32")
    expected = {"fc1.weight": q[:48], "fc2.weight": q[48:]}
    for k in ("fc1.bias", "steps"):
        expected[k] = state[k].numpy()
    for k, v in expected.items():
        assert np.array_equal(decoded[k].numpy().reshape(-1), np.asarray(v).reshape(-1)), k
    _check_or_store("torch_model", data, values, store)
    if not REGEN:
        stored = bytes.fromhex(store["cases"]["torch_model"]["stream"])
        assert np.array_equal(_model_values(bt.decompress_state_dict(stored)), values)
    # the same model written by format 1.0 (a JSON index) still reads, to the same values
    old = bytes.fromhex(store["cases"]["torch_model_1.0"]["stream"])
    assert old[8:10] == bytes([1, 0]) and data[8:10] == bytes([2, 0])
    assert np.array_equal(_model_values(bt.decompress_state_dict(old)), values)
    assert store["cases"]["torch_model_1.0"]["values"] == _entry(data, values)["values"]


def test_a_planted_reconstruction_bug_fails_the_oracle_even_when_regenerating(monkeypatch):
    """Issue 18: regenerated goldens used to inherit a decoder bug. Plant one (every
    dithered E8 value moved by 0.2 % of a step, as a slightly wrong dither would):
    the oracle rejects the values, and regeneration refuses to store them."""
    from codec.quantizers import lattice as lattice_quantizer

    real = lattice_quantizer.LatticeQuantizer.dequantize

    def skewed(self, points, chunk_elements=None, first=0):
        y = real(self, points, chunk_elements, first)
        return y + 0.002 * self.step * np.cos(np.arange(y.size))

    monkeypatch.setattr(lattice_quantizer.LatticeQuantizer, "dequantize", skewed)
    name = "e8_dither/arithmetic"
    blob = codec.encode(golden_input(), **CASES[name])
    values = codec.decode(blob)
    with pytest.raises(AssertionError, match="oracle"):
        oracle_check(name, blob, [float(v).hex() for v in values])
    monkeypatch.setattr(sys.modules[__name__], "REGEN", True)
    fresh = {"format": FORMAT, "cases": {}}
    with pytest.raises(AssertionError, match="oracle"):
        _check_or_store(name, blob, values, fresh, lambda b, v: oracle_check(name, b, v))
    assert fresh["cases"] == {}


@pytest.mark.parametrize("q", ["ecsq", "tcq8", "kmeans"])
def test_the_property_oracles_reject_broken_values(q, store):
    """The checks that stand in for values (codebooks, TCQ) can fail."""
    old = store["cases"][f"{q}/arithmetic"]
    blob = bytes.fromhex(old["stream"])
    y = [float.fromhex(v) for v in old["values"]]
    i = int(np.argmax(y))
    y[i], y[(i + 1) % len(y)] = y[(i + 1) % len(y)], y[i] - 0.25  # off the grid / levels
    with pytest.raises(AssertionError):
        oracle_check(f"{q}/arithmetic", blob, [float(v).hex() for v in y])
