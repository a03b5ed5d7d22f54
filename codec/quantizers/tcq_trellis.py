"""Entropy-coded trellis-coded quantization (ECTCQ; Marcellin & Fischer 1990).

Reproduction points are ``step·j`` (``j`` an integer), split into four
subsets ``D_d = {j ≡ d mod 4}`` and two unions ``A0 = D0 ∪ D2``,
``A1 = D1 ∪ D3``. A rate-1/2 trellis with ``S = 2**nu`` states chooses, for
each element, the union from the state and the subset from the branch:

.. math::

    u(s) = \\mathrm{parity}(s \\,\\&\\, h_0), \\quad
    d(s, b) = 2\\,(b \\oplus \\mathrm{parity}(s \\,\\&\\, h_1)) + u(s), \\quad
    s' = (2s + b) \\bmod S .

Only the index inside the union is coded, ``i = (j − u) / 2``: its low bit
selects the branch, ``b = (i \\& 1) ⊕ parity(s \\& h1)``, so a decoder that
starts in state 0 recovers every ``j = 2i + u`` from the ``i`` sequence. The
indices are coded with the union as context (two streams per chunk).

The encoder is an entropy-constrained Viterbi search (Fischer & Wang 1992):

.. math::

    \\min_{\\text{paths}} \\sum_k w_k (x_k - \\mathrm{step}\\, j_k)^2
    + \\lambda\\, \\ell(i_k \\mid u_k), \\qquad \\lambda = \\kappa\\, \\mathrm{step}^2,

``ℓ`` the code lengths (bits) of the previous pass's index histogram per
union; the first pass is plain nearest-path search (``λ = 0``). At high rate
the granular gain over uniform scalar quantization is ``10·log10(1/(12 G))``
with ``G = MSE / (2·step)²`` (0.99 dB for 4 states ... 1.34 dB for 256).

The masks ``(h0, h1)`` per state count are part of the format
(docs/format.md); they were found by searching the granular gain.

This module is the trellis itself: the Viterbi search, the index code-length model and
its design, the streams. :mod:`codec.quantizers.tcq` makes it a codec quantizer and
exports these names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._kernels import trellis as trellis_kernels
from ..errors import CorruptStreamError

__all__ = [
    "TRELLIS_MASKS",
    "GRANULAR_G",
    "DEFAULT_KAPPA",
    "DEFAULT_PASSES",
    "DEFAULT_CHUNK_ELEMENTS",
    "IndexCostModel",
    "trellis_masks",
    "tcq_viterbi",
    "tcq_quantize",
    "tcq_design",
    "TrellisModel",
    "tcq_reconstruct",
    "tcq_to_streams",
    "tcq_from_streams",
    "tcq_union_histograms",
    "tcq_index_entropy",
]

# (h0, h1) per state count: union mask and branch mask (docs/format.md, TCQ section).
TRELLIS_MASKS = {
    4: (1, 2),
    8: (2, 7),
    16: (4, 13),
    32: (3, 23),
    64: (31, 41),
    128: (41, 90),
    256: (65, 215),
}
# λ = κ·step²; κ = None picks κ from the plain pass's index entropy H0 (bits):
# KAPPA_HIGH at H0 >= 2, rising linearly to KAPPA_LOW at H0 <= 1 (tuned on Gaussian
# data for the smallest gap to R(D); at high rate dD/dR = -2 ln2 D gives κ ≈ 0.34).
DEFAULT_KAPPA = None
KAPPA_HIGH = 0.4
KAPPA_LOW = 0.5
# G = MSE / (2·step)² of plain TCQ at high rate (fine uniform input, 2^16 samples).
GRANULAR_G = {
    4: 0.0662,
    8: 0.0648,
    16: 0.0639,
    32: 0.0629,
    64: 0.0622,
    128: 0.0617,
    256: 0.0612,
}
DEFAULT_STATES = 8
DEFAULT_PASSES = 4
DEFAULT_CHUNK_ELEMENTS = 1 << 20
# Model passes (all but the last) run on at most this many elements: contiguous
# blocks of SAMPLE_BLOCK elements spread evenly over the input.
DEFAULT_SAMPLE_ELEMENTS = 1 << 18
SAMPLE_BLOCK = 4096
# Additive smoothing of the index histogram (counts + ALPHA) and table margin.
ALPHA = 0.5
MARGIN = 2


def trellis_masks(states: int) -> tuple[int, int, int]:
    """``(nu, h0, h1)`` of the trellis with ``states = 2**nu`` states.

    Parameters
    ----------
    states : int
        4, 8, 16, 32, 64, 128 or 256.

    Returns
    -------
    nu : int
        ``log2(states)``.
    h0, h1 : int
        Union mask and branch mask.

    Raises
    ------
    ValueError
        For a state count without masks.

    Examples
    --------
    >>> trellis_masks(8)
    (3, 2, 7)
    """
    if isinstance(states, bool) or not isinstance(states, (int, np.integer)):
        raise TypeError(f"states must be an int such as 8 or 256, got {type(states).__name__}")
    states = int(states)
    if states not in TRELLIS_MASKS:
        raise ValueError(f"states must be one of {sorted(TRELLIS_MASKS)}, got {states}")
    h0, h1 = TRELLIS_MASKS[states]
    nu = states.bit_length() - 1
    # The kernels rely on bit nu-1 being clear in h0 and set in h1.
    if (h0 >> (nu - 1)) & 1 or not (h1 >> (nu - 1)) & 1:  # pragma: no cover - table invariant
        raise ValueError("masks violate the butterfly structure")
    return nu, h0, h1


@dataclass(frozen=True)
class IndexCostModel:
    """Code lengths ``ℓ(i | u)`` in bits of the union index ``i`` per union ``u``.

    Inside ``[lo[u], lo[u] + len(lengths[u]))`` the length is
    ``lengths[u][i − lo[u]]``; outside it is ``escape[u] + slope[u]·distance``
    (finite, so the search can still reach an unseen index).

    Examples
    --------
    >>> m = IndexCostModel.from_histograms([np.array([1, 3, 1]), np.array([2, 2])], [-1, -1])
    >>> round(m.bits(0, 0), 3), m.bits(5, 1) > m.bits(0, 1)
    (0.893, True)
    """

    lo: tuple[int, int]
    lengths: tuple[np.ndarray, np.ndarray]
    escape: tuple[float, float]
    slope: tuple[float, float]

    @classmethod
    def from_histograms(cls, hists, lo, alpha: float = ALPHA) -> IndexCostModel:
        """Smoothed code lengths from index counts ``hists[u]`` starting at index ``lo[u]``:

        .. math:: \\ell(i \\mid u) = -\\log_2 \\frac{n_u(i) + \\alpha}{N_u + \\alpha K_u}

        with ``K_u`` bins; indices outside cost the longest length + 1 bit + 1 bit per
        index of distance.
        """
        lengths, esc = [], []
        for h in hists:
            h = np.asarray(h, np.float64)
            total = h.sum() + alpha * h.size
            ell = -np.log2((h + alpha) / total) if h.size else np.zeros(0)
            lengths.append(ell)
            esc.append(float(ell.max()) + 1.0 if h.size else 0.0)
        return cls((int(lo[0]), int(lo[1])), (lengths[0], lengths[1]), (esc[0], esc[1]), (1.0, 1.0))

    def bits(self, i: int, u: int) -> float:
        """``ℓ(i | u)`` in bits."""
        k = i - self.lo[u]
        n = self.lengths[u].size
        if k < 0:
            return self.escape[u] + self.slope[u] * (-k)
        if k >= n:
            return self.escape[u] + self.slope[u] * (k - n + 1)
        return float(self.lengths[u][k])

    def kernel_args(self, lam: float):
        """The kernels' rate arguments, scaled by ``λ``."""
        l0, l1 = self.lengths
        return (
            np.array(self.lo, np.int64),
            np.array([l0.size, l1.size], np.int64),
            np.array([0, l0.size], np.int64),
            lam * np.concatenate([l0, l1]).astype(np.float64),
            lam * np.array(self.escape, np.float64),
            lam * np.array(self.slope, np.float64),
        )


_NO_RATE = (
    np.zeros(2, np.int64),
    np.zeros(2, np.int64),
    np.zeros(2, np.int64),
    np.zeros(0, np.float64),
    np.zeros(2, np.float64),
    np.zeros(2, np.float64),
)


def _check_input(x, step, weights):
    x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
    step = float(step)
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"step must be positive and finite, got {step}")
    if x.size:
        bad = np.empty(1, np.int64)
        max_abs = trellis_kernels.finite_max_abs(x, bad)
        if bad[0] >= 0:
            raise ValueError(f"x holds NaN or Inf at index {int(bad[0])}")
        if max_abs > trellis_kernels.MAX_ABS_INDEX * step:
            raise ValueError("max|x| / step exceeds 2**52: use a larger step")
    if weights is None:
        w = np.zeros(0, np.float64)
    else:
        w = np.ascontiguousarray(weights, dtype=np.float64).reshape(-1)
        if w.size != x.size:
            raise ValueError(f"weights have {w.size} elements, x has {x.size}")
        if w.size and not (np.isfinite(w).all() and (w >= 0).all()):
            raise ValueError("weights must be finite and non-negative")
    return x, step, w


def tcq_viterbi(
    x,
    step: float,
    states: int = 8,
    *,
    model: IndexCostModel | None = None,
    lam: float = 0.0,
    weights=None,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> np.ndarray:
    """One Viterbi pass: the trellis path minimising distortion plus ``λ``·code length.

    .. math:: \\min \\sum_k w_k (x_k - \\mathrm{step}\\, j_k)^2 + \\lambda\\, \\ell(i_k \\mid u_k)

    Each branch takes the best of the nearest point of its subset and that
    point's neighbours ``±4`` (only the nearest without a rate term). The
    trellis restarts in state 0 at every chunk of ``chunk_elements``.

    Parameters
    ----------
    x : array_like of float
        Values (flattened).
    step : float
        Spacing of the reproduction points ``step·j``.
    states : int
        Trellis states (4 ... 256).
    model : IndexCostModel, optional
        Code lengths; None (or ``lam == 0``) searches on distortion alone.
    lam : float
        Lagrange multiplier ``λ`` (units of squared ``x``).
    weights : array_like of float, optional
        Non-negative weight per element (None: all ones).
    chunk_elements : int
        Elements per independent chunk.

    Returns
    -------
    numpy.ndarray of int64
        The points ``j``.

    Examples
    --------
    >>> tcq_viterbi(np.array([0.1, 1.9, -3.2, 0.4]), 1.0, 4).tolist()
    [0, 2, -3, 0]
    """
    x, step, w = _check_input(x, step, weights)
    if chunk_elements < 1:
        raise ValueError("chunk_elements must be >= 1")
    return _viterbi(x, w, step, states, model, lam, chunk_elements)


def _viterbi(x, w, step, states, model, lam, chunk_elements):
    """:func:`tcq_viterbi` on checked arrays (``w`` empty for unit weights)."""
    nu, h0, h1 = trellis_masks(states)
    rate = _NO_RATE if model is None or lam == 0 else model.kernel_args(float(lam))
    points = np.empty(x.size, np.int64)
    if x.size:
        trellis_kernels.quantize_chunks(x, w, step, nu, h0, h1, *rate, int(chunk_elements), points)
    return points


def tcq_union_histograms(points, states: int, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS):
    """Histograms of the union index per union: ``([hist0, hist1], [lo0, lo1])``,
    ``hist_u[k]`` = number of elements in union-``u`` states with ``i = lo_u + k``.

    Raises
    ------
    ValueError
        The points are not a trellis path (some ``j − u`` is odd).

    Examples
    --------
    >>> tcq_union_histograms(np.array([0, 2, -3, 0]), 4)
    ([array([2, 1]), array([1])], [0, -2])
    """
    nu, h0, h1 = trellis_masks(states)
    points = np.ascontiguousarray(points, np.int64).reshape(-1)
    lo, hi, counts, ok = _union_stats(points, nu, h0, h1, chunk_elements)
    if not ok.all():
        raise ValueError(f"points are not a trellis path (chunk {int(np.flatnonzero(~ok)[0])})")
    tot = counts.sum(axis=0)
    los, sizes = [], []
    for u in range(2):
        if tot[u]:
            a, b = int(lo[:, u].min()), int(hi[:, u].max())
        else:
            a, b = 0, -1
        los.append(a)
        sizes.append(b - a + 1)
    hist = np.zeros((2, max(max(sizes), 1)), np.int64)
    if points.size:
        trellis_kernels.union_histograms(
            points,
            nu,
            h0,
            h1,
            int(chunk_elements),
            np.array(los, np.int64),
            np.array(sizes, np.int64),
            hist,
        )
    return [hist[0, : sizes[0]].copy(), hist[1, : sizes[1]].copy()], los


def _union_stats(points, nu, h0, h1, chunk_elements):
    n_chunks = -(-points.size // chunk_elements)
    lo = np.empty((n_chunks, 2), np.int64)
    hi = np.empty((n_chunks, 2), np.int64)
    counts = np.empty((n_chunks, 2), np.int64)
    ok = np.empty(n_chunks, np.bool_)
    if n_chunks:
        trellis_kernels.union_stats(points, nu, h0, h1, int(chunk_elements), lo, hi, counts, ok)
    return lo, hi, counts, ok


def tcq_index_entropy(points, states: int, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> float:
    """Ideal code length in bits per element: the empirical conditional entropy
    of the union index given the union,

    .. math:: H(I \\mid U) = -\\sum_u \\sum_i \\frac{n_u(i)}{N} \\log_2 \\frac{n_u(i)}{N_u}.

    Examples
    --------
    >>> round(tcq_index_entropy(np.array([0, 2, -3, 0]), 4), 6)
    0.688722
    """
    return _entropy(tcq_union_histograms(points, states, chunk_elements)[0])


def _sample_index(n: int, sample_elements: int) -> np.ndarray:
    """Positions of contiguous blocks of SAMPLE_BLOCK elements spread evenly over ``n``."""
    n_blocks = max(1, sample_elements // SAMPLE_BLOCK)
    starts = (np.arange(n_blocks, dtype=np.int64) * (n - SAMPLE_BLOCK)) // max(n_blocks - 1, 1)
    return (starts[:, None] + np.arange(SAMPLE_BLOCK, dtype=np.int64)).reshape(-1)


@dataclass(frozen=True)
class TrellisModel:
    """What the last Viterbi pass needs besides the data: code lengths and ``λ``.

    ``costs`` is None (and ``lam`` 0) for the plain nearest-path search. A
    model fitted once (:func:`tcq_design`) and applied to every chunk makes
    each chunk's points depend on that chunk alone.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=4000)
    >>> m = tcq_design(x, 0.25, 8)
    >>> round(m.lam / 0.25**2, 3), m.costs is not None
    (0.4, True)
    """

    costs: IndexCostModel | None
    lam: float


def _design_input(x, step, weights, sample_elements, passes, chunk_elements):
    """The values, weights and trellis chunk of the model passes, checked (float64).

    Inputs larger than ``2·sample_elements`` are sampled *before* the float64
    conversion, so designing on a large array costs the sample's memory only.
    """
    x = np.asarray(x).reshape(-1)
    if weights is not None:
        weights = np.asarray(weights).reshape(-1)
        if weights.size != x.size:
            raise ValueError(f"weights have {weights.size} elements, x has {x.size}")
    if x.size > 2 * sample_elements and passes > 1:
        idx = _sample_index(x.size, sample_elements)
        x = np.ascontiguousarray(x[idx], np.float64)
        bad = ~np.isfinite(x)
        if bad.any():  # name the index in the caller's array, not in the sample
            raise ValueError(f"x holds NaN or Inf at index {int(idx[np.argmax(bad)])}")
        weights = None if weights is None else weights[idx]
        chunk_elements = SAMPLE_BLOCK
    xs, step, ws = _check_input(x, step, weights)
    return xs, step, ws, chunk_elements


def tcq_design(
    x,
    step: float,
    states: int = 8,
    *,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    weights=None,
    passes: int = DEFAULT_PASSES,
    kappa: float | None = DEFAULT_KAPPA,
    sample_elements: int = DEFAULT_SAMPLE_ELEMENTS,
) -> TrellisModel:
    """The code-length model of the last Viterbi pass: all passes of :func:`tcq_quantize`
    but the last, run on ``x`` (or on a sample of it).

    Pass 1 is a plain Viterbi search; pass ``p > 1`` minimises
    ``Σ w (x − step·j)² + λ ℓ(i | u)`` with the smoothed code lengths ``ℓ`` of
    pass ``p − 1``'s index histograms (:class:`IndexCostModel`), stopping
    early at a fixed point; the model returned is the one the last pass would
    use. On inputs larger than ``2·sample_elements`` the passes run on an evenly
    spread sample of contiguous blocks of 4096 elements (the trellis restarts
    at each); otherwise on all of ``x``, restarting every ``chunk_elements``.

    Parameters
    ----------
    x : array_like of float
        The design values (the array, or a sample of it).
    step, states, chunk_elements, weights, passes, kappa, sample_elements
        As for :func:`tcq_quantize`.

    Returns
    -------
    TrellisModel
        No code lengths when ``passes == 1``.

    Raises
    ------
    ValueError
        Non-finite input or step, unknown state count, bad weights.

    Examples
    --------
    >>> x = np.random.default_rng(1).normal(size=3000)
    >>> m = tcq_design(x, 0.2, 8)
    >>> bool(np.array_equal(tcq_quantize(x, 0.2, 8, model=m), tcq_quantize(x, 0.2, 8)))
    True
    """
    trellis_masks(states)
    if passes < 1:
        raise ValueError("passes must be >= 1")
    if chunk_elements < 1:
        raise ValueError("chunk_elements must be >= 1")
    xs, step, ws, chunk = _design_input(x, step, weights, sample_elements, passes, chunk_elements)
    # λ in units of the mean weight, so that weights are relative: scaling them all by a
    # constant changes no point (fsum: the same sum on every machine)
    scale = step * step * (math.fsum(ws) / ws.size if ws.size else 1.0)
    if not scale > 0:  # every weight zero: no distortion to trade, λ on the unit scale
        scale = step * step
    lam = None if kappa is None else float(kappa) * scale
    model = None
    prev = None
    for _ in range(passes - 1 if xs.size else 0):
        pts = _viterbi(xs, ws, step, states, model, lam or 0.0, chunk)
        if prev is not None and np.array_equal(pts, prev):
            break  # a fixed point: the next model would be this one again
        prev = pts
        hists, lo = tcq_union_histograms(pts, states, chunk)
        if lam is None:
            lam = adaptive_kappa(_entropy(hists)) * scale
        hists = [np.pad(h, MARGIN) for h in hists]
        model = IndexCostModel.from_histograms(hists, [lo[u] - MARGIN for u in range(2)])
    return TrellisModel(model, float(lam or 0.0) if model is not None else 0.0)


def tcq_quantize(
    x,
    step: float,
    states: int = 8,
    *,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    weights=None,
    passes: int = DEFAULT_PASSES,
    kappa: float | None = DEFAULT_KAPPA,
    sample_elements: int = DEFAULT_SAMPLE_ELEMENTS,
    model: TrellisModel | None = None,
) -> np.ndarray:
    """Entropy-constrained TCQ: the trellis points ``j`` of ``x`` (reconstruction ``step·j``).

    The model passes (:func:`tcq_design`, skipped when ``model`` is given)
    fit the code lengths ``ℓ(i | u)`` and ``λ = κ·step²·w̄`` (``w̄`` the mean weight
    of the design values, 1 without weights: weights are relative); the last pass
    is the Viterbi search of

    .. math:: \\min \\sum_k w_k (x_k - \\mathrm{step}\\, j_k)^2 + \\lambda\\, \\ell(i_k \\mid u_k)

    over every chunk of ``chunk_elements`` of ``x`` (independently, the
    trellis restarting in state 0). The result depends on neither the thread
    count nor the machine; with a given ``model`` a chunk's points depend on
    that chunk's values alone.

    Parameters
    ----------
    x : array_like of float
        Values (flattened).
    step : float
        Spacing of the reproduction points.
    states : int
        Trellis states: 4, 8, 16, 32, 64, 128 or 256.
    chunk_elements : int
        Elements per chunk; the trellis restarts in state 0 at each.
    weights : array_like of float, optional
        Non-negative weight per element in the distortion (e.g. a diagonal Hessian);
        relative: multiplying them all by a constant changes nothing.
    passes : int
        Viterbi passes in all (1 = no rate term).
    kappa : float, optional
        ``λ / step²``; None (default) takes ``0.4`` when the plain pass's
        index entropy ``H0`` is at least 2 bits, rising linearly to ``0.5`` at
        ``H0 <= 1`` (low rates gain from a larger multiplier).
    sample_elements : int
        Size of the sample the model passes run on.
    model : TrellisModel, optional
        A model fitted beforehand (e.g. on a sample of a larger array): only
        the last pass runs (``passes``, ``kappa``, ``sample_elements`` unused).

    Returns
    -------
    numpy.ndarray of int64
        Points ``j``, one per element.

    Raises
    ------
    ValueError
        Non-finite input or step, unknown state count, bad weights.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=1000)
    >>> j = tcq_quantize(x, 0.25, 8)
    >>> bool(np.mean((x - tcq_reconstruct(j, 0.25)) ** 2) < 0.25**2 / 3)
    True
    """
    trellis_masks(states)
    if chunk_elements < 1:
        raise ValueError("chunk_elements must be >= 1")
    x, step, w = _check_input(x, step, weights)
    if model is None:
        model = tcq_design(
            x,
            step,
            states,
            chunk_elements=chunk_elements,
            weights=None if weights is None else w,
            passes=passes,
            kappa=kappa,
            sample_elements=sample_elements,
        )
    if x.size == 0:
        return np.zeros(0, np.int64)
    return _viterbi(x, w, step, states, model.costs, model.lam, chunk_elements)


def adaptive_kappa(h0: float) -> float:
    """κ for a plain-pass index entropy of ``h0`` bits per element (see :func:`tcq_quantize`).

    Examples
    --------
    >>> adaptive_kappa(3.0), adaptive_kappa(1.5), adaptive_kappa(0.2)
    (0.4, 0.45, 0.5)
    """
    return KAPPA_HIGH + (KAPPA_LOW - KAPPA_HIGH) * min(max(2.0 - h0, 0.0), 1.0)


def _entropy(hists) -> float:
    n = sum(int(h.sum()) for h in hists)
    if n == 0:
        return 0.0
    bits = 0.0
    for h in hists:
        h = h[h > 0].astype(np.float64)
        if h.size:
            bits -= float((h * np.log2(h / h.sum())).sum())
    return bits / n


def tcq_reconstruct(points, step: float) -> np.ndarray:
    """Reconstruction ``step·j`` as float64.

    Examples
    --------
    >>> tcq_reconstruct(np.array([0, 2, -3]), 0.5).tolist()
    [0.0, 1.0, -1.5]
    """
    # One float64 result, no int-to-float temporary (same values: the ufunc casts first).
    return np.multiply(np.asarray(points, np.int64), float(step), dtype=np.float64)


def tcq_to_streams(points, states: int, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS):
    """The index streams: ``(symbols, offsets)``, chunk-major, two streams per chunk.

    Stream ``2c + u`` = ``symbols[offsets[2c+u] : offsets[2c+u+1]]`` holds the
    union indices ``i = (j − u)/2`` of chunk ``c``'s elements met in union-``u``
    states, in element order.

    Raises
    ------
    ValueError
        The points are not a trellis path from state 0 in every chunk.

    Examples
    --------
    >>> s, o = tcq_to_streams(np.array([0, 2, -3, 0]), 4)
    >>> s.tolist(), o.tolist()
    ([0, 1, 0, -2], [0, 3, 4])
    """
    nu, h0, h1 = trellis_masks(states)
    points = np.ascontiguousarray(points, np.int64).reshape(-1)
    _, _, counts, ok = _union_stats(points, nu, h0, h1, chunk_elements)
    if not ok.all():
        raise ValueError(f"points are not a trellis path (chunk {int(np.flatnonzero(~ok)[0])})")
    if counts.size == 0:
        return np.zeros(0, np.int64), np.zeros(1, np.int64)
    offsets = np.zeros(counts.size + 1, np.int64)
    np.cumsum(counts.reshape(-1), out=offsets[1:])
    symbols = np.empty(int(offsets[-1]), np.int64)
    ok2 = np.empty(counts.shape[0], np.int64)
    trellis_kernels.points_to_stream_buffer(
        points, nu, h0, h1, int(chunk_elements), offsets, symbols, ok2
    )
    if not ok2.all():  # pragma: no cover - union_stats already validated the path
        raise ValueError("points are not a trellis path")
    return symbols, offsets


def tcq_from_streams(
    symbols,
    offsets,
    states: int,
    n_elements: int,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> np.ndarray:
    """Inverse of :func:`tcq_to_streams`: the points ``j`` of ``n_elements`` elements.

    Every chunk's two streams must be used up exactly; the decoder follows the
    trellis from state 0 with ``j = 2i + u`` and ``b = (i & 1) ⊕ parity(s & h1)``.

    Raises
    ------
    CorruptStreamError
        Offsets inconsistent with the buffer or the chunk count, a stream too
        short or too long, an index beyond ±2**60.

    Examples
    --------
    >>> tcq_from_streams(np.array([0, 1, 0, -2]), np.array([0, 3, 4]), 4, 4).tolist()
    [0, 2, -3, 0]
    """
    nu, h0, h1 = trellis_masks(states)
    symbols = np.ascontiguousarray(symbols, np.int64).reshape(-1)
    offsets = np.ascontiguousarray(offsets, np.int64).reshape(-1)
    n_chunks = -(-int(n_elements) // int(chunk_elements))
    if (
        offsets.size != 2 * n_chunks + 1
        or (offsets.size and offsets[0] != 0)
        or (offsets.size and offsets[-1] != symbols.size)
    ):
        raise CorruptStreamError("TCQ stream offsets do not match the chunk count or buffer")
    points = np.empty(int(n_elements), np.int64)
    if n_chunks == 0:
        return points
    ok = np.empty(n_chunks, np.int64)
    trellis_kernels.stream_buffer_to_points(
        symbols, offsets, nu, h0, h1, int(chunk_elements), points, ok
    )
    if not ok.all():
        raise CorruptStreamError(
            f"TCQ streams of chunk {int(np.flatnonzero(ok == 0)[0])} do not match its elements"
        )
    return points
