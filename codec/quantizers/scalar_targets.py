"""Scalar quantizer designs for a target rate or distortion: a search over the
one-parameter family of each design (ECSQ's λ, k-means' number of levels, the uniform
step). Exported by :mod:`codec.quantizers.scalar`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .scalar_codebook import (
    _COARSE_BINS,
    _MAX_UNIFORM_LEVELS,
    _MIN_BINS,
    DEFAULT_MAX_BINS,
    DEFAULT_MAX_LEVELS,
    ScalarCodebook,
    _check_choice,
    _check_int,
    _check_real,
    _Data,
    _prepare,
)
from .scalar_design import (
    _design_ecsq_prepared,
    _design_kmeans_prepared,
    _design_uniform_prepared,
)

# ---------------------------------------------------------------------------
# Rate and distortion targets
# ---------------------------------------------------------------------------

_QUANTIZERS = ("ecsq", "kmeans", "uniform")
_DEFAULT_METHOD = {"ecsq": "dp", "kmeans": "dp", "uniform": None}
_METHODS = {"ecsq": ("dp", "clg"), "kmeans": ("dp", "lloyd"), "uniform": (None,)}


def _variance(d: _Data) -> float:
    m1 = d.Ps1[-1] / d.W
    return max(float(d.Ps2[-1] / d.W - m1 * m1), 0.0) * d.scale * d.scale


def _search_log(
    design, p0, p_min, p_max, key, target, up_tol, down_tol, increasing, factor=4.0, max_evals=200
):
    """Search a positive parameter ``p`` (log scale) so that ``key(design(p))`` nears ``target``.

    ``key`` is assumed monotone in ``p`` (increasing or not). A design is
    *accepted* if its key is at most ``target + up_tol``; the search stops at
    an accepted key of at least ``target - down_tol``. Returns
    ``(best accepted codebook or None, key at the end of the range where the
    key is largest, or None if that end was not reached)``.
    """
    toward_up = factor if increasing else 1.0 / factor  # multiplies p to raise the key
    best = None
    lo_p = hi_p = None  # lo_p: accepted side (key too low or ok); hi_p: key too high
    p = min(max(p0, p_min), p_max)
    key_at_top = None
    for _ in range(max_evals):
        cb = design(p)
        k = key(cb)
        if k <= target + up_tol:
            if best is None or k > key(best):
                best = cb
            if k >= target - down_tol:
                return best, k
            lo_p = p
        else:
            hi_p = p
        if lo_p is not None and hi_p is not None:
            if max(lo_p, hi_p) / min(lo_p, hi_p) < 1.0 + 1e-9:
                break
            p = math.sqrt(lo_p * hi_p)
        elif hi_p is None:  # key still too low: move towards larger keys
            nxt = p * toward_up
            if not p_min <= nxt <= p_max:
                key_at_top = k
                nxt = min(max(nxt, p_min), p_max)
                if nxt == p:
                    break
            p = nxt
        else:  # key too high: move towards smaller keys
            nxt = p / toward_up
            nxt = min(max(nxt, p_min), p_max)
            if nxt == p:
                break
            p = nxt
    return best, key_at_top


def _search_levels(design, k_max, key, target, up_tol, increasing):
    """Largest (key increasing in K) or smallest (decreasing) ``K`` with key <= target + up_tol.

    Binary search over ``1..k_max`` assuming a monotone key (exact for the DP's
    distortion). Returns ``(codebook or None, codebook at k_max)``.
    """
    cache: dict[int, ScalarCodebook] = {}

    def get(k: int) -> ScalarCodebook:
        if k not in cache:
            cache[k] = design(k)
        return cache[k]

    top = get(k_max)
    ok = lambda k: key(get(k)) <= target + up_tol  # noqa: E731
    if increasing:  # largest ok K in [1, k_max]
        if ok(k_max):
            return top, top
        if not ok(1):
            return None, top
        lo, hi = 1, k_max  # ok(lo), not ok(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        return get(lo), top
    if not ok(k_max):
        return None, top
    if ok(1):
        return get(1), top
    lo, hi = 1, k_max  # not ok(lo), ok(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return get(hi), top


def _target_setup(x, quantizer, method, weights, max_levels, max_bins, pin_zero=False):
    _check_choice(quantizer, "quantizer", _QUANTIZERS)
    if method is None:
        method = _DEFAULT_METHOD[quantizer]
    if method not in _METHODS[quantizer]:
        allowed = ", ".join(repr(m) for m in _METHODS[quantizer])
        raise ValueError(
            f"method for quantizer={quantizer!r} must be one of {allowed}; got {method!r}"
        )
    K = _check_int(max_levels, "max_levels", 1)
    max_bins = _check_int(max_bins, "max_bins", _MIN_BINS)
    d = _prepare(x, weights, pin_zero)
    return d, method, K, max_bins


def _designer(d: _Data, quantizer: str, method, K: int, max_bins: int, dead_zone: float, seed: Any):
    """A one-parameter family: lam -> ECSQ, levels -> k-means, step -> uniform."""
    if quantizer == "ecsq":
        return lambda lam: _design_ecsq_prepared(d, lam, method, K, 1000, 1e-9, max_bins)
    if quantizer == "kmeans":
        return lambda k: _design_kmeans_prepared(
            d, k, method, np.random.default_rng(seed), 1000, 1e-9, max_bins
        )
    return lambda step: _design_uniform_prepared(d, step, dead_zone, "midpoint")


def _search_lambda(d, method, K, max_bins, lam0, var, key, target, up_tol, down_tol, increasing):
    """:func:`_search_log` over λ; for the DP first on a coarse binning, then refined."""
    lo, hi = var * 1e-12, var * 1e9

    def design(bins):
        return lambda lam: _design_ecsq_prepared(d, lam, method, K, 1000, 1e-9, bins)

    coarse = min(max_bins, _COARSE_BINS)
    if method == "dp" and d.m > coarse and max_bins > coarse:
        first, top = _search_log(
            design(coarse), lam0, lo, hi, key, target, up_tol, down_tol, increasing
        )
        if first is not None:
            best, top = _search_log(
                design(max_bins),
                first.lam,
                lo,
                hi,
                key,
                target,
                up_tol,
                down_tol,
                increasing,
                factor=1.2,
                max_evals=10,
            )
            if best is not None:
                return best, top
    return _search_log(design(max_bins), lam0, lo, hi, key, target, up_tol, down_tol, increasing)


def _uniform_step_range(d: _Data, dead_zone: float) -> tuple[float, float]:
    span = float(d.v[-1] - d.v[0])
    biggest = max(abs(float(d.v[0])), abs(float(d.v[-1])))
    p_max = max(4.0 * biggest / (1.0 + dead_zone), 1e-300)
    p_min = max(span / (_MAX_UNIFORM_LEVELS - 8), p_max * 1e-15)
    return p_min, p_max


def design_for_rate(
    x: Any,
    rate: float,
    *,
    quantizer: str = "ecsq",
    method: str | None = None,
    weights: Any = None,
    max_levels: int = DEFAULT_MAX_LEVELS,
    dead_zone: float = 0.0,
    seed: Any = 0,
    rate_tol: float = 0.01,
    max_bins: int = DEFAULT_MAX_BINS,
    pin_zero: bool = False,
) -> ScalarCodebook:
    """Design a quantizer whose index entropy on ``x`` is ``rate`` bits per element.

    .. math:: \\min D \\quad\\text{subject to}\\quad
              R = -\\sum_i \\frac{n_i}{N}\\log_2\\frac{n_i}{N} \\le \\mathrm{rate}

    searched along the quantizer's one-parameter family: λ for ECSQ
    (bisection on log λ; R is non-increasing in λ for the exact DP), the
    number of levels for k-means (binary search), the step for uniform
    (bisection on log step). The result is the design with the largest
    ``R <= rate + rate_tol`` found; the search stops once
    ``|R - rate| <= rate_tol``. ``R`` is the empirical entropy of the
    indices — an ideal coder's rate; the codec re-targets on coded bytes.

    Parameters
    ----------
    x : array_like of float
        Design data.
    rate : float
        Target entropy, bits per element, >= 0.
    quantizer : {"ecsq", "kmeans", "uniform"}
    method : str, optional
        ``"dp"`` (default) or ``"clg"`` for ECSQ; ``"dp"`` (default) or
        ``"lloyd"`` for k-means; unused (None) for uniform.
    weights : array_like, optional
        Importance weights (distortion only).
    max_levels : int, default 256
        Most levels for ECSQ and k-means.
    dead_zone : float, default 0
        Uniform only: zero-cell widening, in steps.
    seed : int, default 0
        k-means with Lloyd only (k-means++ seeding).
    rate_tol : float, default 0.01
        Accepted distance to ``rate``, bits.
    max_bins : int, default 65536
        Most bins for the DPs.
    pin_zero : bool, default False
        ECSQ and k-means: the level of the cell holding 0 is exactly 0 in
        every design searched (see :func:`design_ecsq`); a uniform quantizer's
        zero cell has level 0 already.

    Returns
    -------
    ScalarCodebook
        ``info["target_rate"]`` records the target. A warning is issued if
        no design came within ``rate_tol`` (too few distinct values).

    Raises
    ------
    ValueError
        If ``rate`` is negative or cannot be reached (for example more than
        ``log2(max_levels)`` bits, or more than the data's distinct values
        allow), or bad arguments.

    Examples
    --------
    >>> x = np.random.default_rng(1).laplace(size=5000)
    >>> cb = design_for_rate(x, 2.0, quantizer="ecsq", method="clg")
    >>> abs(cb.rate - 2.0) <= 0.01
    True
    """
    rate = _check_real(rate, "rate")
    rate_tol = _check_real(rate_tol, "rate_tol", positive=True)
    dead_zone = _check_real(dead_zone, "dead_zone")
    d, method, K, max_bins = _target_setup(
        x, quantizer, method, weights, max_levels, max_bins, pin_zero
    )
    design = _designer(d, quantizer, method, K, max_bins, dead_zone, seed)
    key = lambda cb: cb.rate  # noqa: E731
    var = _variance(d)
    if quantizer in ("ecsq", "kmeans"):
        ceiling = math.log2(min(K, d.m))
        if rate > ceiling + rate_tol:
            raise ValueError(
                f"rate={rate:g} bits is unreachable: {min(K, d.m)} levels carry at most "
                f"{ceiling:.4g} bits; raise max_levels (now {K})"
                + (" — x has only that many distinct values" if d.m <= K else "")
            )
    if quantizer == "kmeans":
        best, top = _search_levels(design, min(K, d.m), key, rate, rate_tol, increasing=True)
        if best is None or (rate - top.rate > rate_tol and best is top):
            raise ValueError(
                f"rate={rate:g} bits is unreachable for k-means with max_levels={K}: "
                f"its index entropy is at most {top.rate:.4g} bits; raise max_levels"
            )
    elif quantizer == "ecsq":
        if var == 0.0:
            best, top_key = design(1.0), 0.0
        else:
            lam0 = 1.97 * var * 4.0 ** (-rate)
            best, top_key = _search_lambda(
                d, method, K, max_bins, lam0, var, key, rate, rate_tol, rate_tol, increasing=False
            )
        if best is None or (top_key is not None and top_key < rate - rate_tol):
            raise ValueError(
                f"rate={rate:g} bits is unreachable for ECSQ with max_levels={K}: "
                f"the smallest λ tried gives {_fmt(top_key)} bits; raise max_levels"
            )
    else:
        p_min, p_max = _uniform_step_range(d, dead_zone)
        step0 = math.sqrt(12.0 * max(var, 1e-300)) * 2.0 ** (-rate) * 1.2
        best, top_key = _search_log(
            design, step0, p_min, p_max, key, rate, rate_tol, rate_tol, increasing=False
        )
        if best is None or (top_key is not None and top_key < rate - rate_tol):
            raise ValueError(
                f"rate={rate:g} bits is unreachable for a uniform quantizer on this data: "
                f"the finest step allowed gives {_fmt(top_key)} bits"
            )
    if abs(best.rate - rate) > rate_tol:
        warnings.warn(
            f"design_for_rate: no design within {rate_tol:g} bits of rate={rate:g}; returning "
            f"the closest one below, at {best.rate:.4f} bits (an exact Lagrangian design only "
            "reaches the convex hull of the operational rate-distortion curve, which has gaps "
            "on small data; k-means/uniform move in discrete steps)",
            stacklevel=2,
        )
    return _with_info(best, target_rate=rate)


def design_ecsq_for_rate(
    x: Any, rate: float, *, method: str = "dp", **kwargs: Any
) -> ScalarCodebook:
    """ECSQ with index entropy ``rate``: :func:`design_for_rate` with ``quantizer="ecsq"``.

    .. math:: \\min_{\\lambda}\\, |R(\\lambda) - \\mathrm{rate}|, \\qquad
              (D, R)(\\lambda) = \\arg\\min D + \\lambda R

    Parameters
    ----------
    x : array_like of float
        Design data.
    rate : float
        Target index entropy, bits per element.
    method : {"dp", "clg"}
        Exact DP (default) or the CLG iteration.
    **kwargs
        ``weights``, ``max_levels``, ``rate_tol``, ``max_bins`` as in
        :func:`design_for_rate`.

    Returns
    -------
    ScalarCodebook

    Raises
    ------
    ValueError
        Unreachable rate or bad arguments.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(10000)
    >>> cb = design_ecsq_for_rate(x, 3.0)
    >>> round(cb.rate, 1), cb.method
    (3.0, 'ecsq-dp')
    """
    return design_for_rate(x, rate, quantizer="ecsq", method=method, **kwargs)


def design_for_distortion(
    x: Any,
    mse: float,
    *,
    quantizer: str = "ecsq",
    method: str | None = None,
    weights: Any = None,
    max_levels: int = DEFAULT_MAX_LEVELS,
    dead_zone: float = 0.0,
    seed: Any = 0,
    mse_rtol: float = 0.01,
    max_bins: int = DEFAULT_MAX_BINS,
    pin_zero: bool = False,
) -> ScalarCodebook:
    """Design the lowest-rate quantizer of a family whose (weighted) MSE is at most ``mse``.

    .. math:: \\min R \\quad\\text{subject to}\\quad
              D = \\frac{\\sum_j h_j (x_j - \\hat x_j)^2}{\\sum_j h_j} \\le \\mathrm{mse}

    ECSQ: the largest λ (log bisection) with ``D <= mse``; k-means: the
    fewest levels; uniform: the largest step. The search stops once
    ``mse·(1 - mse_rtol) <= D <= mse``.

    Parameters
    ----------
    x : array_like of float
        Design data.
    mse : float
        Target (weighted) mean squared error, > 0.
    quantizer, method, weights, max_levels, dead_zone, seed, max_bins, pin_zero
        As in :func:`design_for_rate`.
    mse_rtol : float, default 0.01
        Relative slack below ``mse`` at which the search may stop.

    Returns
    -------
    ScalarCodebook
        With ``distortion <= mse``; ``info["target_mse"]`` records the target.

    Raises
    ------
    ValueError
        If no design of the family reaches ``mse`` (e.g. k-means with
        ``max_levels`` levels stays above it), or bad arguments.

    Examples
    --------
    >>> x = np.random.default_rng(2).standard_normal(5000)
    >>> cb = design_for_distortion(x, 1e-2, quantizer="kmeans")
    >>> cb.distortion <= 1e-2, cb.size
    (True, 16)
    """
    mse = _check_real(mse, "mse", positive=True)
    mse_rtol = _check_real(mse_rtol, "mse_rtol", positive=True)
    dead_zone = _check_real(dead_zone, "dead_zone")
    d, method, K, max_bins = _target_setup(
        x, quantizer, method, weights, max_levels, max_bins, pin_zero
    )
    design = _designer(d, quantizer, method, K, max_bins, dead_zone, seed)
    key = lambda cb: cb.distortion  # noqa: E731
    var = _variance(d)
    down = mse * mse_rtol
    if quantizer == "kmeans":
        best, top = _search_levels(design, min(K, d.m), key, mse, 0.0, increasing=False)
        if best is None:
            raise ValueError(
                f"mse={mse:g} is unreachable for k-means with max_levels={K}: "
                f"the best reaches {top.distortion:.4g}; raise max_levels"
            )
    elif quantizer == "ecsq":
        if var <= mse:
            best = design(var * 1e9)  # one level (the mean) already meets the target
        else:
            best, _ = _search_lambda(
                d,
                method,
                K,
                max_bins,
                mse * 2.0 * math.log(2.0),
                var,
                key,
                mse,
                0.0,
                down,
                increasing=True,
            )
        if best is None:
            floor = design(var * 1e-12).distortion
            raise ValueError(
                f"mse={mse:g} is unreachable for ECSQ with max_levels={K}: the smallest λ "
                f"gives {floor:.4g}; raise max_levels"
            )
    else:
        p_min, p_max = _uniform_step_range(d, dead_zone)
        best, _ = _search_log(
            design, math.sqrt(12.0 * mse), p_min, p_max, key, mse, 0.0, down, increasing=True
        )
        if best is None:
            raise ValueError(
                f"mse={mse:g} is unreachable for a uniform quantizer with at most "
                f"{_MAX_UNIFORM_LEVELS} cells on this data"
            )
    return _with_info(best, target_mse=mse)


def _fmt(v: float | None) -> str:
    return "?" if v is None else f"{v:.4g}"


def _with_info(cb: ScalarCodebook, **extra: Any) -> ScalarCodebook:
    info = dict(cb.info)
    info.update(extra)
    return ScalarCodebook(
        levels=cb.levels,
        thresholds=cb.thresholds,
        method=cb.method,
        lam=cb.lam,
        rate=cb.rate,
        distortion=cb.distortion,
        n_iter=cb.n_iter,
        info=info,
    )
