"""Golden streams for every quantizer x coder, and for the archive format.

tests/golden/matrix.json holds, per case, the exact stream (hex) and the
decoded values (float.hex). Bytes never change unless the format version does:
``RDCODEC_REGEN_GOLDEN=1 pytest tests/codec/test_golden_matrix.py`` rewrites
the file, and refuses to change the decoded values of an existing case while
the format version stays the same (a new encoder may pick other indices only
with a version bump).
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

import codec
from codec import container

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "matrix.json"
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


def _load():
    return json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {"format": FORMAT, "cases": {}}


def _entry(blob: bytes, values: np.ndarray) -> dict:
    return {"stream": blob.hex(), "values": [float(v).hex() for v in values.reshape(-1)]}


def _check_or_store(name: str, blob: bytes, values: np.ndarray, store: dict) -> None:
    entry = _entry(blob, values)
    old = store["cases"].get(name)
    if REGEN:
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
    _check_or_store(name, blob, codec.decode(blob), store)
    if not REGEN:  # the stored stream decodes to the stored values
        old = store["cases"][name]
        y = codec.decode(bytes.fromhex(old["stream"]))
        assert [float(v).hex() for v in y] == old["values"]


def test_golden_archive(store, tmp_path):
    data = _archive_bytes(tmp_path)
    loaded = codec.load(tmp_path / "golden.rda")
    values = np.concatenate([loaded["a"].astype(np.float64), loaded["b"].reshape(-1)])
    _check_or_store("archive", data, values, store)
