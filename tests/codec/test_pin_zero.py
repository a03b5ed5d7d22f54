"""``pin_zero=True`` of the ECSQ and k-means designers: one level exactly 0.

Pruned weights coded with the values (no mask) are the zero level; pinned, it decodes
to exactly 0.0 and the rest of the design is the unpinned one (same cells).
"""

from __future__ import annotations

import numpy as np
import pytest

import codec
from codec.quantizers import scalar


def pruned(n=20000, kept=0.1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    # a mean away from 0 makes the zero cell's centroid differ from 0
    return np.where(rng.random(n) < kept, x + 0.3, 0.0)


DESIGNS = [
    lambda x, **k: scalar.design_ecsq(x, lam=0.05, method="dp", **k),
    lambda x, **k: scalar.design_ecsq(x, lam=0.05, method="clg", **k),
    lambda x, **k: scalar.design_kmeans(x, 5, method="dp", **k),
    lambda x, **k: scalar.design_kmeans(x, 5, method="lloyd", **k),
    lambda x, **k: scalar.design_for_distortion(x, 2e-3, **k),
    lambda x, **k: scalar.design_for_rate(x, 0.6, quantizer="kmeans", **k),
]


@pytest.mark.parametrize("design", DESIGNS)
def test_zero_level_is_exactly_zero_and_the_cells_are_unchanged(design):
    x = pruned()
    free, pinned = design(x), design(x, pin_zero=True)
    i = int(scalar.quantize(np.zeros(1), pinned)[0])
    assert pinned.levels[i] == 0.0
    assert np.all(np.diff(pinned.levels) >= 0)
    assert np.array_equal(free.thresholds, pinned.thresholds)
    others = np.arange(free.size) != i
    assert np.array_equal(free.levels[others], pinned.levels[others])
    moved = pinned.info["zero_level_moved_from"]
    assert moved == free.levels[i] != 0.0
    # the added error is the zero cell's elements times the square of the moved level
    n_cell = np.sum(scalar.quantize(x, free) == i)
    assert pinned.distortion - free.distortion == pytest.approx(n_cell * moved**2 / x.size)
    assert pinned.rate == free.rate


def test_all_positive_data_pins_the_lowest_cell():
    x = np.linspace(1.0, 2.0, 101)
    cb = scalar.design_kmeans(x, 3, method="dp", pin_zero=True)
    assert cb.levels[0] == 0.0 and np.all(np.diff(cb.levels) > 0)


def test_through_the_codec_pruned_weights_decode_to_zero():
    x = pruned().astype(np.float32)
    blob = codec.encode(x, quantizer="ecsq", distortion=2e-3, pin_zero=True)
    y = codec.decode(blob)
    assert np.all(y[x == 0] == 0.0)
    unpinned = codec.decode(codec.encode(x, quantizer="ecsq", distortion=2e-3))
    assert not np.any(unpinned[x == 0] == 0.0)  # the reason for the option


def test_bad_pin_zero_arguments():
    x = pruned(100)
    with pytest.raises(TypeError, match="pin_zero must be True or False"):
        scalar.design_ecsq(x, lam=0.1, pin_zero="yes")
    with pytest.raises(TypeError, match="pin_zero must be True or False"):
        codec.encode(x, quantizer="kmeans", levels=4, pin_zero=1)
    with pytest.raises(ValueError, match="applies to quantizer='ecsq' or 'kmeans'"):
        codec.encode(x, lattice="E8", pin_zero=True)
