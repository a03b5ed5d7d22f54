"""Memoryless scalar sources and their MSE rate–distortion functions.

All rates are in bits per sample, all distortions are mean squared errors,
differential entropies are in bits. The continuous sources are centred at 0
(a mean shift changes neither :math:`h` nor :math:`R(D)` under MSE).

- Gaussian :math:`\\mathcal N(0, \\sigma^2)`: :math:`h = \\tfrac12\\log_2(2\\pi e\\sigma^2)`,
  :math:`R(D) = \\max(0, \\tfrac12\\log_2(\\sigma^2/D))` in closed form.
- Laplacian (scale :math:`b`, variance :math:`2b^2`): :math:`h = \\log_2(2eb)`;
  :math:`R(D)` between the Shannon lower bound and the Gaussian bound,
  computed by Blahut–Arimoto.
- Uniform (width :math:`w`, variance :math:`w^2/12`): :math:`h = \\log_2 w`;
  same bounds and computation.
- Empirical (samples): sample variance, spacing estimate of :math:`h`; same.

References
----------
C. E. Shannon, "Coding theorems for a discrete source with a fidelity
criterion", IRE Nat. Conv. Rec. 4:142–163, 1959 (Gaussian :math:`R(D)`, the
lower bound). T. Berger, *Rate Distortion Theory*, Prentice-Hall, 1971,
section 4.3. T. M. Cover and J. A. Thomas, *Elements of Information Theory*,
2nd ed., Wiley, 2006, chapter 10.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.special import digamma, erfcinv

from ._validation import positive_int, positive_scalar, real_array, real_scalar
from .blahut_arimoto import RateDistortionCurve, blahut_arimoto_mse_curve
from .discrete import DiscreteSource, discretize_density

__all__ = [
    "EmpiricalSource",
    "GaussianSource",
    "LaplacianSource",
    "Source",
    "UniformSource",
    "differential_entropy_estimate",
    "gaussian_distortion_rate",
    "gaussian_rate_distortion",
    "shannon_lower_bound",
]

_TWO_PI_E = 2.0 * math.pi * math.e


def _scalar_or_array(out: np.ndarray, like) -> float | np.ndarray:
    return float(out) if np.ndim(like) == 0 else out


def _nonnegative(values, name: str) -> np.ndarray:
    arr = real_array(values, name)
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got minimum {arr.min()!r}")
    return arr


def gaussian_rate_distortion(distortion, variance=1.0):
    """Rate–distortion function of a Gaussian source under MSE, in bits.

    .. math:: R(D) = \\max\\left(0, \\tfrac12 \\log_2 \\frac{\\sigma^2}{D}\\right)

    By the maximum-entropy property this is also an upper bound on the MSE
    :math:`R(D)` of *any* source of variance :math:`\\sigma^2`.

    Parameters
    ----------
    distortion : float or array_like
        Mean squared error(s) :math:`D \\ge 0` (:math:`D = 0` gives ``inf``).
    variance : float, optional
        Source variance :math:`\\sigma^2 > 0` (default 1).

    Returns
    -------
    float or numpy.ndarray
        Rate(s) in bits per sample; a float for a scalar ``distortion``.

    Raises
    ------
    TypeError
        If an argument is not real-valued.
    ValueError
        If ``distortion < 0``, ``variance <= 0``, or a value is not finite.

    References
    ----------
    Shannon 1959; Cover & Thomas 2006, Theorem 10.3.2.

    Examples
    --------
    >>> from theory import gaussian_rate_distortion
    >>> gaussian_rate_distortion(0.25)
    1.0
    >>> gaussian_rate_distortion([0.25, 2.0], variance=1.0).tolist()
    [1.0, 0.0]
    """
    d = _nonnegative(distortion, "distortion")
    s2 = positive_scalar(variance, "variance")
    with np.errstate(divide="ignore"):
        out = np.maximum(0.0, 0.5 * np.log2(s2 / d))
    return _scalar_or_array(out, distortion)


def gaussian_distortion_rate(rate, variance=1.0):
    """Distortion–rate function of a Gaussian source under MSE.

    .. math:: D(R) = \\sigma^2\\, 2^{-2R}

    Parameters
    ----------
    rate : float or array_like
        Rate(s) in bits per sample, :math:`R \\ge 0`.
    variance : float, optional
        Source variance :math:`\\sigma^2 > 0` (default 1).

    Returns
    -------
    float or numpy.ndarray
        Mean squared error(s); a float for a scalar ``rate``.

    Raises
    ------
    TypeError
        If an argument is not real-valued.
    ValueError
        If ``rate < 0``, ``variance <= 0``, or a value is not finite.

    References
    ----------
    Shannon 1959; Cover & Thomas 2006, Theorem 10.3.2.

    Examples
    --------
    >>> from theory import gaussian_distortion_rate
    >>> gaussian_distortion_rate(1.0, variance=4.0)
    1.0
    """
    r = _nonnegative(rate, "rate")
    s2 = positive_scalar(variance, "variance")
    return _scalar_or_array(s2 * np.exp2(-2.0 * r), rate)


def shannon_lower_bound(h_bits, distortion):
    """Shannon lower bound on the MSE rate–distortion function, in bits.

    For any source with differential entropy :math:`h` (bits),

    .. math:: R(D) \\ge R_{\\mathrm{SLB}}(D) =
              \\max\\left(0,\\; h - \\tfrac12 \\log_2(2\\pi e D)\\right),

    with equality for the Gaussian (for :math:`D \\le \\sigma^2`) and
    asymptotic tightness as :math:`D \\to 0` for any source with finite
    :math:`h` (Linkov 1965; Linder & Zamir 1994).

    Parameters
    ----------
    h_bits : float
        Differential entropy of the source in bits (may be negative).
    distortion : float or array_like
        Mean squared error(s) :math:`D \\ge 0` (:math:`D = 0` gives ``inf``).

    Returns
    -------
    float or numpy.ndarray
        The bound in bits per sample, clipped at 0.

    Raises
    ------
    TypeError
        If an argument is not real-valued.
    ValueError
        If ``distortion < 0`` or a value is not finite.

    References
    ----------
    Shannon 1959; Berger 1971, section 4.3.1; T. Linder and R. Zamir, "On the
    asymptotic tightness of the Shannon lower bound", IEEE Trans. Inf. Theory
    40(6):2026–2031, 1994.

    Examples
    --------
    The SLB of a unit Gaussian equals its :math:`R(D)`:

    >>> import math
    >>> from theory import shannon_lower_bound
    >>> h = 0.5 * math.log2(2 * math.pi * math.e)
    >>> round(shannon_lower_bound(h, 0.25), 12)
    1.0
    """
    h = real_scalar(h_bits, "h_bits")
    d = _nonnegative(distortion, "distortion")
    with np.errstate(divide="ignore"):
        out = np.maximum(0.0, h - 0.5 * np.log2(_TWO_PI_E * d))
    return _scalar_or_array(out, distortion)


def differential_entropy_estimate(samples, *, window=None) -> float:
    """Differential entropy (bits) of a sample by bias-corrected m-spacings.

    Vasicek's m-spacing estimator with the boundary windows truncated and
    each term's bias removed by the exact expectation of a log uniform
    spacing. With sorted samples :math:`x_{(1)} \\le \\dots \\le x_{(n)}`,
    :math:`l_i = \\max(i-m, 1)`, :math:`u_i = \\min(i+m, n)`, :math:`k_i =
    u_i - l_i`:

    .. math::

        \\hat h = \\frac{1}{n \\ln 2} \\sum_{i=1}^{n}
            \\left[\\ln\\left(x_{(u_i)} - x_{(l_i)}\\right) - \\psi(k_i) + \\psi(n+1)\\right].

    Since :math:`U_{(u)} - U_{(l)} \\sim \\mathrm{Beta}(u-l, n-u+l+1)` for a
    uniform sample, :math:`E\\ln(U_{(u)} - U_{(l)}) = \\psi(u-l) - \\psi(n+1)`:
    the estimator is **exactly unbiased for uniform data**, for every
    :math:`n` and :math:`m` (plain Vasicek is biased low by about
    :math:`\\ln(2m) - \\psi(2m) + \\psi(n+1) - \\ln n` nats, plus a boundary
    term). For other densities the remaining bias comes from the density
    varying across a window of :math:`2m` order statistics: it is
    :math:`O((m/n)^2)` in smooth regions and concentrated in the tails.
    Measured with the default window at :math:`n = 10^4` (200 draws): bias
    +0.006 bit (Gaussian) and +0.008 bit (Laplacian), standard deviation
    0.010 and 0.014 bit; it shrinks roughly as :math:`n^{-1/2}`.

    Parameters
    ----------
    samples : array_like
        Real samples of a continuous distribution, any shape (flattened),
        at least 2 of them.
    window : int, optional
        The spacing half-width :math:`m`, ``1 <= m < n``. Default
        :math:`\\max(1, \\mathrm{round}(\\sqrt{n}/2))`.

    Returns
    -------
    float
        The estimate of :math:`h(X)` in bits.

    Raises
    ------
    TypeError
        If ``samples`` is not real-valued or ``window`` is not an integer.
    ValueError
        If there are fewer than 2 samples, a non-finite sample, ``window``
        out of range, or a zero spacing (more than ``2*window`` equal values
        in a row: an atom, e.g. pruned zeros or coarsely rounded data, whose
        differential entropy is :math:`-\\infty`; add a small jitter or use a
        discrete entropy instead).

    References
    ----------
    O. Vasicek, "A test for normality based on sample entropy", J. R. Stat.
    Soc. B 38(1):54–59, 1976. E. G. Learned-Miller and J. W. Fisher, "ICA
    using spacings estimates of entropy", JMLR 4:1271–1295, 2003.

    Examples
    --------
    >>> import numpy as np
    >>> from theory import differential_entropy_estimate
    >>> x = np.random.default_rng(0).uniform(0.0, 4.0, 10_000)   # h = 2 bits
    >>> round(differential_entropy_estimate(x), 1)
    2.0
    """
    x = np.sort(real_array(samples, "samples").ravel())
    n = x.size
    if n < 2:
        raise ValueError(f"need at least 2 samples to estimate an entropy, got {n}")
    if window is None:
        m = max(1, round(math.sqrt(n) / 2))
    else:
        m = positive_int(window, "window")
        if m >= n:
            raise ValueError(f"window must be < number of samples ({n}), got {m}")
    i = np.arange(n)
    lo = np.maximum(i - m, 0)
    hi = np.minimum(i + m, n - 1)
    spacing = x[hi] - x[lo]
    if np.any(spacing <= 0):
        raise ValueError(
            f"{int(np.sum(spacing <= 0))} zero spacings: the sample has an atom (more than "
            f"2*window={2 * m} equal values), so its differential entropy is -inf; add a "
            "small jitter or estimate a discrete entropy instead"
        )
    terms = np.log(spacing) - digamma(hi - lo) + digamma(n + 1)
    return float(np.mean(terms) / math.log(2.0))


class Source(abc.ABC):
    """A memoryless scalar source with MSE rate–distortion bounds.

    Subclasses provide :attr:`variance`, :attr:`differential_entropy_bits`
    and :meth:`discretize`; this base class turns them into the Shannon lower
    bound, the Gaussian upper bound and a Blahut–Arimoto :math:`R(D)` curve.
    """

    @property
    @abc.abstractmethod
    def variance(self) -> float:
        """Variance :math:`\\sigma^2` of the source."""

    @property
    @abc.abstractmethod
    def differential_entropy_bits(self) -> float:
        """Differential entropy :math:`h(X)` in bits."""

    @abc.abstractmethod
    def discretize(self, num_points: int = 513) -> DiscreteSource:
        """A fine discrete approximation of the source (see subclasses)."""

    def shannon_lower_bound(self, distortion):
        """Shannon lower bound :math:`\\max(0, h - \\tfrac12\\log_2(2\\pi e D))` in bits.

        Parameters
        ----------
        distortion : float or array_like
            Mean squared error(s), ``>= 0``.

        Returns
        -------
        float or numpy.ndarray
            See :func:`theory.shannon_lower_bound`.

        Raises
        ------
        TypeError, ValueError
            As :func:`theory.shannon_lower_bound`.

        Examples
        --------
        >>> from theory import LaplacianSource
        >>> round(LaplacianSource(1.0).shannon_lower_bound(0.1), 4)
        2.0566
        """
        return shannon_lower_bound(self.differential_entropy_bits, distortion)

    def gaussian_upper_bound(self, distortion):
        """Gaussian :math:`R(D)` at the source variance, an upper bound on :math:`R(D)`.

        .. math:: R(D) \\le \\max\\left(0, \\tfrac12 \\log_2 \\frac{\\sigma^2}{D}\\right)

        Parameters
        ----------
        distortion : float or array_like
            Mean squared error(s), ``>= 0``.

        Returns
        -------
        float or numpy.ndarray
            Rate(s) in bits.

        Raises
        ------
        TypeError, ValueError
            As :func:`theory.gaussian_rate_distortion`.

        Examples
        --------
        >>> from theory import UniformSource
        >>> round(UniformSource(width=12 ** 0.5).gaussian_upper_bound(0.25), 12)
        1.0
        """
        return gaussian_rate_distortion(distortion, self.variance)

    def rate_distortion_curve(
        self,
        *,
        num_slopes=12,
        min_distortion=None,
        max_distortion=None,
        num_points=513,
        tol=1e-7,
        max_iter=20_000,
    ) -> RateDistortionCurve:
        """MSE :math:`R(D)` curve by Blahut–Arimoto on :meth:`discretize`.

        Runs :func:`theory.blahut_arimoto_mse_curve` (Blahut–Arimoto with
        reproduction letters moved to their centroids) on the discretised
        source at slopes :math:`\\beta_k = 1/(2 D_k)` (natural-log units) for
        :math:`D_k` log-spaced from ``min_distortion`` to ``max_distortion``.
        The computed distortions equal the :math:`D_k` exactly for the
        Gaussian and approximately for other sources (the SLB slope is
        :math:`-1/(2D)` nats). Each point solves

        .. math:: \\min_{Q}\\; I(X;Y) + \\beta\\, E[(X-Y)^2]

        for the discretised source, which approximates the continuous
        :math:`R(D)` for :math:`D \\gg \\Delta^2` (:math:`\\Delta` the grid
        step; at :math:`D \\approx 8\\Delta^2` the 513-point Laplacian already
        sits about 7e-4 bit *below* the continuous SLB). Sources with a
        discrete optimal reproduction (uniform, Laplacian) need hundreds to a
        few thousand iterations per slope at small :math:`D`, i.e. seconds.

        Parameters
        ----------
        num_slopes : int, optional
            Number of points (default 12).
        min_distortion, max_distortion : float, optional
            Range of target distortions; defaults ``0.05 * variance`` and
            ``0.8 * variance``. Slopes near the zero-rate end converge slowly
            (see :mod:`theory.blahut_arimoto`).
        num_points : int, optional
            Grid size passed to :meth:`discretize` (default 513).
        tol : float, optional
            Per-point tolerance in bits (default 1e-7).
        max_iter : int, optional
            Per-point iteration limit (default 20 000).

        Returns
        -------
        RateDistortionCurve
            Points sorted by increasing distortion; rates in bits.

        Raises
        ------
        TypeError, ValueError
            On invalid arguments (e.g. ``min_distortion >= max_distortion``).
        ConvergenceError
            If a slope does not converge within ``max_iter``.

        References
        ----------
        Blahut 1972; Rose 1994; Berger 1971, section 4.5.

        Examples
        --------
        >>> import numpy as np
        >>> from theory import GaussianSource
        >>> curve = GaussianSource(1.0).rate_distortion_curve(num_slopes=3, num_points=257)
        >>> bool(np.allclose(curve.rate, 0.5 * np.log2(1.0 / curve.distortion), atol=1e-6))
        True
        """
        k = positive_int(num_slopes, "num_slopes")
        s2 = self.variance
        lo = (
            0.05 * s2
            if min_distortion is None
            else positive_scalar(min_distortion, "min_distortion")
        )
        hi = (
            0.8 * s2
            if max_distortion is None
            else positive_scalar(max_distortion, "max_distortion")
        )
        if k > 1 and not lo < hi:
            raise ValueError(f"need min_distortion < max_distortion, got {lo!r} and {hi!r}")
        targets = np.geomspace(lo, hi, k) if k > 1 else np.array([lo])
        src = self.discretize(num_points)
        return blahut_arimoto_mse_curve(
            src.points, src.pmf, 1.0 / (2.0 * targets), tol=tol, max_iter=max_iter
        )


def _symmetric_grid_source(pdf, half_width: float, num_points) -> DiscreteSource:
    n = positive_int(num_points, "num_points", minimum=3)
    return discretize_density(pdf, -half_width, half_width, n)


def _tail_mass(value) -> float:
    t = positive_scalar(value, "tail_mass")
    if t >= 1.0:
        raise ValueError(f"tail_mass must be in (0, 1), got {t!r}")
    return t


@dataclass(frozen=True)
class GaussianSource(Source):
    """Zero-mean Gaussian source :math:`\\mathcal N(0, \\sigma^2)`.

    Parameters
    ----------
    variance : float, optional
        :math:`\\sigma^2 > 0` (default 1).

    Raises
    ------
    TypeError, ValueError
        If ``variance`` is not a finite positive real number.

    Examples
    --------
    >>> from theory import GaussianSource
    >>> src = GaussianSource(variance=4.0)
    >>> src.rate_distortion(1.0), src.distortion_rate(1.0)
    (1.0, 1.0)
    >>> round(src.differential_entropy_bits, 6)
    3.047096
    """

    variance: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "variance", positive_scalar(self.variance, "variance"))

    @property
    def differential_entropy_bits(self) -> float:
        """:math:`h = \\tfrac12 \\log_2(2\\pi e \\sigma^2)` bits."""
        return 0.5 * math.log2(_TWO_PI_E * self.variance)

    def pdf(self, x):
        """Density :math:`e^{-x^2/(2\\sigma^2)} / \\sqrt{2\\pi\\sigma^2}` at ``x``."""
        x = np.asarray(x, dtype=np.float64)
        return np.exp(-0.5 * x * x / self.variance) / math.sqrt(2.0 * math.pi * self.variance)

    def rate_distortion(self, distortion):
        """Exact :math:`R(D) = \\max(0, \\tfrac12\\log_2(\\sigma^2/D))`; see
        :func:`theory.gaussian_rate_distortion`."""
        return gaussian_rate_distortion(distortion, self.variance)

    def distortion_rate(self, rate):
        """Exact :math:`D(R) = \\sigma^2 2^{-2R}`; see
        :func:`theory.gaussian_distortion_rate`."""
        return gaussian_distortion_rate(rate, self.variance)

    def discretize(self, num_points=513, *, tail_mass=1e-9) -> DiscreteSource:
        """Midpoint-rule grid on :math:`[-t, t]`, :math:`P(|X| > t) =` ``tail_mass``.

        .. math:: t = \\sigma\\sqrt{2}\\,\\mathrm{erfc}^{-1}(\\text{tail\\_mass})

        See :func:`theory.discretize_density`. Raises ValueError for
        ``num_points < 3`` or ``tail_mass`` outside (0, 1).

        Examples
        --------
        >>> from theory import GaussianSource
        >>> round(GaussianSource(2.0).discretize(401).variance, 6)
        2.0
        """
        t = math.sqrt(2.0 * self.variance) * float(erfcinv(_tail_mass(tail_mass)))
        return _symmetric_grid_source(self.pdf, t, num_points)


@dataclass(frozen=True)
class LaplacianSource(Source):
    """Zero-mean Laplacian source, density :math:`e^{-|x|/b}/(2b)`.

    Variance :math:`2b^2`, differential entropy :math:`\\log_2(2eb)` bits. Its
    MSE :math:`R(D)` has no closed form: it lies between the Shannon lower
    bound and the Gaussian :math:`R(D)` at variance :math:`2b^2` (a band
    :math:`\\tfrac12\\log_2(\\pi/e) \\approx 0.104` bit wide at small
    :math:`D`), and :meth:`rate_distortion_curve` computes it.

    Parameters
    ----------
    scale : float, optional
        :math:`b > 0` (default 1).

    Raises
    ------
    TypeError, ValueError
        If ``scale`` is not a finite positive real number.

    Examples
    --------
    >>> import math
    >>> from theory import LaplacianSource
    >>> src = LaplacianSource(scale=1.0)
    >>> src.variance, src.differential_entropy_bits == math.log2(2 * math.e)
    (2.0, True)
    """

    scale: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "scale", positive_scalar(self.scale, "scale"))

    @property
    def variance(self) -> float:
        """:math:`2b^2`."""
        return 2.0 * self.scale**2

    @property
    def differential_entropy_bits(self) -> float:
        """:math:`h = \\log_2(2eb)` bits."""
        return math.log2(2.0 * math.e * self.scale)

    def pdf(self, x):
        """Density :math:`e^{-|x|/b}/(2b)` at ``x``."""
        x = np.asarray(x, dtype=np.float64)
        return np.exp(-np.abs(x) / self.scale) / (2.0 * self.scale)

    def discretize(self, num_points=513, *, tail_mass=1e-9) -> DiscreteSource:
        """Midpoint-rule grid on :math:`[-t, t]`, :math:`t = b\\ln(1/\\text{tail\\_mass})`.

        Odd ``num_points`` put a grid point on the kink at 0. See
        :func:`theory.discretize_density`. Raises ValueError for
        ``num_points < 3`` or ``tail_mass`` outside (0, 1).

        Examples
        --------
        >>> from theory import LaplacianSource
        >>> round(LaplacianSource(1.0).discretize(2001).variance, 3)
        2.0
        """
        t = self.scale * math.log(1.0 / _tail_mass(tail_mass))
        return _symmetric_grid_source(self.pdf, t, num_points)


@dataclass(frozen=True)
class UniformSource(Source):
    """Uniform source on :math:`[-w/2, w/2]`.

    Variance :math:`w^2/12`, differential entropy :math:`\\log_2 w` bits.

    Parameters
    ----------
    width : float, optional
        :math:`w > 0` (default 1).

    Raises
    ------
    TypeError, ValueError
        If ``width`` is not a finite positive real number.

    Examples
    --------
    >>> from theory import UniformSource
    >>> src = UniformSource(width=4.0)
    >>> src.differential_entropy_bits, round(src.variance, 6)
    (2.0, 1.333333)
    """

    width: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "width", positive_scalar(self.width, "width"))

    @property
    def variance(self) -> float:
        """:math:`w^2/12`."""
        return self.width**2 / 12.0

    @property
    def differential_entropy_bits(self) -> float:
        """:math:`h = \\log_2 w` bits."""
        return math.log2(self.width)

    def pdf(self, x):
        """Density :math:`1/w` on :math:`[-w/2, w/2]`, 0 elsewhere."""
        x = np.asarray(x, dtype=np.float64)
        return np.where(np.abs(x) <= 0.5 * self.width, 1.0 / self.width, 0.0)

    def discretize(self, num_points=513) -> DiscreteSource:
        """Equal masses at the centres of ``num_points`` equal cells of the support.

        .. math:: x_i = -\\tfrac w2 + (i + \\tfrac12)\\tfrac wN, \\quad p_i = \\tfrac1N

        (variance :math:`\\tfrac{w^2}{12}(1 - N^{-2})`). Raises ValueError for
        ``num_points < 2``.

        Examples
        --------
        >>> from theory import UniformSource
        >>> UniformSource(2.0).discretize(4).points.tolist()
        [-0.75, -0.25, 0.25, 0.75]
        """
        n = positive_int(num_points, "num_points", minimum=2)
        cell = self.width / n
        points = -0.5 * self.width + (np.arange(n) + 0.5) * cell
        return DiscreteSource(points=points, pmf=np.full(n, 1.0 / n))


class EmpiricalSource(Source):
    """A source described by samples (e.g. the weights of a network layer).

    The variance is the sample variance (``ddof=0``); the differential
    entropy is :func:`differential_entropy_estimate` (bias-corrected
    m-spacings; see there for its bias), so :meth:`shannon_lower_bound` is an
    *estimate* of the SLB; :meth:`discretize` is the normalised histogram.

    Parameters
    ----------
    samples : array_like
        Real, finite samples, any shape (flattened; a private copy is kept).
        At least 2.
    entropy_window : int, optional
        The spacing half-width passed to :func:`differential_entropy_estimate`.

    Raises
    ------
    TypeError
        If ``samples`` is not real-valued.
    ValueError
        If there are fewer than 2 samples or a non-finite one.

    Examples
    --------
    >>> import numpy as np
    >>> from theory import EmpiricalSource
    >>> x = np.random.default_rng(0).normal(0.0, 1.0, 20_000)
    >>> src = EmpiricalSource(x)
    >>> round(src.variance, 1), round(src.differential_entropy_bits, 1)
    (1.0, 2.0)
    """

    def __init__(self, samples, *, entropy_window=None):
        x = np.array(real_array(samples, "samples").ravel(), dtype=np.float64)
        if x.size < 2:
            raise ValueError(f"need at least 2 samples, got {x.size}")
        x.setflags(write=False)
        self._samples = x
        self._entropy_window = entropy_window

    def __repr__(self) -> str:
        return f"EmpiricalSource(<{self._samples.size} samples>)"

    @property
    def samples(self) -> np.ndarray:
        """The (read-only, flattened) samples."""
        return self._samples

    @cached_property
    def variance(self) -> float:
        """Sample variance (``ddof=0``)."""
        return float(np.var(self._samples))

    @cached_property
    def differential_entropy_bits(self) -> float:
        """:func:`differential_entropy_estimate` of the samples, in bits."""
        return differential_entropy_estimate(self._samples, window=self._entropy_window)

    def discretize(self, num_points=513) -> DiscreteSource:
        """Histogram with ``num_points`` equal bins over the sample range.

        Letters are the bin centres, probabilities the bin frequencies (empty
        bins have probability 0). Raises ValueError for ``num_points < 2``.

        Examples
        --------
        >>> from theory import EmpiricalSource
        >>> src = EmpiricalSource([0.0, 0.0, 1.0, 3.0]).discretize(3)
        >>> src.points.tolist(), src.pmf.tolist()
        ([0.5, 1.5, 2.5], [0.5, 0.25, 0.25])
        """
        n = positive_int(num_points, "num_points", minimum=2)
        lo, hi = float(self._samples.min()), float(self._samples.max())
        if lo == hi:
            return DiscreteSource(points=np.array([lo]), pmf=np.array([1.0]))
        counts, edges = np.histogram(self._samples, bins=n, range=(lo, hi))
        points = 0.5 * (edges[:-1] + edges[1:])
        return DiscreteSource(points=points, pmf=counts / counts.sum())
