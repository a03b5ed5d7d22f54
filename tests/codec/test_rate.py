"""Operational rate–distortion on 2**20 Gaussian samples, on the real bytes (THEORY.md)."""

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
