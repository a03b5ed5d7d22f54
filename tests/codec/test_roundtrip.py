"""Round trips through codec.encode / codec.decode: shapes, dtypes, determinism, threads."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import codec

LATTICES = ["Z", "D4", "E8"]
DTYPES = [np.float16, np.float32, np.float64]


@pytest.mark.parametrize("lattice", LATTICES + ["D3", "cubic"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (1,), (7,), (3, 0, 2), (5, 13), (2, 3, 4, 5)])
def test_shape_and_dtype_restored(lattice, dtype, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    y = codec.decode(codec.encode(x, lattice=lattice, step=0.05, seed=1))
    assert y.shape == x.shape and y.dtype == x.dtype
    if x.size:
        # |error| is bounded by the covering radius of the scaled lattice (<= step for Z/D4/E8)
        assert np.max(np.abs(y.astype(np.float64) - x.astype(np.float64))) <= 0.05 * 1.5 + 1e-3


@pytest.mark.parametrize("dither", [True, False])
@given(
    x=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=9),
        elements=st.floats(-1e6, 1e6, allow_nan=False),
    ),
    lattice=st.sampled_from(LATTICES),
    seed=st.integers(0, 2**64 - 1),
)
def test_roundtrip_error_within_cell(x, lattice, seed, dither):
    step = 0.25
    y = codec.decode(codec.encode(x, lattice=lattice, step=step, seed=seed, dither=dither))
    assert y.shape == x.shape
    if x.size:
        # error inside the Voronoi cell: no coordinate off by more than the covering radius
        assert np.max(np.abs(y - x)) <= step * 1.0 + 1e-9 * (1 + np.abs(x).max())


def test_non_contiguous_views():
    base = np.random.default_rng(2).standard_normal((40, 60)).astype(np.float32)
    for view in (base.T, base[::3, 1::2], base[:, ::-1]):
        assert not view.flags.c_contiguous
        y = codec.decode(codec.encode(view, lattice="E8", step=0.01))
        assert y.shape == view.shape
        assert np.max(np.abs(y - view)) < 0.02


def test_plain_rounding_without_dither_is_lattice_rounding():
    x = np.array([0.26, -0.74, 1.1, 2.0], np.float64)
    y = codec.decode(codec.encode(x, lattice="Z", step=0.5, dither=False))
    assert y.tolist() == [0.5, -0.5, 1.0, 2.0]


def test_same_seed_same_bytes_and_seed_matters():
    x = np.random.default_rng(3).standard_normal(5000)
    a = codec.encode(x, lattice="E8", step=0.1, seed=42)
    assert a == codec.encode(x, lattice="E8", step=0.1, seed=42)
    assert a != codec.encode(x, lattice="E8", step=0.1, seed=43)
    assert codec.inspect(a).seed == 42


@pytest.mark.parametrize("lattice", LATTICES)
def test_chunks_are_independent_and_reassemble(lattice):
    x = np.random.default_rng(4).standard_normal(10_000).astype(np.float32)
    big = codec.encode(x, lattice=lattice, step=0.1, seed=5)
    small = codec.encode(x, lattice=lattice, step=0.1, seed=5, chunk_size=1000)
    assert codec.inspect(small).n_chunks == 10
    # the dither depends on the element index only, so chunking changes bytes, not values
    assert np.array_equal(codec.decode(big), codec.decode(small))


_THREAD_SCRIPT = """
import hashlib, sys, numpy as np, codec
x = np.random.default_rng(6).standard_normal(300_000).astype(np.float32)
blob = codec.encode(x, lattice=sys.argv[1], rate=4.0, seed=9, chunk_size=1 << 15)
y = codec.decode(blob)
print(hashlib.sha256(blob).hexdigest(), hashlib.sha256(y.tobytes()).hexdigest())
"""


@pytest.mark.parametrize("lattice", ["Z", "E8"])
def test_bytes_and_values_independent_of_thread_count(lattice):
    results = set()
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        out = subprocess.run(
            [sys.executable, "-c", _THREAD_SCRIPT, lattice],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        results.add(out.stdout.strip())
    assert len(results) == 1


def test_inspect_reads_header_without_decoding():
    x = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)
    blob = codec.encode(x, lattice="E8", step=0.1, coder="arithmetic", seed=7)
    info = codec.inspect(blob)
    assert info.shape == (64, 32) and info.dtype == "float32"
    assert (info.lattice, info.step, info.seed, info.coder) == ("E8", 0.1, 7, "arithmetic")
    assert info.bits_per_element == pytest.approx(8 * len(blob) / x.size)
    assert info.expected_mse == pytest.approx(0.0716821 * 0.01, rel=1e-6)
    assert info.to_dict()["n_elements"] == x.size


def test_default_rate_control_gives_about_24_db():
    x = np.random.default_rng(1).standard_normal(2**16) * 3.0
    y = codec.decode(codec.encode(x))
    snr = 10 * np.log10(x.var() / np.mean((y - x) ** 2))
    assert 23.0 < snr < 25.5
    assert codec.inspect(codec.encode(x)).lattice == "E8"


def test_constant_and_zero_arrays():
    for x in (np.zeros(100), np.full((4, 4), 3.5, np.float32)):
        y = codec.decode(codec.encode(x))
        assert np.allclose(y, x, atol=0.05 * max(1.0, np.abs(x).max()))


def test_save_and_load_archive(tmp_path):
    arrays = {
        "w": np.random.default_rng(0).standard_normal((30, 20)).astype(np.float32),
        "b": np.zeros(5, np.float64),
        "s": np.float32(1.5),
    }
    stats = codec.save(tmp_path / "m.rdc", arrays, lattice="D4", step=0.01)
    out = codec.load(tmp_path / "m.rdc")
    assert sorted(out) == ["b", "s", "w"]
    for k, v in arrays.items():
        assert out[k].shape == np.shape(v) and out[k].dtype == np.asarray(v).dtype
        # A D4 error lies in step·V, and every point of V has |coordinate| <= 1 (the
        # covering radius, docs/theory.md): |error| <= step = 0.01, plus float32 rounding.
        assert np.allclose(out[k], v, rtol=0, atol=0.01 * (1 + 1e-6) + 1e-7)
    assert stats["w"]["bits_per_element"] > 0 and stats["w"]["mse"] < 1e-4
    # Deterministic: the same arrays and options give the same bytes, and the file
    # holds at least the coded bits its per-record stats announce.
    codec.save(tmp_path / "again.rdc", arrays, lattice="D4", step=0.01)
    data = (tmp_path / "m.rdc").read_bytes()
    assert (
        hashlib.sha256(data).digest()
        == hashlib.sha256((tmp_path / "again.rdc").read_bytes()).digest()
    )
    coded_bits = sum(stats[k]["bits_per_element"] * np.size(v) for k, v in arrays.items())
    assert 0 < coded_bits <= 8 * len(data)
