"""Scalar quantizer designs for a given setting: uniform (a step), k-means (Lloyd and
exact DP, a number of levels), ECSQ (Chou–Lookabaugh–Gray and exact DP, a Lagrange
multiplier). Exported by :mod:`codec.quantizers.scalar`, which describes the objectives.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .._kernels import scalar as scalar_kernels
from .scalar_codebook import (
    _BINS_PER_SQRT_CELL,
    _COARSE_BINS,
    _DP_TABLE_LIMIT,
    _LAYERED_MAX_BINS,
    _MAX_UNIFORM_LEVELS,
    _MIN_BINS,
    DEFAULT_MAX_BINS,
    DEFAULT_MAX_LEVELS,
    ScalarCodebook,
    _as_float_array,
    _as_weights,
    _Bins,
    _bins,
    _cell_stats,
    _centroids,
    _check_choice,
    _check_int,
    _check_real,
    _clip_to_gaps,
    _Data,
    _ecsq_thresholds,
    _entropy_of_counts,
    _make,
    _pin_zero_level,
    _prepare,
)

# ---------------------------------------------------------------------------
# Uniform
# ---------------------------------------------------------------------------


def design_uniform(
    x: Any,
    step: float,
    *,
    dead_zone: float = 0.0,
    weights: Any = None,
    reconstruction: str = "midpoint",
) -> ScalarCodebook:
    """Uniform (mid-tread) quantizer with an optional dead zone, covering the data range.

    The zero cell is ``[-a, a)`` with ``a = (1 + dead_zone)·step/2``; the other
    cells have width ``step``: cell ``k > 0`` is ``[a + (k-1)·step, a + k·step)``
    and mirrored for ``k < 0``. Only the cells from the one holding ``min(x)``
    to the one holding ``max(x)`` get a level (the outer two are unbounded).

    .. math:: \\hat x_k = \\operatorname{sign}(k)\\,(a + (|k| - \\tfrac12)\\,\\mathrm{step})
              \\quad\\text{(midpoint)}, \\qquad
              \\hat x_k = \\frac{\\sum_{j \\in k} h_j x_j}{\\sum_{j \\in k} h_j}
              \\quad\\text{(centroid)}

    Parameters
    ----------
    x : array_like of float
        Design data (any shape, finite).
    step : float
        Cell width, > 0.
    dead_zone : float, default 0
        Extra width of the zero cell in units of ``step`` (0 = plain uniform).
    weights : array_like, optional
        Importance weights for centroids and the reported distortion.
    reconstruction : {"midpoint", "centroid"}
        Levels at cell midpoints, or at the (weighted) mean of each non-empty
        cell (empty cells keep their midpoint).

    Returns
    -------
    ScalarCodebook
        ``method="uniform"``; ``info`` holds ``step``, ``dead_zone``,
        ``reconstruction`` and ``zero_index`` (the index of the zero cell, which
        may lie outside ``[0, size)`` when the data avoid it).

    Raises
    ------
    ValueError
        Bad step/dead zone, or a step so small that more than 2**24 cells
        would be needed.

    Examples
    --------
    >>> cb = design_uniform([-0.9, -0.1, 0.05, 0.6], step=0.5)
    >>> cb.levels.tolist(), cb.thresholds.tolist()
    ([-1.0, -0.5, 0.0, 0.5], [-0.75, -0.25, 0.25])
    """
    step = _check_real(step, "step", positive=True)
    dead_zone = _check_real(dead_zone, "dead_zone")
    _check_choice(reconstruction, "reconstruction", ("midpoint", "centroid"))
    if reconstruction == "midpoint":
        return _design_uniform_midpoint(x, weights, step, dead_zone)
    d = _prepare(x, weights)
    return _design_uniform_prepared(d, step, dead_zone, reconstruction)


def _design_uniform_midpoint(x: Any, weights: Any, step: float, dead_zone: float):
    """:func:`design_uniform` with midpoint levels, without sorting the data.

    The cells depend only on the data's range; the rate and distortion come
    from one binning pass (the sorted runs the other designs build cost a
    sort: 0.3 s of 0.4 s for 4M values).
    """
    a = _as_float_array(x)
    w = _as_weights(weights, a.shape)
    flat = a.reshape(-1)
    levels, thresholds, zero_index = _uniform_cells(
        float(flat.min()), float(flat.max()), step, dead_zone
    )
    cell = np.searchsorted(thresholds, flat, side="right")  # = number of thresholds <= x
    counts = np.bincount(cell, minlength=levels.size).astype(np.float64)
    err2 = (flat - levels[cell]) ** 2
    mse = float(err2.sum() / flat.size) if w is None else float(np.dot(w, err2) / w.sum())
    return ScalarCodebook(
        levels=levels,
        thresholds=thresholds,
        method="uniform",
        lam=None,
        rate=_entropy_of_counts(counts),
        distortion=mse,
        n_iter=0,
        info={
            "step": step,
            "dead_zone": dead_zone,
            "reconstruction": "midpoint",
            "zero_index": zero_index,
        },
    )


def _uniform_cell(v: float, a: float, step: float) -> int:
    if -a <= v < a:
        return 0
    if v >= a:
        return int(math.floor((v - a) / step)) + 1
    return -int(math.ceil((-a - v) / step))


def _uniform_cells(vmin: float, vmax: float, step: float, dead_zone: float):
    """``(levels, thresholds, zero_index)`` of the uniform cells covering [vmin, vmax]."""
    a = 0.5 * (1.0 + dead_zone) * step
    kmin = _uniform_cell(vmin, a, step) - 1
    kmax = _uniform_cell(vmax, a, step) + 1
    if kmax - kmin + 1 > _MAX_UNIFORM_LEVELS:
        raise ValueError(
            f"step={step:g} needs {kmax - kmin + 1} cells to cover the data range "
            f"[{vmin:g}, {vmax:g}]; use a larger step (at most {_MAX_UNIFORM_LEVELS} cells)"
        )
    ks = np.arange(kmin, kmax + 1, dtype=np.float64)
    # upper edge of cell k: a + k·step for k >= 0, -(a + (-k-1)·step) for k < 0
    upper = np.where(ks[:-1] >= 0, a + ks[:-1] * step, -(a + (-ks[:-1] - 1.0) * step))
    mids = np.where(ks > 0, a + (ks - 0.5) * step, np.where(ks < 0, -(a + (-ks - 0.5) * step), 0.0))
    # keep only the cells from the one holding min(x) to the one holding max(x)
    first = int(np.searchsorted(upper, vmin, side="right"))
    last = int(np.searchsorted(upper, vmax, side="right"))
    return mids[first : last + 1], upper[first:last], int(-(kmin + first))


def _design_uniform_prepared(
    d: _Data, step: float, dead_zone: float, reconstruction: str
) -> ScalarCodebook:
    levels, thresholds, zero_index = _uniform_cells(float(d.v[0]), float(d.v[-1]), step, dead_zone)
    if reconstruction == "centroid":
        lo, hi, _, cw, s1, _ = _cell_stats(d, thresholds)
        filled = (hi > lo) & (cw > 0)
        levels = np.where(filled, _centroids(d, lo, hi, cw, s1), levels)
        levels = np.maximum.accumulate(levels)  # centroids are sorted; guard rounding
    return _make(
        d,
        levels,
        thresholds,
        "uniform",
        step=step,
        dead_zone=dead_zone,
        reconstruction=reconstruction,
        zero_index=zero_index,
    )


# ---------------------------------------------------------------------------
# k-means
# ---------------------------------------------------------------------------


def design_kmeans(
    x: Any,
    levels: int,
    *,
    weights: Any = None,
    method: str = "lloyd",
    seed: Any = 0,
    max_iter: int = 1000,
    tol: float = 1e-9,
    max_bins: int = DEFAULT_MAX_BINS,
    pin_zero: bool = False,
) -> ScalarCodebook:
    """(Hessian-)weighted k-means quantizer with ``levels`` levels.

    .. math:: \\min_{c_1 \\le \\dots \\le c_K,\\; q}\\;
              \\frac{\\sum_j h_j (x_j - c_{q(x_j)})^2}{\\sum_j h_j}

    With ``weights=h`` a diagonal Hessian estimate this is the
    Hessian-weighted k-means of Choi, El-Khamy & Lee (2017); centroids are
    ``h``-weighted means.

    ``method="lloyd"``: greedy k-means++ seeding (drawn from
    ``numpy.random.default_rng(seed)``) then Lloyd's iteration, each pass
    O(K log m) on the sorted distinct values (exact, no binning).

    ``method="dp"``: the exact optimum by dynamic programming over sorted
    values (Wang & Song 2011, Ckmeans.1d.dp). The SSE of a cell obeys the
    quadrangle inequality, so each of the K layers is solved by divide and
    conquer in O(m log m) from prefix sums of ``h``, ``h·x``, ``h·x²``.

    **Binning.** When there are more than ``B = max_bins`` distinct values,
    runs of consecutive values are merged into at most ``B`` bins: a bin of
    several values spans at most ``f·range/B`` and holds at most ``f/B`` of
    the elements and of the weight, with ``f`` the smallest of 1, 1.2, 1.44,
    ... that fits (``f <= 6B/(B-3)`` always does). Bins keep the
    sums of ``h``, ``h·x``, ``h·x²``, so every cell's error is still exact;
    the only approximation is that thresholds must fall between bins. The
    result is the exact optimum of that restricted problem, and its objective
    exceeds the unrestricted optimum by at most

    .. math:: \\Delta \\le \\frac{2}{W}\\sum_t (c_{t+1} - c_t)\\, s_t\\, m_t
              \\le \\frac{2\\,(x_{\\max} - x_{\\min})\\max_b s_b m_b}{W}

    (``s_t``, ``m_t``: span and weight of the bin holding the optimal
    threshold ``t``): moving ``t`` to a bin edge reassigns only points of that
    bin, each at extra cost at most ``2 (c_{t+1} - c_t) s_t``. The right-hand
    bound is reported as ``info["bin_excess_bound"]`` (0 when not binned).

    Parameters
    ----------
    x : array_like of float
        Design data, any shape, finite.
    levels : int
        Number of levels ``K >= 1``. If ``x`` has fewer distinct values, one
        level per distinct value is returned (``info["requested_levels"]``).
    weights : array_like, optional
        Non-negative importance weights, shape of ``x``.
    method : {"lloyd", "dp"}
    seed : int or numpy.random.Generator, default 0
        Seeds k-means++ (Lloyd only). Global numpy state is never used.
    max_iter : int, default 1000
        Lloyd passes at most.
    tol : float, default 1e-9
        Lloyd stops when the relative decrease of the error falls to ``tol``
        (it also stops as soon as the cells repeat).
    max_bins : int, default 65536
        Most bins for the DP.
    pin_zero : bool, default False
        Set the level of the cell holding 0 to exactly 0 after the design, the
        cells unchanged (for pruned weights coded with the values: their zero
        level decodes to 0.0). The distortion grows by that cell's weight times
        the square of the level it replaces, ``info["zero_level_moved_from"]``
        (reported ``distortion`` and ``rate`` are those of the pinned codebook).

    Returns
    -------
    ScalarCodebook
        ``method="kmeans-lloyd"`` or ``"kmeans-dp"``; thresholds are the
        midpoints between levels (for the DP, moved into the gap between the
        cells' data if rounding puts them outside, so that :func:`quantize`
        reproduces the designed partition).

    Raises
    ------
    ValueError, TypeError
        Bad arguments (``levels < 1``, NaN, negative weights, ...).

    Examples
    --------
    >>> x = np.array([0.0, 0.1, 0.2, 5.0, 5.1, 9.0])
    >>> cb = design_kmeans(x, 3, method="dp")
    >>> np.round(cb.levels, 3).tolist(), round(cb.distortion, 5)
    ([0.1, 5.05, 9.0], 0.00417)
    >>> h = np.array([1.0, 1.0, 100.0, 1.0, 1.0, 1.0])
    >>> round(float(design_kmeans(x, 3, weights=h, method="dp").levels[0]), 3)
    0.197
    >>> design_kmeans(x, 3, method="dp", pin_zero=True).levels.tolist()[0]
    0.0
    """
    K = _check_int(levels, "levels", 1)
    _check_choice(method, "method", ("lloyd", "dp"))
    max_iter = _check_int(max_iter, "max_iter", 1)
    tol = _check_real(tol, "tol")
    max_bins = _check_int(max_bins, "max_bins", _MIN_BINS)
    rng = np.random.default_rng(seed)  # validates seed before the heavy work
    d = _prepare(x, weights, pin_zero)
    return _design_kmeans_prepared(d, K, method, rng, max_iter, tol, max_bins)


def _design_kmeans_prepared(
    d: _Data,
    K: int,
    method: str,
    rng: np.random.Generator,
    max_iter: int,
    tol: float,
    max_bins: int,
) -> ScalarCodebook:
    info: dict[str, Any] = {}
    if K > d.m:
        info["requested_levels"] = K
        K = d.m
    if method == "lloyd":
        n_trials = 2 + int(math.log(K))
        u = rng.random(1 + (K - 1) * n_trials)
        c0 = scalar_kernels.kmeanspp_seed(d.z, d.Pw, d.Ps1, d.Ps2, K, n_trials, u)
        c, it = scalar_kernels.lloyd(d.z, d.Pw, d.Ps1, d.Ps2, c0, max_iter, tol)
        lev = np.maximum.accumulate(d.mu + d.scale * c)
        thr = 0.5 * (lev[:-1] + lev[1:])
        if d.pin_zero:
            lev, info["zero_level_moved_from"] = _pin_zero_level(lev, thr)
        return _make(d, lev, thr, "kmeans-lloyd", n_iter=it, **info)
    bins = _bins(d, max_bins)
    if K * (bins.m + 1) > _DP_TABLE_LIMIT:
        raise ValueError(
            f"the DP table for {K} levels over {bins.m} bins is too large; "
            f"lower max_bins (to about {_DP_TABLE_LIMIT // K}) or use method='lloyd'"
        )
    _, bounds = scalar_kernels.kmeans_dp(bins.Pw, bins.Ps1, bins.Ps2, K)
    lev, thr = _partition_codebook(d, bins, bounds, lam=None)
    info.update(n_bins=bins.m, bin_excess_bound=bins.excess_bound)
    if d.pin_zero:
        lev, info["zero_level_moved_from"] = _pin_zero_level(lev, thr)
    return _make(d, lev, thr, "kmeans-dp", **info)


def _partition_codebook(d: _Data, bins: _Bins, bounds: np.ndarray, lam: float | None):
    """Levels (centroids) and thresholds of a DP partition given in bin edges."""
    lo_b, hi_b = bounds[:-1], bounds[1:]
    cw = bins.Pw[hi_b] - bins.Pw[lo_b]
    s1 = bins.Ps1[hi_b] - bins.Ps1[lo_b]
    cn = bins.Pn[hi_b] - bins.Pn[lo_b]
    lev = np.empty(lo_b.size, dtype=np.float64)
    pos = cw > 0
    lev[pos] = d.mu + d.scale * (s1[pos] / cw[pos])
    lev[~pos] = 0.5 * (bins.lo[lo_b[~pos]] + bins.hi[hi_b[~pos] - 1])
    # a centroid lies within its cell's data; guard rounding at the edges
    lev = np.clip(lev, bins.lo[lo_b], bins.hi[hi_b - 1])
    if lev.size == 1:
        return lev, np.empty(0)
    if lam is None:
        thr = 0.5 * (lev[:-1] + lev[1:])
    else:
        thr = _ecsq_thresholds(lev, cn, lam)
    below = bins.hi[hi_b[:-1] - 1]  # last value of each cell but the last
    above = bins.lo[lo_b[1:]]  # first value of each cell but the first
    thr = _clip_to_gaps(thr, below, above)
    return lev, thr


# ---------------------------------------------------------------------------
# ECSQ
# ---------------------------------------------------------------------------


def design_ecsq(
    x: Any,
    *,
    lam: float,
    method: str = "clg",
    weights: Any = None,
    max_levels: int = DEFAULT_MAX_LEVELS,
    max_iter: int = 1000,
    tol: float = 1e-9,
    max_bins: int = DEFAULT_MAX_BINS,
    pin_zero: bool = False,
) -> ScalarCodebook:
    """Entropy-constrained scalar quantizer (ECSQ) for the multiplier ``lam``.

    .. math:: \\min_{\\text{cells},\\, c}\\; D + \\lambda R, \\qquad
              R = -\\sum_i p_i \\log_2 p_i,\\quad p_i = n_i / N

    ``D`` is the (weighted) MSE; the encoder's rule is
    ``x -> argmin_i (x - c_i)² + λ(-log2 p_i)``, whose cells are intervals, and
    the thresholds are computed from it (for the DP, moved into the gap
    between the cells' data when needed so that :func:`quantize` reproduces
    the optimal partition exactly).

    ``method="clg"``: the Chou–Lookabaugh–Gray (1989) iteration as used by
    Choi et al. (2017): start from a uniform quantizer with ``max_levels``
    levels over the data range, then alternate (a) the rule above and (b)
    ``c_i`` = (weighted) cell mean, ``p_i`` = cell share, dropping empty cells.
    Each pass is O(K log m) on the sorted distinct values (no binning).

    ``method="dp"``: the exact optimum over contiguous partitions (in 1-D the
    optimal cells are intervals) by dynamic programming over sorted values.
    The rate term ``-p log2 p`` is concave, so the ECSQ cell cost does *not*
    satisfy the quadrangle inequality (it holds for the SSE alone) and the
    monotone-split speed-up of k-means is not valid; instead the O(m²)
    recursion is pruned with an exact bound (``F[j] <= F[i] + cost(i, j)``,
    the quadrangle inequality of the SSE and the concavity of the rate term),
    leaving a window a few cells wide: O(m·m/k) for k cells. Beyond 2048
    distinct values the data are binned as in :func:`design_kmeans`: a first
    pass on 2048 bins gives the cell count k, the final pass uses
    ``min(max_bins, max(2048, 4000·sqrt(k)))`` bins — at least ~4000/sqrt(k)
    bins per cell, and about 10^8 cell evaluations whatever the rate. The
    excess bound of :func:`design_kmeans` holds (for unweighted data) and is
    reported as ``info["bin_excess_bound"]``. At most ``max_levels`` cells:
    if the unconstrained optimum has more, a price per cell is searched
    (Lagrangian relaxation; a price giving exactly ``max_levels`` cells
    certifies the constrained optimum); if none exists, the layered DP (one
    layer per cell) decides on up to 4096 bins, else the best solution with
    fewer cells is returned with ``info["exact"] = False`` and a warning.

    With non-uniform weights the cells stay contiguous in ``x`` and the rule's
    λ is that of an element of average weight (weights enter the distortion
    only); the DP is still exact over contiguous partitions.

    Parameters
    ----------
    x : array_like of float
        Design data, any shape, finite.
    lam : float
        λ >= 0, in units of squared ``x`` per bit.
    method : {"clg", "dp"}
    weights : array_like, optional
        Non-negative importance weights, shape of ``x``.
    max_levels : int, default 256
        Most levels (CLG starts with this many).
    max_iter, tol
        CLG stopping rule: at most ``max_iter`` passes, or a relative decrease
        of ``D + λR`` of at most ``tol``, or repeated cells.
    max_bins : int, default 65536
        Most bins for the DP.
    pin_zero : bool, default False
        Set the level of the cell holding 0 to exactly 0 after the design, the
        cells unchanged (for pruned weights coded with the values: their zero
        level decodes to 0.0). The distortion grows by that cell's weight times
        the square of the level it replaces, ``info["zero_level_moved_from"]``
        (reported ``distortion`` and ``rate`` are those of the pinned codebook).

    Returns
    -------
    ScalarCodebook
        ``method="ecsq-clg"`` or ``"ecsq-dp"``, ``lam`` set; ``objective`` is
        ``distortion + lam * rate`` on the design data.

    Raises
    ------
    ValueError, TypeError
        Bad arguments.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(20000)
    >>> cb = design_ecsq(x, lam=0.01, method="dp")
    >>> cb.size, round(cb.rate, 2), round(cb.distortion, 4)
    (26, 3.77, 0.0075)

    Pruned weights (exact zeros) coded as a level that decodes to exactly 0:

    >>> w = np.where(rng.random(20000) < 0.9, 0.0, x)
    >>> from codec.quantizers.scalar import dequantize, quantize
    >>> cz = design_ecsq(w, lam=0.05, method="dp", pin_zero=True)
    >>> float(dequantize(quantize(np.zeros(1), cz), cz)[0])
    0.0
    """
    lam = _check_real(lam, "lam")
    _check_choice(method, "method", ("clg", "dp"))
    K = _check_int(max_levels, "max_levels", 1)
    max_iter = _check_int(max_iter, "max_iter", 1)
    tol = _check_real(tol, "tol")
    max_bins = _check_int(max_bins, "max_bins", _MIN_BINS)
    d = _prepare(x, weights, pin_zero)
    return _design_ecsq_prepared(d, lam, method, K, max_iter, tol, max_bins)


def _design_ecsq_prepared(d: _Data, lam, method, K, max_iter, tol, max_bins) -> ScalarCodebook:
    lam_z = lam * d.inv_scale * d.inv_scale
    if method == "clg":
        K0 = min(K, d.m)
        z0, z1 = float(d.z[0]), float(d.z[-1])
        c0 = z0 + (np.arange(K0) + 0.5) * ((z1 - z0) / K0)
        c, ell, it = scalar_kernels.ecsq_clg(
            d.z, d.Pn, d.Pw, d.Ps1, d.Ps2, c0, lam_z, max_iter, tol
        )
        # final assignment by the rule; drop levels that end up without data
        while True:
            act, t = scalar_kernels.ecsq_envelope(c, ell, lam_z)
            c, ell = c[act], ell[act]
            lev = d.mu + d.scale * c
            thr = d.mu + d.scale * t
            lo, hi = _cell_stats(d, thr)[:2]
            keep = hi > lo
            if keep.all():
                break
            c, ell = c[keep], ell[keep]
        pinned = {}
        if d.pin_zero:
            lev, pinned["zero_level_moved_from"] = _pin_zero_level(lev, thr)
        return _make(d, lev, thr, "ecsq-clg", lam=lam, n_iter=it, **pinned)
    bins, bounds, mu, exact = _ecsq_dp_adaptive(d, lam_z, K, max_bins)
    lev, thr = _partition_codebook(d, bins, bounds, lam=lam)
    pinned = {}
    if d.pin_zero:
        lev, pinned["zero_level_moved_from"] = _pin_zero_level(lev, thr)
    return _make(
        d,
        lev,
        thr,
        "ecsq-dp",
        lam=lam,
        n_bins=bins.m,
        bin_excess_bound=bins.excess_bound,
        cell_price=mu * d.scale * d.scale,
        exact=exact,
        **pinned,
    )


def _ecsq_dp_adaptive(d: _Data, lam_z: float, K: int, max_bins: int):
    """ECSQ DP on a coarse binning, then on as many bins as the cell count warrants."""
    coarse = _bins(d, min(max_bins, _COARSE_BINS))
    bounds, mu, exact = _ecsq_solve(coarse, lam_z, K, 0.0)
    if coarse.m == d.m:
        return coarse, bounds, mu, exact
    target = min(max_bins, max(_COARSE_BINS, int(_BINS_PER_SQRT_CELL * math.sqrt(bounds.size - 1))))
    if target <= min(max_bins, _COARSE_BINS):
        return coarse, bounds, mu, exact
    fine = _bins(d, target)
    bounds, mu, exact = _ecsq_solve(fine, lam_z, K, mu)
    return fine, bounds, mu, exact


def _ecsq_solve(bins: _Bins, lam_z: float, K: int, mu_hint: float):
    """Exact ECSQ partition of the bins with at most K cells.

    Unconstrained DP first. If it has more than K cells, a price ``mu`` per
    cell is searched for (Lagrangian relaxation): a solution with exactly K
    cells at some price is optimal among all partitions with at most K cells
    (any k-cell partition costs at least as much plus ``mu·(K - k) >= 0``).
    If the count jumps over K (a duality gap), the layered DP decides when
    the table is small; otherwise the best solution with fewer cells is
    returned with ``exact=False``. Returns ``(bounds, mu, exact)``.
    """
    args = (bins.Pn, bins.Pw, bins.Ps1, bins.Ps2, lam_z)
    _, bounds = scalar_kernels.ecsq_dp(*args, 0.0, True)
    if bounds.size - 1 <= K:
        return bounds, 0.0, True
    if K == 1:
        return np.array([0, bins.m], dtype=np.int64), math.inf, True
    m = bins.m
    s1 = bins.Ps1[m]
    single = max((bins.Ps2[m] - s1 * s1 / bins.Pw[m]) / bins.Pw[m], 1e-300)
    lo, hi = 0.0, single  # count(lo) > K >= 1 = count(hi)
    under = np.array([0, m], dtype=np.int64)
    k_lo, k_hi = bounds.size - 1, 1
    step = 2.0 if 0.0 < mu_hint < single else 4.0
    mu = mu_hint if 0.0 < mu_hint < single else single / 4.0
    for it in range(200):
        _, b = scalar_kernels.ecsq_dp(*args, mu, True)
        k = b.size - 1
        if k == K:
            return b, mu, True
        if k > K:
            lo, k_lo = mu, k
        else:
            hi, k_hi, under = mu, k, b
        if lo > 0.0 and hi / lo < 1.0 + 1e-10:
            break
        if lo == 0.0:
            mu = hi / step
        elif hi == single:
            mu = min(lo * step, math.sqrt(lo * hi))
        elif it % 4 == 3:
            mu = math.sqrt(lo * hi)
        else:  # regula falsi on (log mu, count), kept strictly inside the bracket
            a, c = math.log(lo), math.log(hi)
            frac = (k_lo - K) / (k_lo - k_hi)
            mu = math.exp(a + min(max(frac, 0.05), 0.95) * (c - a))
    if K * (m + 1) <= _DP_TABLE_LIMIT and m <= _LAYERED_MAX_BINS:
        _, b = scalar_kernels.ecsq_dp_capped(*args, K, True)
        return b, 0.0, True
    warnings.warn(
        f"ECSQ DP: no cell price gives exactly max_levels={K} cells (duality gap); returning "
        f"the optimum with {under.size - 1} cells, which is exact only among partitions "
        f"with that many cells or fewer. Lower max_bins (<= {_LAYERED_MAX_BINS}) for the "
        "exact layered DP.",
        stacklevel=4,
    )
    return under, hi, False
