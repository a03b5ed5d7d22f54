"""rd_sweep on the real codec."""

import numpy as np
import pytest

from codec.rate_control import RATE_TOL_BITS
from theory import GaussianSource, ecdq_redundancy_bound, lattice_constants, rd_sweep

#: Gap to R(D) of the real bytes (bits/element) measured on 2^15 Gaussian samples, data
#: seeds 0, 1, 2 (dither seed 3): Z 0.413–0.435 at 2 bit, 0.281–0.300 at 4 bit;
#: E8 0.340–0.351 at 2 bit, 0.221–0.234 at 4 bit. High-rate theory (docs/theory.md):
#: 0.2546 (Z) and 0.1460 (E8) plus the index coding without the dither and the stream's
#: tables (2^15 samples). The tolerance 0.04 is three times the spread over seeds.
MEASURED_GAP = {("Z", 2.0): 0.42, ("Z", 4.0): 0.29, ("E8", 2.0): 0.345, ("E8", 4.0): 0.228}


@pytest.fixture(scope="module")
def records():
    x = np.random.default_rng(0).normal(size=2**15)
    configs = {"Z": {"lattice": "Z"}, "E8": {"lattice": "E8"}}
    return rd_sweep(x, configs, [2.0, 4.0], seed=3, source=GaussianSource(1.0))


def test_real_codec_respects_rate_distortion_bounds(records):
    for rec in records:
        g = lattice_constants(rec["config"]["lattice"]).G
        # Theory: never below R(D), and below the any-rate ECDQ bound 0.5·log2(4πeG)
        # (0.754 Z, 0.646 E8) even with the container's tables on 2^15 samples.
        assert 0.0 < rec["gap_bits"] < ecdq_redundancy_bound(g), rec
        # Regression: where it was measured, within three times the spread over seeds.
        key = (rec["config"]["lattice"], rec["target_rate"])
        assert rec["gap_bits"] == pytest.approx(MEASURED_GAP[key], abs=0.04), rec
        # Rate control codes each candidate and measures the real bytes; its secant search
        # stops within RATE_TOL_BITS = 0.005 bit/element (measured misses: 0.0002–0.0046).
        assert abs(rec["bits_per_element"] - rec["target_rate"]) <= RATE_TOL_BITS, rec


def test_real_codec_sweep_is_reproducible(records):
    x = np.random.default_rng(0).normal(size=2**15)
    again = rd_sweep(x, {"E8": {"lattice": "E8"}}, [2.0], seed=3, source=GaussianSource(1.0))
    first = next(r for r in records if r["name"] == "E8" and r["target_rate"] == 2.0)
    assert {k: v for k, v in again[0].items() if k != "seconds"} == {
        k: v for k, v in first.items() if k != "seconds"
    }
