"""Scalar quantizer design: uniform, k-means (Lloyd and exact DP), ECSQ (CLG and exact DP).

Every quantizer designed here has contiguous cells, so it is a
:class:`ScalarCodebook`: ``K`` sorted reconstruction ``levels`` and ``K - 1``
sorted ``thresholds``. Cell ``i`` is ``[t_{i-1}, t_i)`` (the outer cells are
unbounded), so :func:`quantize` is a ``searchsorted`` on the thresholds.

Objectives, with optional non-negative importance weights ``h`` (e.g. a
diagonal Hessian estimate; Choi, El-Khamy & Lee 2017) and ``N`` elements:

.. math::

    D = \\frac{\\sum_j h_j (x_j - c_{q(x_j)})^2}{\\sum_j h_j}, \\qquad
    R = -\\sum_i \\frac{n_i}{N} \\log_2 \\frac{n_i}{N}

``D`` is the (weighted) mean squared error and ``R`` the empirical entropy of
the indices in bits per element (``n_i`` elements fall in cell ``i``): the
rate an ideal entropy coder pays for the indices, so weights act on the
distortion only. k-means minimises ``D`` with ``K`` levels; ECSQ minimises
``D + λ R``.

Designs run on sorted data collapsed into runs of equal values, with prefix
sums of ``n``, ``h``, ``h·z`` and ``h·z²`` (``z`` the centred, scaled value),
so any cell's statistics cost O(1). Lloyd and CLG use every distinct value
(exact); the dynamic programmes merge runs into at most ``max_bins`` bins when
there are more (see :func:`design_kmeans` for the resulting error bound).
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .._kernels import scalar as scalar_kernels

__all__ = [
    "ScalarCodebook",
    "quantize",
    "dequantize",
    "evaluate",
    "index_entropy",
    "design_uniform",
    "design_kmeans",
    "design_ecsq",
    "design_for_rate",
    "design_ecsq_for_rate",
    "design_for_distortion",
    "DEFAULT_MAX_BINS",
    "DEFAULT_MAX_LEVELS",
]

DEFAULT_MAX_BINS = 1 << 16
DEFAULT_MAX_LEVELS = 256
_MAX_UNIFORM_LEVELS = 1 << 24
_DP_TABLE_LIMIT = 1 << 28  # int32 back pointers of a layered DP (1 GiB)
_MIN_BINS = 16
_COARSE_BINS = 2048  # ECSQ DP: first pass, and fewest bins of the second
_BINS_PER_SQRT_CELL = 4000  # ECSQ DP: second pass uses ~4000·sqrt(cells) bins
_LAYERED_MAX_BINS = 4096  # layered (capped) ECSQ DP only below this many bins


# ---------------------------------------------------------------------------
# The codebook
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ScalarCodebook:
    """A scalar quantizer with contiguous cells.

    Parameters
    ----------
    levels : array_like of float
        ``K >= 1`` non-decreasing reconstruction values.
    thresholds : array_like of float
        ``K - 1`` non-decreasing decision boundaries; cell ``i`` is
        ``[thresholds[i-1], thresholds[i])`` and the outer cells are unbounded.
    method : str
        How it was designed: ``"uniform"``, ``"kmeans-lloyd"``,
        ``"kmeans-dp"``, ``"ecsq-clg"``, ``"ecsq-dp"`` (or ``"custom"``).
    lam : float or None
        The Lagrange multiplier λ of an ECSQ design, else None.
    rate : float
        Entropy of the indices on the design data, bits per element.
    distortion : float
        (Weighted) mean squared error on the design data.
    n_iter : int
        Iterations of Lloyd / CLG (0 for the direct designs).
    info : mapping
        Method-specific details (``step``, ``n_bins``, ``bin_excess_bound``, ...).

    Examples
    --------
    >>> cb = ScalarCodebook(levels=[-1.0, 0.0, 1.0], thresholds=[-0.5, 0.5])
    >>> cb.size, quantize([-0.7, 0.2, 3.0], cb).tolist()
    (3, [0, 1, 2])
    """

    levels: np.ndarray
    thresholds: np.ndarray
    method: str = "custom"
    lam: float | None = None
    rate: float = math.nan
    distortion: float = math.nan
    n_iter: int = 0
    info: Any = field(default_factory=dict)

    def __post_init__(self) -> None:
        levels = np.array(self.levels, dtype=np.float64).reshape(-1)
        thresholds = np.array(self.thresholds, dtype=np.float64).reshape(-1)
        if levels.size < 1:
            raise ValueError("a ScalarCodebook needs at least one level")
        if thresholds.size != levels.size - 1:
            raise ValueError(
                f"a ScalarCodebook with {levels.size} levels needs {levels.size - 1} "
                f"thresholds, got {thresholds.size}"
            )
        if not (np.all(np.isfinite(levels)) and np.all(np.isfinite(thresholds))):
            raise ValueError("levels and thresholds must be finite")
        if np.any(np.diff(levels) < 0) or np.any(np.diff(thresholds) < 0):
            raise ValueError("levels and thresholds must be sorted in increasing order")
        levels.setflags(write=False)
        thresholds.setflags(write=False)
        object.__setattr__(self, "levels", levels)
        object.__setattr__(self, "thresholds", thresholds)
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    @property
    def size(self) -> int:
        """Number of levels ``K``."""
        return int(self.levels.size)

    @property
    def objective(self) -> float:
        """``distortion + lam * rate`` (just ``distortion`` without a λ)."""
        if self.lam is None:
            return self.distortion
        return self.distortion + self.lam * self.rate

    def __repr__(self) -> str:
        lam = "" if self.lam is None else f", lam={self.lam:.4g}"
        return (
            f"ScalarCodebook(method={self.method!r}, size={self.size}{lam}, "
            f"rate={self.rate:.4f}, distortion={self.distortion:.4g})"
        )


# ---------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------


def _as_float_array(x: Any, name: str = "x") -> np.ndarray:
    """``x`` as a float64 array of its own shape; floats only, finite, non-empty."""
    a = np.asarray(x)
    if a.dtype.kind != "f":
        raise TypeError(
            f"{name} must be a floating-point array (float16/32/64), got dtype {a.dtype}; "
            f"convert it first, e.g. np.asarray({name}, dtype=np.float64)"
        )
    if a.size == 0:
        raise ValueError(f"{name} is empty: a quantizer needs at least one value to design on")
    a = np.asarray(a, dtype=np.float64)
    finite = np.isfinite(a)
    if not finite.all():
        flat = int(np.flatnonzero(~finite.reshape(-1))[0])
        where = tuple(int(i) for i in np.unravel_index(flat, a.shape)) if a.ndim > 1 else flat
        raise ValueError(
            f"{name} holds a non-finite value ({a.reshape(-1)[flat]}) at index {where}; "
            "remove or replace NaN/Inf first"
        )
    return a


def _as_weights(weights: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """Validated flat float64 weights of ``shape``, or None."""
    if weights is None:
        return None
    w = np.asarray(weights)
    if w.dtype.kind not in "fiu":
        raise TypeError(f"weights must be a real numeric array, got dtype {w.dtype}")
    if w.shape != shape:
        raise ValueError(
            f"weights has shape {w.shape} but x has shape {shape}; pass one weight per element"
        )
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(w)):
        raise ValueError("weights hold NaN or Inf; replace them with finite values")
    if np.any(w < 0):
        raise ValueError("weights must be non-negative (e.g. a diagonal Hessian estimate)")
    if not w.sum() > 0:
        raise ValueError("weights sum to zero: at least one element needs a positive weight")
    return w


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _check_real(value: Any, name: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        need = "a positive" if positive else "a non-negative"
        raise ValueError(f"{name} must be {need} finite number, got {value!r}")
    return v


def _check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


# ---------------------------------------------------------------------------
# Sorted data and its statistics
# ---------------------------------------------------------------------------


@dataclass
class _Data:
    """Sorted runs of equal values with prefix sums (see the module docstring)."""

    v: np.ndarray  # run values, increasing, original units
    n: np.ndarray  # elements per run
    w: np.ndarray  # weight per run
    z: np.ndarray  # (v - mu) * inv_scale
    Pn: np.ndarray
    Pw: np.ndarray
    Ps1: np.ndarray
    Ps2: np.ndarray
    mu: float
    scale: float
    inv_scale: float
    weighted: bool
    pin_zero: bool = False  # one level exactly 0 (see _pin_zero_level)

    @property
    def m(self) -> int:
        return int(self.v.size)

    @property
    def N(self) -> float:
        return float(self.Pn[-1])

    @property
    def W(self) -> float:
        return float(self.Pw[-1])


def _prefix(a: np.ndarray) -> np.ndarray:
    out = np.empty(a.size + 1, dtype=np.float64)
    out[0] = 0.0
    np.cumsum(a, out=out[1:])
    return out


def _prepare(x: Any, weights: Any, pin_zero: Any = False) -> _Data:
    if not isinstance(pin_zero, (bool, np.bool_)):
        raise TypeError(f"pin_zero must be True or False, got {pin_zero!r}")
    a = _as_float_array(x)
    w = _as_weights(weights, a.shape)
    flat = a.reshape(-1)
    if w is None:
        xs = np.sort(flat)
        ws = np.empty(0, dtype=np.float64)
    else:
        order = np.argsort(flat, kind="stable")
        xs = np.ascontiguousarray(flat[order])
        ws = np.ascontiguousarray(w[order])
    v, n, wr = scalar_kernels.sorted_runs(xs, ws)
    del xs, ws
    W = float(wr.sum())
    mu = float(np.dot(wr, v) / W)
    scale = max(abs(float(v[0]) - mu), abs(float(v[-1]) - mu))
    if not scale > 0:
        scale = 1.0
    inv_scale = 1.0 / scale
    z = (v - mu) * inv_scale
    wz = wr * z
    return _Data(
        v=v,
        n=n,
        w=wr,
        z=z,
        Pn=_prefix(n),
        Pw=_prefix(wr),
        Ps1=_prefix(wz),
        Ps2=_prefix(wz * z),
        mu=mu,
        scale=scale,
        inv_scale=inv_scale,
        weighted=w is not None,
        pin_zero=bool(pin_zero),
    )


@dataclass
class _Bins:
    lo: np.ndarray
    hi: np.ndarray
    Pn: np.ndarray
    Pw: np.ndarray
    Ps1: np.ndarray
    Ps2: np.ndarray
    excess_bound: float  # bound on the objective lost to binning (original units)

    @property
    def m(self) -> int:
        return int(self.lo.size)


def _bins(d: _Data, max_bins: int) -> _Bins:
    """Runs merged into at most ``max_bins`` bins (the runs themselves if few)."""
    if d.m <= max_bins:
        return _Bins(d.v, d.v, d.Pn, d.Pw, d.Ps1, d.Ps2, 0.0)
    span = float(d.v[-1] - d.v[0])
    # smallest caps (factor f of an equal share) that give at most max_bins bins;
    # f = 6·B/(B-3) always fits: each cap can close at most (B-3)/3 bins
    f = 1.0
    f_max = 6.0 * max_bins / (max_bins - 3)
    while True:
        f = min(f, f_max)
        lo, hi, bn, bw, b1, b2 = scalar_kernels.bin_runs(
            d.v,
            d.n,
            d.w,
            d.mu,
            d.inv_scale,
            f * d.N / max_bins,
            f * d.W / max_bins,
            f * span / max_bins,
        )
        if lo.size <= max_bins:
            break
        if f >= f_max:  # cannot happen (see above)
            raise RuntimeError(f"binning produced {lo.size} > {max_bins} bins")
        f *= 1.2
    bound = 2.0 * span * float(np.max((hi - lo) * bw)) / d.W
    return _Bins(lo, hi, _prefix(bn), _prefix(bw), _prefix(b1), _prefix(b2), bound)


def _cell_stats(d: _Data, thresholds: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-cell (first run, end run, count, weight, Σw·z, Σw·z²) for the given thresholds."""
    b = np.empty(thresholds.size + 2, dtype=np.int64)
    b[0] = 0
    b[-1] = d.m
    b[1:-1] = np.searchsorted(d.v, thresholds, side="left")
    lo, hi = b[:-1], b[1:]
    return (
        lo,
        hi,
        d.Pn[hi] - d.Pn[lo],
        d.Pw[hi] - d.Pw[lo],
        d.Ps1[hi] - d.Ps1[lo],
        d.Ps2[hi] - d.Ps2[lo],
    )


def _entropy_of_counts(counts: np.ndarray) -> float:
    counts = counts[counts > 0]
    total = counts.sum()
    if total <= 0:
        return 0.0
    p = counts / total
    h = float(-np.sum(p * np.log2(p)))
    return h if h > 0.0 else 0.0


def _rate_distortion(d: _Data, levels: np.ndarray, thresholds: np.ndarray) -> tuple[float, float]:
    """Index entropy and weighted MSE of (levels, thresholds) on the design data."""
    _, _, cn, cw, s1, s2 = _cell_stats(d, thresholds)
    c = (levels - d.mu) * d.inv_scale
    sse = np.maximum(s2 - 2.0 * c * s1 + c * c * cw, 0.0)
    mse = float(sse.sum() / d.W) * d.scale * d.scale
    return _entropy_of_counts(cn), mse


def _make(d: _Data, levels, thresholds, method, lam=None, n_iter=0, **info) -> ScalarCodebook:
    levels = np.asarray(levels, dtype=np.float64)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    rate, mse = _rate_distortion(d, levels, thresholds)
    return ScalarCodebook(
        levels=levels,
        thresholds=thresholds,
        method=method,
        lam=lam,
        rate=rate,
        distortion=mse,
        n_iter=int(n_iter),
        info=info,
    )


def _centroids(d: _Data, lo, hi, cw, s1) -> np.ndarray:
    """Weighted means (original units) of cells given by run ranges; midpoint if weightless."""
    out = np.empty(lo.size, dtype=np.float64)
    pos = cw > 0
    out[pos] = d.mu + d.scale * (s1[pos] / cw[pos])
    nz = ~pos
    if np.any(nz):
        last = np.maximum(hi[nz] - 1, lo[nz])
        out[nz] = 0.5 * (d.v[np.minimum(lo[nz], d.m - 1)] + d.v[np.minimum(last, d.m - 1)])
    return out


def _ecsq_thresholds(levels: np.ndarray, counts: np.ndarray, lam: float) -> np.ndarray:
    """Boundaries of ``argmin (x - c_i)² + λ(-log2 p_i)`` between consecutive levels."""
    ell = -np.log2(counts / counts.sum())
    gap = np.diff(levels)
    mid = 0.5 * (levels[:-1] + levels[1:])
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(gap > 0, lam * np.diff(ell) / (2.0 * gap), 0.0)
    return mid + shift


def _clip_to_gaps(t: np.ndarray, below: np.ndarray, above: np.ndarray) -> np.ndarray:
    """Clip each threshold into (below, above] so the design partition is reproduced."""
    return np.minimum(np.maximum(t, np.nextafter(below, np.inf)), above)


def _pin_zero_level(levels: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, float]:
    """``levels`` with the level of the cell holding 0 set to exactly 0 (cells unchanged).

    The neighbours stay on their sides (a cell's level lies within its data, and the
    data of the cells left of 0's cell lie below its lower threshold, which is <= 0),
    so the levels stay sorted. Returns the levels and the value the pinned level had.
    """
    i = int(np.searchsorted(thresholds, 0.0, side="right"))  # quantize(0)
    out = np.array(levels, dtype=np.float64)
    moved = float(out[i])
    out[i] = 0.0
    return np.maximum.accumulate(out) if i else out, moved


# ---------------------------------------------------------------------------
# quantize / dequantize / evaluate
# ---------------------------------------------------------------------------


def quantize(x: Any, codebook: ScalarCodebook) -> np.ndarray:
    """Cell indices of ``x``: the number of thresholds ``<= x``.

    .. math:: q(x) = \\#\\{\\, i : t_i \\le x \\,\\}

    Parameters
    ----------
    x : array_like of float
        Values of any shape (finite).
    codebook : ScalarCodebook

    Returns
    -------
    numpy.ndarray of int64
        Indices in ``[0, codebook.size)``, shape of ``x``.

    Raises
    ------
    TypeError
        If ``x`` is not floating point.
    ValueError
        If ``x`` holds NaN or Inf.

    Examples
    --------
    >>> cb = design_uniform([-1.0, 0.1, 0.9], step=0.5)
    >>> quantize([-1.0, 0.1, 0.9], cb).tolist()
    [0, 2, 4]
    """
    if not isinstance(codebook, ScalarCodebook):
        raise TypeError("codebook must be a ScalarCodebook (from one of the design_* functions)")
    a = np.asarray(x)
    if a.dtype.kind != "f":
        raise TypeError(f"x must be a floating-point array, got dtype {a.dtype}")
    if a.size == 0:
        return np.zeros(a.shape, dtype=np.int64)
    a = _as_float_array(a)
    return np.searchsorted(codebook.thresholds, a, side="right").astype(np.int64, copy=False)


def dequantize(indices: Any, codebook: ScalarCodebook) -> np.ndarray:
    """Reconstruction values ``levels[indices]`` (float64, shape of ``indices``).

    .. math:: \\hat x = c_{q}, \\qquad q \\in \\{0, \\dots, K - 1\\}

    Parameters
    ----------
    indices : array_like of int
        Cell indices in ``[0, codebook.size)``.
    codebook : ScalarCodebook

    Returns
    -------
    numpy.ndarray of float64

    Raises
    ------
    TypeError
        If ``indices`` is not an integer array.
    ValueError
        If an index is out of range.

    Examples
    --------
    >>> cb = ScalarCodebook(levels=[-1.0, 0.0, 1.0], thresholds=[-0.5, 0.5])
    >>> dequantize([2, 0, 1], cb).tolist()
    [1.0, -1.0, 0.0]
    """
    if not isinstance(codebook, ScalarCodebook):
        raise TypeError("codebook must be a ScalarCodebook (from one of the design_* functions)")
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= codebook.size):
        raise ValueError(
            f"indices must lie in [0, {codebook.size}); got range "
            f"[{idx.min()}, {idx.max()}] — was the stream made with another codebook?"
        )
    return codebook.levels[idx]


def index_entropy(indices: Any) -> float:
    """Empirical entropy of integer indices, in bits per element.

    .. math:: H = -\\sum_i \\frac{n_i}{N} \\log_2 \\frac{n_i}{N}

    Parameters
    ----------
    indices : array_like of int
        Non-negative indices, any shape.

    Returns
    -------
    float
        Bits per element (0 for an empty array).

    Raises
    ------
    TypeError, ValueError
        Non-integer or negative indices.

    Examples
    --------
    >>> index_entropy([0, 1, 0, 1])
    1.0
    """
    idx = np.asarray(indices).reshape(-1)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers, got dtype {idx.dtype}")
    if idx.size == 0:
        return 0.0
    if idx.min() < 0:
        raise ValueError("indices must be non-negative")
    return _entropy_of_counts(np.bincount(idx).astype(np.float64))


def evaluate(x: Any, codebook: ScalarCodebook, *, weights: Any = None) -> tuple[float, float]:
    """Rate (index entropy, bits/element) and (weighted) MSE of ``codebook`` on ``x``.

    .. math:: D = \\frac{\\sum_j h_j (x_j - \\hat x_j)^2}{\\sum_j h_j}

    Parameters
    ----------
    x : array_like of float
    codebook : ScalarCodebook
    weights : array_like, optional
        Non-negative importance weights ``h``, shape of ``x``.

    Returns
    -------
    (rate, mse) : tuple of float

    Raises
    ------
    TypeError, ValueError
        As for the design functions (non-float ``x``, NaN, bad weights).

    Examples
    --------
    >>> cb = ScalarCodebook(levels=[-1.0, 1.0], thresholds=[0.0])
    >>> evaluate([-1.0, -0.5, 1.0, 1.5], cb)
    (1.0, 0.125)
    """
    a = _as_float_array(x)
    w = _as_weights(weights, a.shape)
    idx = quantize(a, codebook).reshape(-1)
    err = (a.reshape(-1) - codebook.levels[idx]) ** 2
    mse = float(np.mean(err)) if w is None else float(np.dot(w, err) / w.sum())
    return index_entropy(idx), mse


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
