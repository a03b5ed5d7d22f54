"""The helpers every designer shares (codec/quantizers/base.py): the variance behind the
default operating point, without overflow and over blocks, and the default scale.

Added for the survivors of ``make mutants`` in base.py (docs/testing.md): the block
loop, the overflow path and the var/256 default were reached by no test in the module's
selection (a slice bound ``a + block`` → ``a ^ block``, ``values / peak`` → ``values +
peak`` and ``var * 2**-8`` → ``var % 2**-8`` all passed).
"""

import numpy as np
import pytest

from codec.quantizers.base import (
    _VARIANCE_BLOCK,
    DEFAULT_RELATIVE_MSE,
    ZERO_INPUT_STEP,
    default_scale,
    finite_variance,
)


@pytest.mark.parametrize("extra", [1, _VARIANCE_BLOCK + 7])
def test_variance_over_several_blocks_equals_numpy(extra):
    # more than one block (and a partial last one), so every block of both passes counts;
    # an offset mean makes a skipped block change the result by far more than rounding
    x = np.random.default_rng(5).standard_normal(_VARIANCE_BLOCK + extra).astype(np.float32)
    x[_VARIANCE_BLOCK:] += 3.0
    ref = float(np.var(x.astype(np.float64)))
    assert finite_variance(x) == pytest.approx(ref, rel=1e-12)


def test_variance_where_numpy_overflows_is_scaled_back():
    # (±1.5e154)² overflows float64, the variance (1.125e308) does not
    x = np.array([1.5e154, -1.5e154, 0.0, 0.0])
    with np.errstate(over="ignore"):
        assert not np.isfinite(x.var())
    assert finite_variance(x) == pytest.approx(0.5 * 1.5e154 * 1.5e154, rel=1e-12)
    assert finite_variance(np.array([1e308, -1e308])) == np.finfo(np.float64).max
    assert finite_variance(np.zeros(0)) == 0.0


def test_default_scale_is_variance_over_256_or_a_step():
    x = 3.0 * np.random.default_rng(6).standard_normal(1000)
    got = default_scale(x)
    assert got.step is None
    assert got.mse == pytest.approx(np.var(x) * DEFAULT_RELATIVE_MSE, rel=1e-12)
    assert DEFAULT_RELATIVE_MSE == 1 / 256
    constant = default_scale(np.full(4, -3.0))
    assert constant.mse is None and constant.step == 3.0 / 256
    assert default_scale(np.zeros(5)).step == ZERO_INPUT_STEP
