"""Operational rate–distortion on 2**20 Gaussian samples, on the real bytes (docs/theory.md)."""

import math

import numpy as np
import pytest

import codec

N = 2**20


@pytest.fixture(scope="module")
def gaussian():
    return np.random.default_rng(2024).standard_normal(N)


def gap_at(x, lattice, rate, seed=11):
    blob = codec.encode(x, lattice=lattice, rate=rate, seed=seed)
    bits = 8 * len(blob) / x.size
    mse = float(np.mean((codec.decode(blob) - x) ** 2))
    return bits, mse, bits - 0.5 * math.log2(1.0 / mse)


@pytest.mark.parametrize("rate", [3.0, 4.0, 5.0, 6.0])
def test_gaps_to_gaussian_rd(gaussian, rate):
    _, _, gap_z = gap_at(gaussian, "Z", rate)
    bits, _, gap_e8 = gap_at(gaussian, "E8", rate)
    assert abs(bits - rate) < 0.01  # rate control hits the target on the real bytes
    # never below R(D) (minus sampling), and E8 beats Z by its granular gain
    assert gap_z > -0.01 and gap_e8 > -0.01
    assert gap_z - gap_e8 >= 0.07
    if rate == 4.0:
        assert gap_e8 <= 0.18
        assert gap_z <= 0.28


def test_d4_between_z_and_e8(gaussian):
    gz = gap_at(gaussian, "Z", 4.0)[2]
    gd = gap_at(gaussian, "D4", 4.0)[2]
    ge = gap_at(gaussian, "E8", 4.0)[2]
    assert ge < gd < gz


def test_distortion_target_is_met(gaussian):
    x = gaussian[: 2**18]
    for dither in (True, False):
        blob = codec.encode(x, lattice="E8", distortion=1e-3, dither=dither)
        mse = float(np.mean((codec.decode(blob) - x) ** 2))
        assert mse == pytest.approx(1e-3, rel=0.03)


def test_rate_control_on_laplacian_never_below_slb():
    b = 1 / math.sqrt(2)
    x = np.random.default_rng(5).laplace(scale=b, size=2**18)
    h = math.log2(2 * math.e * b)
    for rate in (2.0, 4.0):
        bits, mse, _ = gap_at(x, "E8", rate)
        slb = h - 0.5 * math.log2(2 * math.pi * math.e * mse)
        assert bits >= slb - 0.01


@pytest.mark.parametrize("lattice", ["Z", "E8"])
@pytest.mark.parametrize("coder", ["huffman", "arithmetic"])
def test_unreachable_dithered_rate_stops_at_the_variance(lattice, coder):
    # Below about 1 bit/element a dithered lattice only gets there with steps whose
    # MSE exceeds the variance; rate control must warn and stop at MSE <= variance,
    # not return a constant stream with an astronomically large step.
    x = np.random.default_rng(5).laplace(size=50_000) * 3.0
    with pytest.warns(RuntimeWarning, match="could not reach the rate target"):
        blob = codec.encode(x, lattice=lattice, rate=0.25, coder=coder, seed=3)
    mse = float(np.mean((codec.decode(blob) - x) ** 2))
    assert mse <= 1.05 * x.var()
    assert codec.inspect(blob).step < 10 * x.std()


def test_unreachable_rate_without_dither_still_rounds_toward_zero():
    # Without dither large steps are harmless (everything rounds to a few points).
    x = np.random.default_rng(6).standard_normal(50_000)
    blob = codec.encode(x, lattice="Z", rate=0.3, dither=False, coder="arithmetic")
    assert abs(8 * len(blob) / x.size - 0.3) < 0.05
    assert float(np.mean((codec.decode(blob) - x) ** 2)) <= x.var()


@pytest.mark.parametrize(
    "opts",
    [
        {"lattice": "E8"},
        {"quantizer": "tcq", "states": 8},
        {"quantizer": "ecsq", "method": "clg"},
    ],
)
def test_sampled_rate_search_matches_the_exact_one(opts):
    """Arrays of more than two chunks search on a one-chunk sample (with its weights)."""
    rng = np.random.default_rng(7)
    n, chunk = 3 * 2**15 + 5, 2**15
    x = rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n) if opts.get("quantizer") in ("tcq", "ecsq") else None
    out = {}
    for exact in (False, True):
        blob = codec.encode(x, rate=3.0, chunk_size=chunk, weights=w, exact=exact, **opts)
        err = (codec.decode(blob) - x) ** 2
        out[exact] = (8 * len(blob) / n, np.average(err, weights=w))
    (bits_s, mse_s), (bits_e, mse_e) = out[False], out[True]
    assert abs(bits_e - 3.0) < 0.01
    # the sampling error of a one-chunk (2**15-element) sample: ~0.01 bit measured
    assert abs(bits_s - 3.0) < 0.025
    assert mse_s == pytest.approx(mse_e, rel=0.05)
