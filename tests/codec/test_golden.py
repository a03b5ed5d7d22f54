"""Golden streams pin the byte format and the dither (docs/format.md).

Regenerate only on purpose: ``RDCODEC_REGEN_GOLDEN=1 pytest tests/codec/test_golden.py``.
The expected arrays are checked against tests/golden/oracle.py (SplitMix64 dither
and brute-force nearest points, no codec code), also before they are rewritten.
"""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

import codec
from codec._kernels import lattice as lattice_kernels

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
REGEN = os.environ.get("RDCODEC_REGEN_GOLDEN") == "1"
_spec = importlib.util.spec_from_file_location("golden_oracle", GOLDEN / "oracle.py")
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)


def golden_input():
    # Exactly representable values, independent of any RNG implementation.
    i = np.arange(61, dtype=np.float64)
    return ((i * 37) % 23 - 11) / 8.0


CASES = {
    "z_dither": dict(lattice="Z", step=0.25, seed=1),
    "d4_dither": dict(lattice="D4", step=0.25, seed=2),
    "e8_dither": dict(lattice="E8", step=0.25, seed=3),
    "e8_plain": dict(lattice="E8", step=0.25, dither=False),
    "e8_f32_chunks": dict(lattice="E8", step=0.5, seed=4, chunk_size=16),
}


def oracle_values(name: str) -> np.ndarray:
    """What the case must decode to, from the input alone (tests/golden/oracle.py)."""
    opts = CASES[name]
    dtype = "float32" if name.endswith("f32_chunks") else "float64"
    return oracle.lattice_values(
        golden_input(), opts["lattice"], opts["step"], opts.get("seed"), dtype=dtype
    )


@pytest.mark.parametrize("name", list(CASES))
def test_golden_stream(name):
    opts = CASES[name]
    x = golden_input()
    if name.endswith("f32_chunks"):
        x = x.astype(np.float32)
    blob = codec.encode(x, **opts)
    path = GOLDEN / f"{name}.rdc"
    expected = oracle_values(name)
    if REGEN:
        y = codec.decode(blob)
        assert np.array_equal(y, expected) and y.dtype == expected.dtype, "not the oracle's values"
        path.write_bytes(blob)
        np.save(GOLDEN / f"{name}.npy", y)
    assert blob == path.read_bytes(), "encoder output changed: bump the format or regenerate"
    stored = np.load(GOLDEN / f"{name}.npy")
    assert np.array_equal(codec.decode(path.read_bytes()), stored)
    assert stored.dtype == expected.dtype and np.array_equal(stored, expected)


def test_dither_generator_pinned():
    """SplitMix64 values of docs/format.md §4 for seed 0 and 2**64 - 1."""
    key0 = lattice_kernels.dither_key(np.uint64(0))
    assert int(key0) == 0xE220A8397B1DCDAF  # the first SplitMix64 output for seed 0
    w = [lattice_kernels.uniform01(key0, i) for i in range(3)]
    assert [x.hex() for x in w] == [
        "0x1.4e0dba5e9a32fp-1",
        "0x1.6705460be8829p-1",
        "0x1.8c6a4553eeafcp-2",
    ]
    big = lattice_kernels.uniform01(lattice_kernels.dither_key(np.uint64(2**64 - 1)), 2**40)
    assert 0.0 <= big < 1.0
