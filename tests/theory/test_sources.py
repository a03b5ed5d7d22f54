"""Sources: closed forms, bounds, entropy estimation, argument checks."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import (
    EmpiricalSource,
    GaussianSource,
    LaplacianSource,
    Source,
    UniformSource,
    differential_entropy_estimate,
    gaussian_distortion_rate,
    gaussian_rate_distortion,
    shannon_lower_bound,
)

TWO_PI_E = 2 * math.pi * math.e
variances = st.floats(1e-3, 1e3)
rates = st.floats(0.0, 20.0)


@given(rate=rates, variance=variances)
def test_gaussian_rd_and_dr_are_inverse(rate, variance):
    d = gaussian_distortion_rate(rate, variance)
    assert d == pytest.approx(variance * 2.0 ** (-2 * rate))
    assert gaussian_rate_distortion(d, variance) == pytest.approx(rate, abs=1e-9)


@given(variance=variances, ratio=st.floats(1.0, 100.0))
def test_gaussian_rd_is_zero_above_variance(variance, ratio):
    assert gaussian_rate_distortion(variance * ratio, variance) == 0.0


def test_gaussian_rd_vectorised_and_edges():
    out = gaussian_rate_distortion(np.array([0.25, 1.0, 4.0]))
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [1.0, 0.0, 0.0])
    assert gaussian_rate_distortion(0.0) == math.inf
    assert isinstance(gaussian_rate_distortion(0.5), float)
    assert shannon_lower_bound(1.0, 0.0) == math.inf


@given(variance=variances, d=st.floats(1e-6, 1e3))
def test_slb_of_gaussian_is_its_rd(variance, d):
    src = GaussianSource(variance)
    assert src.shannon_lower_bound(d) == pytest.approx(src.rate_distortion(d), abs=1e-9)


@pytest.mark.parametrize(
    "src", [LaplacianSource(0.7), UniformSource(3.0), GaussianSource(2.0)], ids=repr
)
@given(d=st.floats(1e-6, 10.0))
def test_slb_below_gaussian_bound(src, d):
    # h <= 0.5 log2(2 pi e var) (Gaussian maximises entropy), hence SLB <= Gaussian R(D).
    assert src.shannon_lower_bound(d) <= src.gaussian_upper_bound(d) + 1e-12


def test_closed_form_entropies_and_variances():
    assert GaussianSource(3.0).differential_entropy_bits == pytest.approx(
        0.5 * math.log2(TWO_PI_E * 3.0)
    )
    lap = LaplacianSource(0.5)
    assert lap.variance == 0.5
    assert lap.differential_entropy_bits == pytest.approx(math.log2(2 * math.e * 0.5))
    uni = UniformSource(8.0)
    assert uni.variance == pytest.approx(64 / 12)
    assert uni.differential_entropy_bits == 3.0
    assert isinstance(lap, Source)


@pytest.mark.parametrize(
    ("src", "rel"),
    # Midpoint rule: Gaussian error is the 1e-9 tail cut; O(step^2) at the Laplacian kink.
    [(GaussianSource(2.0), 1e-7), (LaplacianSource(0.5), 1e-3)],
    ids=["gaussian", "laplacian"],
)
def test_pdf_integrates_to_one_and_grid_matches_moments(src, rel):
    disc = src.discretize(1025)
    assert disc.pmf.sum() == pytest.approx(1.0)
    assert disc.variance == pytest.approx(src.variance, rel=rel)
    x = np.linspace(-40, 40, 400_001)
    assert np.trapezoid(src.pdf(x), x) == pytest.approx(1.0, abs=1e-6)


def test_uniform_discretisation_is_exact():
    disc = UniformSource(2.0).discretize(100)
    assert disc.variance == pytest.approx(4 / 12 * (1 - 1 / 100**2))
    assert UniformSource(2.0).pdf([0.0, 2.0]).tolist() == [0.5, 0.0]


@pytest.mark.parametrize(
    ("draw", "h"),
    [
        (lambda rng, n: rng.normal(0.0, 2.0, n), 0.5 * math.log2(TWO_PI_E * 4.0)),
        (lambda rng, n: rng.laplace(0.0, 0.3, n), math.log2(2 * math.e * 0.3)),
        (lambda rng, n: rng.uniform(-1.0, 3.0, n), 2.0),
    ],
    ids=["gaussian", "laplacian", "uniform"],
)
def test_entropy_estimate_accuracy(draw, h):
    x = draw(np.random.default_rng(7), 20_000)
    assert differential_entropy_estimate(x) == pytest.approx(h, abs=0.02)
    src = EmpiricalSource(x)
    assert src.differential_entropy_bits == pytest.approx(h, abs=0.02)
    assert src.shannon_lower_bound(0.01) == pytest.approx(
        shannon_lower_bound(src.differential_entropy_bits, 0.01)
    )


def test_entropy_estimate_unbiased_for_uniform_small_samples():
    # The digamma correction makes the estimator exactly unbiased for uniform data.
    rng = np.random.default_rng(3)
    est = np.array([differential_entropy_estimate(rng.uniform(size=20)) for _ in range(3000)])
    assert abs(est.mean()) < 4 * est.std() / math.sqrt(est.size)
    plain = []  # plain Vasicek (no correction) is visibly biased low at this size
    for _ in range(300):
        x = np.sort(rng.uniform(size=20))
        i = np.arange(20)
        sp = x[np.minimum(i + 2, 19)] - x[np.maximum(i - 2, 0)]
        plain.append(np.mean(np.log(20 / 4 * sp)) / math.log(2))
    assert np.mean(plain) < -0.1


def test_entropy_estimate_errors():
    with pytest.raises(ValueError, match="at least 2"):
        differential_entropy_estimate([1.0])
    with pytest.raises(ValueError, match="atom"):
        differential_entropy_estimate(np.r_[np.zeros(100), np.arange(1.0, 50.0)])
    with pytest.raises(ValueError, match="window"):
        differential_entropy_estimate(np.arange(5.0), window=5)
    with pytest.raises(TypeError, match="window"):
        differential_entropy_estimate(np.arange(5.0), window=1.5)
    with pytest.raises(TypeError, match="real numbers"):
        differential_entropy_estimate(np.arange(5) + 1j)
    with pytest.raises(ValueError, match="finite"):
        differential_entropy_estimate([0.0, np.nan, 1.0])


def test_empirical_source():
    x = np.random.default_rng(0).normal(size=(50, 40))
    src = EmpiricalSource(x)
    assert src.variance == pytest.approx(np.var(x))
    assert src.samples.shape == (2000,) and not src.samples.flags.writeable
    disc = src.discretize(33)
    assert disc.pmf.sum() == pytest.approx(1.0) and disc.points.size == 33
    assert EmpiricalSource([2.0, 2.0]).discretize(8).points.tolist() == [2.0]
    assert "2000 samples" in repr(src)
    with pytest.raises(ValueError, match="at least 2"):
        EmpiricalSource([1.0])


@pytest.mark.parametrize(
    ("factory", "exc"),
    [
        (lambda: GaussianSource(0.0), ValueError),
        (lambda: GaussianSource(-1.0), ValueError),
        (lambda: GaussianSource("1"), TypeError),
        (lambda: LaplacianSource(math.nan), ValueError),
        (lambda: UniformSource(True), TypeError),
        (lambda: gaussian_rate_distortion(-0.1), ValueError),
        (lambda: gaussian_rate_distortion(0.1, variance=0.0), ValueError),
        (lambda: gaussian_rate_distortion("0.1"), TypeError),
        (lambda: gaussian_distortion_rate(-1.0), ValueError),
        (lambda: shannon_lower_bound("h", 0.1), TypeError),
        (lambda: shannon_lower_bound(1.0, -0.1), ValueError),
        (lambda: GaussianSource().discretize(2), ValueError),
        (lambda: GaussianSource().discretize(11, tail_mass=1.5), ValueError),
        (lambda: LaplacianSource().discretize(11.0), TypeError),
        (lambda: UniformSource().discretize(1), ValueError),
        (lambda: GaussianSource().rate_distortion_curve(num_slopes=0), ValueError),
    ],
)
def test_bad_arguments(factory, exc):
    with pytest.raises(exc):
        factory()
