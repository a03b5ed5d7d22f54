"""Blahut–Arimoto against closed forms, convexity, bounds, and its error paths."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import (
    BlahutArimotoResult,
    ConvergenceError,
    DiscreteSource,
    GaussianSource,
    LaplacianSource,
    RateDistortionCurve,
    UniformSource,
    blahut_arimoto,
    blahut_arimoto_curve,
    blahut_arimoto_mse,
    blahut_arimoto_mse_curve,
    discretize_density,
    entropy_bits,
    mse_distortion_matrix,
)

LN2 = math.log(2.0)


def binary_entropy(p):
    return 0.0 if p in (0.0, 1.0) else -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


@pytest.fixture(scope="module")
def fine_gaussian():
    """Unit Gaussian on a 0.035-sigma grid over +-7 sigma."""
    return discretize_density(lambda x: np.exp(-0.5 * x * x), -7.0, 7.0, 401)


@pytest.mark.parametrize("beta", [0.8, 2.0, 10.0])
def test_blahut_arimoto_matches_gaussian_closed_form(fine_gaussian, beta):
    src = fine_gaussian
    res = blahut_arimoto(src.pmf, src.distortion_matrix(), beta)
    closed = 0.5 * math.log2(src.variance / res.distortion)
    assert abs(res.rate - closed) < 1e-3  # the requirement; in fact ~1e-8
    assert abs(res.rate - closed) < 1e-6
    assert res.distortion == pytest.approx(1.0 / (2.0 * beta), rel=1e-3)
    assert res.reproduction_pmf.sum() == pytest.approx(1.0)
    assert res.reproduction_points is None


@pytest.mark.parametrize("beta", [0.8, 2.0, 10.0])
def test_mse_variant_matches_gaussian_closed_form(fine_gaussian, beta):
    src = fine_gaussian
    res = blahut_arimoto_mse(src.points, src.pmf, beta)
    assert abs(res.rate - 0.5 * math.log2(src.variance / res.distortion)) < 1e-6
    assert res.reproduction_points.shape == res.reproduction_pmf.shape


@given(p=st.floats(0.05, 0.5), beta=st.floats(0.2, 8.0))
def test_bernoulli_hamming_closed_form(p, beta):
    # Bernoulli(p) source, Hamming distortion: R(D) = h(p) - h(D) for D < p <= 1/2.
    res = blahut_arimoto([1 - p, p], [[0.0, 1.0], [1.0, 0.0]], beta)
    d = res.distortion
    expected = max(binary_entropy(p) - binary_entropy(d), 0.0) if d < p else 0.0
    assert res.rate == pytest.approx(expected, abs=1e-6)
    d_beta = 1.0 / (1.0 + math.exp(beta))  # slope -log((1-D)/D) nats equals -beta here
    if d_beta < p - 0.01:  # away from the critical slope, where convergence is sublinear
        assert d == pytest.approx(d_beta, rel=1e-3, abs=1e-9)


@given(
    k=st.integers(1, 6),
    m=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    beta=st.floats(0.05, 20.0),
)
def test_random_problem_invariants(k, m, seed, beta):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k))
    d = rng.uniform(0.0, 3.0, size=(k, m))
    res = blahut_arimoto(p, d, beta, tol=1e-8, max_iter=100_000)
    assert isinstance(res, BlahutArimotoResult)
    assert -1e-12 <= res.rate <= entropy_bits(p) + 1e-9
    d_min = float(p @ d.min(axis=1))
    d_max = float((p @ d).min())  # zero-rate distortion
    assert d_min - 1e-9 <= res.distortion <= d.max() + 1e-9
    # A point with rate > 0 beats the best zero-rate reproduction.
    if res.rate > 1e-6:
        assert res.distortion <= d_max + 1e-9
    assert res.reproduction_pmf.shape == (m,)
    assert res.reproduction_pmf.sum() == pytest.approx(1.0)


def assert_convex_nonincreasing(curve: RateDistortionCurve, slack: float):
    d, r = curve.distortion, curve.rate
    assert np.all(np.diff(d) > 0)
    assert np.all(np.diff(r) <= slack)
    chords = np.diff(r) / np.diff(d)
    # Convex: chord slopes increase; each lies between the tangent slopes
    # -beta/ln2 of its end points (to the per-point tolerance).
    assert np.all(np.diff(chords) >= -slack / np.diff(d).min())
    tangents = -curve.beta / LN2
    widths = np.diff(d)
    assert np.all(chords >= tangents[:-1] - 2 * slack / widths)
    assert np.all(chords <= tangents[1:] + 2 * slack / widths)


def test_gaussian_curve_convex_nonincreasing_and_exact(fine_gaussian):
    src = fine_gaussian
    betas = 1.0 / (2.0 * np.geomspace(0.02, 0.8, 10))
    curve = blahut_arimoto_curve(src.pmf, src.distortion_matrix(), betas)
    assert_convex_nonincreasing(curve, slack=1e-8)
    closed = 0.5 * np.log2(src.variance / curve.distortion)
    np.testing.assert_allclose(curve.rate, closed, atol=1e-6)
    assert np.all(np.diff(curve.beta) < 0)


@pytest.fixture(scope="module")
def laplacian_curve():
    src = LaplacianSource(scale=1.0 / math.sqrt(2.0))  # unit variance
    curve = src.rate_distortion_curve(
        num_slopes=6, min_distortion=0.1, max_distortion=0.7, num_points=257, tol=1e-6
    )
    return src, src.discretize(257), curve


@pytest.fixture(scope="module")
def uniform_curve():
    src = UniformSource(width=math.sqrt(12.0))  # unit variance
    curve = src.rate_distortion_curve(
        num_slopes=6, min_distortion=0.1, max_distortion=0.7, num_points=257, tol=1e-6
    )
    return src, src.discretize(257), curve


@pytest.mark.parametrize("which", ["laplacian_curve", "uniform_curve"])
def test_curves_convex_nonincreasing(which, request):
    _, _, curve = request.getfixturevalue(which)
    assert_convex_nonincreasing(curve, slack=1e-5)


@pytest.mark.parametrize("which", ["laplacian_curve", "uniform_curve"])
def test_curves_between_discrete_slb_and_gaussian_bound(which, request):
    src, disc, curve = request.getfixturevalue(which)
    d = curve.distortion
    # Upper bound: Gaussian R(D) at the variance of the discrete source (max entropy).
    gaussian = 0.5 * np.log2(disc.variance / d)
    assert np.all(curve.rate <= gaussian + 1e-9)
    # Rigorous lower bound for the discrete source: X_d + U (U uniform on a grid
    # cell) has entropy H(p) + log2(step) and distortion D + step^2 / 12.
    step = float(disc.points[1] - disc.points[0])
    h_eff = entropy_bits(disc.pmf) + math.log2(step)
    lower = h_eff - 0.5 * np.log2(2 * math.pi * math.e * (d + step**2 / 12))
    assert np.all(curve.rate >= lower - 1e-9)


def test_laplacian_slb_below_ba_and_gaussian_above(laplacian_curve):
    src, _, curve = laplacian_curve
    d, r = curve.distortion, curve.rate
    # Continuous SLB <= R(D) <= Gaussian R(D) at equal variance, at every D where
    # the grid error (O(step^2), about 2e-3 bit here at D = 0.1) is below the gap.
    far = d >= 0.3
    assert far.sum() >= 3
    assert np.all(src.shannon_lower_bound(d[far]) <= r[far])
    assert np.all(r <= src.gaussian_upper_bound(d))
    # The known band: at small D the Laplacian sits within 0.5*log2(pi/e) of the Gaussian.
    band = src.gaussian_upper_bound(d) - src.shannon_lower_bound(d)
    np.testing.assert_allclose(band[d < src.variance], 0.5 * math.log2(math.pi / math.e))


def test_finer_laplacian_grid_closes_on_slb():
    # Same slope on 129 vs 513 points: the discretisation error shrinks like step^2.
    src = LaplacianSource(scale=1.0 / math.sqrt(2.0))
    gaps = []
    for n in (129, 513):
        disc = src.discretize(n)
        res = blahut_arimoto_mse(disc.points, disc.pmf, 1.0, tol=1e-6)
        gaps.append(res.rate - src.shannon_lower_bound(res.distortion))
    assert gaps[1] > gaps[0]
    assert gaps[1] > 0


def test_mse_variant_not_worse_than_grid():
    src = UniformSource(2.0).discretize(65)
    beta = 3.0
    grid = blahut_arimoto(src.pmf, src.distortion_matrix(), beta, tol=1e-8, max_iter=200_000)
    moving = blahut_arimoto_mse(src.points, src.pmf, beta, tol=1e-8, max_iter=200_000)

    def lagrangian(r):
        return r.rate + beta * r.distortion / LN2

    assert lagrangian(moving) <= lagrangian(grid) + 1e-6


def test_curve_order_and_rate_at(fine_gaussian):
    src = fine_gaussian
    curve = blahut_arimoto_curve(src.pmf, src.distortion_matrix(), [8.0, 1.0, 2.0, 2.0])
    assert np.all(np.diff(curve.distortion) >= 0)
    assert curve.iterations.dtype == np.int64
    mid = 0.5 * (curve.distortion[0] + curve.distortion[-1])
    exact = 0.5 * math.log2(src.variance / mid)
    assert curve.rate_at(mid) >= exact - 1e-9  # chord above a convex curve
    assert curve.rate_at(mid) - exact < 0.1
    with pytest.raises(ValueError, match="computed range"):
        curve.rate_at(10.0)


def test_mse_curve_matches_closed_form():
    src = GaussianSource(2.0).discretize(301)
    curve = blahut_arimoto_mse_curve(src.points, src.pmf, [0.5, 1.0, 4.0])
    np.testing.assert_allclose(
        curve.rate, 0.5 * np.log2(src.variance / curve.distortion), atol=1e-6
    )


def test_nonconvergence_raises_with_last_iterate(fine_gaussian):
    src = fine_gaussian
    d = src.distortion_matrix()
    with pytest.raises(ConvergenceError, match="max_iter=3") as info:
        blahut_arimoto(src.pmf, d, 2.0, max_iter=3)
    assert isinstance(info.value, RuntimeError)
    last = info.value.result
    assert isinstance(last, BlahutArimotoResult) and last.iterations == 3
    # Resuming from the last iterate converges.
    res = blahut_arimoto(src.pmf, d, 2.0, initial_pmf=last.reproduction_pmf)
    assert abs(res.rate - 0.5 * math.log2(src.variance / res.distortion)) < 1e-6
    with pytest.raises(ConvergenceError):
        blahut_arimoto_mse(src.points, src.pmf, 2.0, max_iter=2)
    with pytest.raises(ConvergenceError):
        blahut_arimoto_curve(src.pmf, d, [1.0, 2.0], max_iter=2)
    with pytest.raises(ConvergenceError):
        GaussianSource().rate_distortion_curve(num_slopes=2, num_points=65, max_iter=1)


P = [0.5, 0.5]
D = [[0.0, 1.0], [1.0, 0.0]]


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"p": [0.5, 0.6]}, ValueError, "sum to 1"),
        ({"p": [1.5, -0.5]}, ValueError, "non-negative"),
        ({"p": [[0.5, 0.5]]}, ValueError, "1-dimensional"),
        ({"p": ["a", "b"]}, TypeError, "real numbers"),
        ({"d": [[0.0, 1.0]]}, ValueError, "shape"),
        ({"d": [[0.0, np.nan], [1.0, 0.0]]}, ValueError, "finite"),
        ({"d": [0.0, 1.0]}, ValueError, "2-dimensional"),
        ({"beta": 0.0}, ValueError, "beta must be > 0"),
        ({"beta": -1.0}, ValueError, "beta must be > 0"),
        ({"beta": math.inf}, ValueError, "finite"),
        ({"beta": "2"}, TypeError, "beta must be a real number"),
        ({"tol": 0.0}, ValueError, "tol"),
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"max_iter": 2.5}, TypeError, "max_iter"),
        ({"initial_pmf": [1.0]}, ValueError, "one entry per reproduction letter"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    args = {"p": P, "d": D, "beta": 1.0}
    args.update(kwargs)
    p, d, beta = args.pop("p"), args.pop("d"), args.pop("beta")
    with pytest.raises(exc, match=match):
        blahut_arimoto(p, d, beta, **args)


def test_bad_curve_and_helper_arguments():
    with pytest.raises(ValueError, match="at least one slope"):
        blahut_arimoto_curve(P, D, [])
    with pytest.raises(ValueError, match="every beta"):
        blahut_arimoto_curve(P, D, [1.0, 0.0])
    with pytest.raises(ValueError, match="same length"):
        blahut_arimoto_mse([0.0, 1.0, 2.0], P, 1.0)
    with pytest.raises(TypeError, match="callable"):
        discretize_density("pdf", 0.0, 1.0, 10)
    with pytest.raises(ValueError, match="lower < upper"):
        discretize_density(np.ones_like, 1.0, 0.0, 10)
    with pytest.raises(ValueError, match="num_points"):
        discretize_density(np.ones_like, 0.0, 1.0, 1)
    with pytest.raises(ValueError, match="negative"):
        discretize_density(lambda x: -np.ones_like(x), 0.0, 1.0, 5)
    with pytest.raises(ValueError, match="zero on the whole grid"):
        discretize_density(np.zeros_like, 0.0, 1.0, 5)
    with pytest.raises(ValueError, match="min_distortion < max_distortion"):
        GaussianSource().rate_distortion_curve(min_distortion=0.5, max_distortion=0.1)


def test_distortion_matrix_helpers():
    src = DiscreteSource(np.array([0.0, 2.0]), np.array([0.5, 0.5]))
    np.testing.assert_array_equal(src.distortion_matrix([1.0]), [[1.0], [1.0]])
    np.testing.assert_array_equal(mse_distortion_matrix([0.0], [0.0, 3.0]), [[0.0, 9.0]])
    assert src.mean == 1.0 and src.variance == 1.0


def test_zero_probability_letters_are_ignored():
    res_full = blahut_arimoto([0.5, 0.0, 0.5], [[0, 1], [5, 5], [1, 0]], 2.0)
    res = blahut_arimoto([0.5, 0.5], D, 2.0)
    assert res_full.rate == pytest.approx(res.rate, abs=1e-9)
    assert res_full.distortion == pytest.approx(res.distortion, abs=1e-9)
