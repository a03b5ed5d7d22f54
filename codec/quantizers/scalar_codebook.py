"""The scalar codebook and what every design shares: the :class:`ScalarCodebook` type,
applying it (:func:`quantize`, :func:`dequantize`, :func:`index_entropy`,
:func:`evaluate`), argument checks, and the prepared data the designs run on (sorted
runs of equal values with prefix sums of ``n``, ``h``, ``h·z``, ``h·z²``; bins of
them for the dynamic programmes). The public names are exported by
:mod:`codec.quantizers.scalar`, which describes the objectives.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .._kernels import scalar as scalar_kernels

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
    >>> from codec.quantizers.scalar import design_uniform
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
