"""Learned vector quantizers: k-means VQ, product (PQ) and residual (RVQ) quantization.

Gong, Liu, Yang & Bourdev (2014), "Compressing Deep Convolutional Networks
using Vector Quantization": the weights are cut into sub-vectors and each
sub-vector is replaced by the index of its nearest codeword in a codebook
learned by k-means; product quantization gives each *sub-space* its own
codebook, residual quantization codes what one codebook leaves with the next.

**Layout of a flat array.** The codec sees a flat (C-order) array. With
``subvector = d`` and ``subspaces = M`` a *block* is ``M·d`` consecutive
elements (the codec pads the array with zeros to whole blocks) and its
sub-vector ``j`` (elements ``j·d … j·d + d − 1`` of the block) is coded with
codebook ``j``. For a weight matrix whose rows have ``n`` elements,
``subspaces = n / d`` gives exactly Gong et al.'s PQ of the rows (each group
of ``d`` columns has its own codebook); ``subspaces=1`` (``quantizer="vq"``)
is plain k-means VQ with one codebook for all sub-vectors. With
``stages = S`` each sub-vector is coded greedily by ``S`` codebooks in turn,
stage ``s`` quantizing the residual that stages ``0 … s−1`` left (RVQ). All
``S·M`` codebooks have the same number of codewords ``K`` (``levels=``).

**Design** (:func:`train_codebook`): greedy k-means++ seeding then Lloyd's
iteration, deterministic from ``seed`` (the seeding draws come from
``numpy.random.default_rng([seed, stage, subspace])``). With ``weights=h``
(e.g. a diagonal Hessian estimate, Choi et al. 2017) each sub-vector gets the
mean of its elements' weights and the design minimises

.. math:: \\sum_v \\bar h_v \\,\\lVert x_v - c_{q(v)} \\rVert^2 ,

so the nearest-codeword rule is still optimal for it and the decoder needs no
weights. Codewords are sorted by decreasing use, so the same index has a
similar probability in every codebook (which helps when they share a stream).

**Stream** (docs/format.md §4d): the codebooks travel in the header extras,
in the narrowest of float16/float32/float64 whose rounding adds at most
1e-3 of the design's distortion (float16 for a float16 array coded in one
stage); the indices go to the entropy coders as one stream per chunk, or one
per codebook when the design finds that this codes smaller.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .._kernels import vq as kernels
from ..errors import CorruptStreamError
from ..framing import FieldReader, varint
from .base import Designer, Quantizer, Search, finite_variance

__all__ = [
    "VQQuantizer",
    "VQDesigner",
    "PQDesigner",
    "RVQDesigner",
    "TrainedCodebook",
    "train_codebook",
    "design_vq",
]

#: Most codewords per codebook.
MAX_LEVELS = 1 << 16
#: Most elements per sub-vector, sub-spaces per block, and stages.
MAX_SUBVECTOR = 256
MAX_SUBSPACES = 4096
MAX_STAGES = 16
#: Most codebooks that get a stream each (the container's stream directory limit).
MAX_SPLIT_STREAMS = 64
#: Codewords when no target is given (``levels=256``: one byte per index before coding).
DEFAULT_LEVELS = 256
DEFAULT_MAX_ITER = 100
#: Lloyd stops when the relative decrease of the distortion falls to this.
LLOYD_TOL = 1e-5

_DTYPE_CODES = ("float16", "float32", "float64")
_LE = {"float16": "<f2", "float32": "<f4", "float64": "<f8"}
_FLAG_SPLIT = 1
#: Rough bits a coder's table costs per used symbol (for the stream-layout choice).
_TABLE_BITS_PER_SYMBOL = 10.0


# ---------------------------------------------------------------------------
# training one codebook
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainedCodebook:
    """One learned codebook and how Lloyd's iteration got there.

    Attributes
    ----------
    codebook : ndarray, shape (K, d)
        The codewords (float64).
    history : ndarray
        Weighted distortion ``Σ w_v ||x_v − c_{q(v)}||²`` of each Lloyd pass
        (non-increasing); ``history[-1]`` belongs to ``codebook``.
    indices : ndarray of int64
        Nearest codeword of every training vector for ``codebook``.
    """

    codebook: np.ndarray
    history: np.ndarray
    indices: np.ndarray = field(repr=False)

    @property
    def n_iter(self) -> int:
        return int(self.history.size)


def train_codebook(
    vectors,
    levels: int,
    *,
    weights=None,
    seed=0,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = LLOYD_TOL,
    init=None,
) -> TrainedCodebook:
    """k-means codebook of ``levels`` codewords: greedy k-means++ seeding, then Lloyd.

    .. math:: \\min_{c_1..c_K}\\; \\sum_v w_v \\min_k \\lVert x_v - c_k \\rVert^2

    Parameters
    ----------
    vectors : array_like, shape (n, d)
        Training vectors, finite, ``n >= 1``.
    levels : int
        Codewords ``K >= 1``. With fewer distinct vectors than ``K`` the
        spare codewords duplicate others (they are never chosen).
    weights : array_like, shape (n,), optional
        Non-negative weight of each vector (default 1).
    seed : int or sequence of int
        Seeds the k-means++ draws (``numpy.random.default_rng(seed)``); global
        numpy state is never used.
    max_iter : int
        Lloyd passes at most.
    tol : float
        Stop when a pass lowers the distortion by at most ``tol`` of it (or the
        assignment repeats).
    init : array_like, shape (K, d), optional
        Start Lloyd from these codewords instead of k-means++.

    Returns
    -------
    TrainedCodebook

    Examples
    --------
    >>> x = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.2, 5.0]])
    >>> tc = train_codebook(x, 2, seed=0)
    >>> sorted(tc.codebook.round(2).tolist())
    [[0.05, 0.0], [5.1, 5.0]]
    >>> bool(np.all(np.diff(tc.history) <= 0))
    True
    """
    X = np.ascontiguousarray(vectors, np.float64)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError("vectors must be a non-empty (n, d) array")
    if not np.isfinite(X).all():
        raise ValueError("vectors must be finite")
    K = _check_int("levels", levels, 1, MAX_LEVELS)
    max_iter = _check_int("max_iter", max_iter, 1, 1 << 30)
    n, d = X.shape
    w = np.ones(n) if weights is None else np.ascontiguousarray(weights, np.float64)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite, non-negative, one per vector")
    if init is None:
        C = np.empty((K, d), np.float64)
        n_trials = 2 + int(math.log(K))
        u = np.random.default_rng(seed).random(1 + (K - 1) * n_trials)
        nc = kernels.kmeanspp(X, w, K, n_trials, u, C)
        C[nc:] = C[0]
    else:
        C = np.array(init, np.float64, order="C")
        if C.shape != (K, d) or not np.isfinite(C).all():
            raise ValueError(f"init must be a finite ({K}, {d}) array")
    history = np.empty(max_iter, np.float64)
    idx = np.empty(n, np.int64)
    dist = np.empty(n, np.float64)
    it = kernels.lloyd(X, w, C, max_iter, float(tol), history, idx, dist)
    return TrainedCodebook(C, history[:it].copy(), idx)


# ---------------------------------------------------------------------------
# the quantizer (what a stream's header names)
# ---------------------------------------------------------------------------
class VQQuantizer(Quantizer):
    """``S`` stages × ``M`` sub-spaces of ``K``-codeword codebooks over ``d``-element
    sub-vectors (see the module docstring).

    Parameters
    ----------
    codebooks : array_like, shape (S, M, K, d)
        ``codebooks[s, j]`` codes sub-space ``j`` at stage ``s``.
    codebook_dtype : {"float16", "float32", "float64"}
        Precision of the codebooks in the stream (they are rounded to it here,
        so encoder and decoder agree exactly).
    split_streams : bool
        One symbol stream per codebook (``S·M <= 64``) instead of one per chunk.

    Examples
    --------
    >>> cb = np.array([[[[-1.0, -1.0], [1.0, 1.0]]]])   # S = M = 1, K = 2, d = 2
    >>> q = VQQuantizer(cb, codebook_dtype="float32")
    >>> idx = q.quantize(np.array([0.9, 1.2, -0.7, -2.0]))
    >>> idx.tolist(), q.dequantize(idx).tolist()
    ([1, 0], [1.0, 1.0, -1.0, -1.0])
    """

    kind = "vq"
    kind_code = 3

    def __init__(self, codebooks, *, codebook_dtype: str = "float32", split_streams=False):
        if codebook_dtype not in _LE:
            raise ValueError(f"codebook_dtype must be one of {_DTYPE_CODES}")
        cb = np.asarray(codebooks, np.float64)
        if cb.ndim != 4:
            raise ValueError("codebooks must have shape (stages, subspaces, levels, subvector)")
        S, M, K, d = cb.shape
        _check_int("stages", S, 1, MAX_STAGES)
        _check_int("subspaces", M, 1, MAX_SUBSPACES)
        _check_int("levels", K, 1, MAX_LEVELS)
        _check_int("subvector", d, 1, MAX_SUBVECTOR)
        with np.errstate(over="ignore"):
            cb = cb.astype(_LE[codebook_dtype]).astype(np.float64)
        if not np.isfinite(cb).all():
            raise ValueError(f"codebooks must be finite in the stored precision ({codebook_dtype})")
        if split_streams and S * M > MAX_SPLIT_STREAMS:
            raise ValueError(f"at most {MAX_SPLIT_STREAMS} codebooks can have a stream each")
        self.codebooks = np.ascontiguousarray(cb)
        self.codebook_dtype = codebook_dtype
        self.split_streams = bool(split_streams)

    stages = property(lambda self: self.codebooks.shape[0])
    subspaces = property(lambda self: self.codebooks.shape[1])
    levels = property(lambda self: self.codebooks.shape[2])
    subvector = property(lambda self: self.codebooks.shape[3])

    @property
    def block_size(self) -> int:
        return self.subspaces * self.subvector

    @property
    def streams_per_chunk(self) -> int:
        return self.stages * self.subspaces if self.split_streams else 1

    @property
    def _per_block(self) -> int:
        """Indices per block: one per stage and sub-space."""
        return self.stages * self.subspaces

    # -- quantization ---------------------------------------------------------------
    def quantize(self, x: np.ndarray, chunk_elements=None, weights=None, first=0) -> np.ndarray:
        """Indices, block by block, then stage, then sub-space: ``points[(b·S + s)·M + j]``.

        There are ``S·M`` indices per block of ``M·d`` elements (not one per element).
        ``weights`` are not needed: a sub-vector's weight is the mean of its elements'
        (the design's choice), so the nearest codeword is the best one whatever it is.
        """
        x = np.ascontiguousarray(x, np.float64)
        if x.size % self.block_size:
            raise ValueError(f"x must hold whole blocks of {self.block_size} elements")
        points = np.empty(x.size // self.block_size * self._per_block, np.int64)
        if points.size:
            kernels.encode_blocks(x, self.codebooks, points)
        return points

    def dequantize(self, points: np.ndarray, chunk_elements=None, first=0) -> np.ndarray:
        """Sum over stages of the chosen codewords; CorruptStreamError for a bad index."""
        points = np.ascontiguousarray(points, np.int64)
        if points.size % self._per_block:
            raise CorruptStreamError("the number of indices is not a whole number of blocks")
        out = np.empty(points.size // self._per_block * self.block_size, np.float64)
        if out.size and kernels.decode_blocks(points, self.codebooks, out) >= 0:
            raise CorruptStreamError("a vector quantizer index lies outside its codebook")
        return out

    def expected_mse(self) -> float | None:
        return None

    # -- header (docs/format.md §2, §4d) --------------------------------------------
    def header_fields(self) -> bytes:
        S, M, K, d = self.codebooks.shape
        return (
            varint(d)
            + varint(M)
            + varint(S)
            + varint(K)
            + bytes([_DTYPE_CODES.index(self.codebook_dtype)])
            + bytes([_FLAG_SPLIT if self.split_streams else 0])
        )

    def extras(self) -> bytes:
        return self.codebooks.astype(_LE[self.codebook_dtype]).tobytes()

    @classmethod
    def from_header(cls, fields: FieldReader, extras: bytes) -> VQQuantizer:
        d = fields.varint(MAX_SUBVECTOR)
        M = fields.varint(MAX_SUBSPACES)
        S = fields.varint(MAX_STAGES)
        K = fields.varint(MAX_LEVELS)
        code = fields.byte()
        flags = fields.byte()
        if min(d, M, S, K) < 1:
            raise ValueError("codebook sizes must be positive")
        if code >= len(_DTYPE_CODES):
            raise CorruptStreamError("invalid codebook dtype in header")
        if flags & ~_FLAG_SPLIT:
            raise CorruptStreamError("unknown vector quantizer flags in header")
        dt = _DTYPE_CODES[code]
        size = S * M * K * d
        if len(extras) != size * np.dtype(_LE[dt]).itemsize:
            raise ValueError("codebook size does not match the header extras")
        stored = np.frombuffer(extras, _LE[dt])
        if not np.isfinite(stored).all():  # before the cast, which would warn on NaN
            raise ValueError("codebook holds NaN or Inf")
        cb = stored.astype(np.float64).reshape(S, M, K, d)
        if not np.isfinite(cb).all():
            raise ValueError("codebook holds NaN or Inf")
        return cls(cb, codebook_dtype=dt, split_streams=bool(flags & _FLAG_SPLIT))

    def describe(self) -> dict:
        return {
            "levels": self.levels,
            "subvector": self.subvector,
            "subspaces": self.subspaces,
            "stages": self.stages,
        }

    # -- fine-tuning (Gong et al. 2014's codebooks are the shared values) ----------------
    def shared_values(self, points: np.ndarray) -> tuple[int, np.ndarray]:
        """``(0, codebooks.ravel())``: every codeword coordinate is one shared value.

        Entry ``((s·M + j)·K + k)·d + e`` is coordinate ``e`` of codeword ``k`` of
        sub-space ``j`` at stage ``s``; :meth:`shared_value_index` says which
        entries each element sums.
        """
        return 0, self.codebooks.reshape(-1).copy()

    def with_shared_values(self, offset: int, table: np.ndarray) -> VQQuantizer:
        """The same indices with new codebooks (stored in the same precision)."""
        if offset != 0 or table.size != self.codebooks.size:
            raise ValueError(f"expected {self.codebooks.size} codebook entries starting at 0")
        return VQQuantizer(
            np.reshape(table, self.codebooks.shape),
            codebook_dtype=self.codebook_dtype,
            split_streams=self.split_streams,
        )

    def shared_value_index(self, points: np.ndarray, offset: int) -> np.ndarray:
        """``(S, n_padded)`` entries of :meth:`shared_values`: element ``e`` of sub-space
        ``j`` of block ``b`` sums, over the stages ``s``, entry
        ``((s·M + j)·K + points[(b·S + s)·M + j])·d + e``.

        Raises
        ------
        ValueError
            ``offset`` is not 0, or the indices are not whole blocks.

        Examples
        --------
        >>> cb = np.zeros((1, 2, 3, 2))          # S = 1, M = 2, K = 3, d = 2
        >>> VQQuantizer(cb).shared_value_index(np.array([2, 0]), 0).tolist()
        [[4, 5, 6, 7]]
        """
        if offset != 0:
            raise ValueError("vector quantizer tables start at index 0")
        S, M, K, d = self.codebooks.shape
        P = np.asarray(points, np.int64)
        if P.size % (S * M):
            raise ValueError("the number of indices is not a whole number of blocks")
        P = P.reshape(-1, S, M)  # block, stage, sub-space
        stage = np.arange(S).reshape(1, S, 1, 1)
        sub = np.arange(M).reshape(1, 1, M, 1)
        coord = np.arange(d).reshape(1, 1, 1, d)
        entry = ((stage * M + sub) * K + P[..., None]) * d + coord  # block, s, j, e
        return entry.transpose(1, 0, 2, 3).reshape(S, -1)

    # -- symbol streams -------------------------------------------------------------
    def to_streams(self, points: np.ndarray, chunk_elements: int):
        per = self._per_block
        bpc = chunk_elements // self.block_size
        if not self.split_streams:
            offsets = np.append(np.arange(0, points.size, bpc * per), points.size)
            return points, offsets.astype(np.int64)
        P = points.reshape(-1, per)
        nb = P.shape[0]
        parts, sizes = [], []
        for lo in range(0, nb, bpc):
            rows = P[lo : lo + bpc]
            parts.append(rows.T.reshape(-1))
            sizes.extend([rows.shape[0]] * per)
        offsets = np.zeros(len(sizes) + 1, np.int64)
        np.cumsum(sizes, out=offsets[1:])
        symbols = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return symbols, offsets

    def stream_counts_ok(self, counts: list[int], n_elements: int) -> bool:
        if n_elements % self.block_size:
            return False
        nb = n_elements // self.block_size
        if self.split_streams:
            return len(counts) == self._per_block and all(c == nb for c in counts)
        return len(counts) == 1 and counts[0] == nb * self._per_block

    def from_streams(self, symbols, offsets, chunk_elements: int, n_padded: int) -> np.ndarray:
        per = self._per_block
        bpc = chunk_elements // self.block_size
        bad = np.flatnonzero((symbols < 0) | (symbols >= self.levels))
        if bad.size:
            if self.split_streams:
                chunk = int(np.searchsorted(offsets, bad[0], side="right") - 1) // per
            else:
                chunk = int(bad[0] // (bpc * per))
            raise CorruptStreamError(f"chunk {chunk}: an index lies outside its codebook")
        if not self.split_streams:
            return symbols
        nb = n_padded // self.block_size
        points = np.empty((nb, per), np.int64)
        for c, lo in enumerate(range(0, nb, bpc)):
            rows = min(bpc, nb - lo)
            a = offsets[c * per]
            points[lo : lo + rows] = symbols[a : a + rows * per].reshape(per, rows).T
        return points.reshape(-1)


# ---------------------------------------------------------------------------
# design of all codebooks of one array
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class VQDesign:
    """A designed :class:`VQQuantizer` and its training record.

    ``histories[s][j]`` is the Lloyd history of stage ``s``, sub-space ``j``;
    ``stage_mse[s]`` the MSE per element (padding excluded, unweighted) after
    stages ``0 … s`` with the stored (rounded) codebooks.
    """

    quantizer: VQQuantizer
    histories: tuple
    stage_mse: tuple
    points: np.ndarray = field(repr=False)


def design_vq(
    values,
    *,
    levels: int = DEFAULT_LEVELS,
    subvector: int = 4,
    subspaces: int = 1,
    stages: int = 1,
    weights=None,
    seed: int = 0,
    max_iter: int = DEFAULT_MAX_ITER,
    dtype: str = "float32",
) -> VQDesign:
    """Learn the ``stages × subspaces`` codebooks of a flat array (module docstring).

    Parameters
    ----------
    values : array_like
        The data, flattened in C order and zero-padded to whole blocks of
        ``subvector·subspaces`` elements (padding has weight 0 in the design).
    levels, subvector, subspaces, stages : int
        ``K``, ``d``, ``M``, ``S``. ``K`` is capped at the number of blocks.
    weights : array_like, optional
        Per-element importance (shape of ``values``); a sub-vector's weight is
        the mean of its elements'.
    seed : int
        Seeds k-means++ (``default_rng([seed, s, j])`` for stage ``s``, sub-space ``j``).
    max_iter : int
        Lloyd passes at most per codebook.
    dtype : str
        The array's dtype (chooses the codebooks' stored precision).

    Returns
    -------
    VQDesign

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(4096)
    >>> des = design_vq(x, levels=16, subvector=2, stages=2)
    >>> des.quantizer.codebooks.shape, des.stage_mse[1] < des.stage_mse[0]
    ((2, 1, 16, 2), True)
    """
    d = _check_int("subvector", subvector, 1, MAX_SUBVECTOR)
    M = _check_int("subspaces", subspaces, 1, MAX_SUBSPACES)
    S = _check_int("stages", stages, 1, MAX_STAGES)
    K = _check_int("levels", levels, 1, MAX_LEVELS)
    max_iter = _check_int("max_iter", max_iter, 1, 1 << 30)
    x = np.ascontiguousarray(values, np.float64).reshape(-1)
    n = x.size
    B = M * d
    nb = -(-n // B)
    padded = np.zeros(nb * B, np.float64)
    padded[:n] = x
    ew = np.zeros(nb * B, np.float64)
    ew[:n] = 1.0 if weights is None else np.asarray(weights, np.float64).reshape(-1)
    vw = ew.reshape(nb, M, d).mean(axis=2)  # (nb, M) sub-vector weights
    K = max(1, min(K, nb))
    # The narrowest precision that costs at most 1e-3 of the distortion; it only ever
    # widens, which leaves the codewords already rounded unchanged.
    cb_dtype = "float16"
    exact16 = dtype == "float16" and S == 1  # the decoder rounds to float16 anyway
    books = np.zeros((S, M, K, d), np.float64)
    histories = []
    resid = padded.reshape(nb, M, d).copy()
    stage_mse = []
    for s in range(S):
        hs = []
        for j in range(M):
            if nb == 0:
                hs.append(np.zeros(0))
                continue
            X = np.ascontiguousarray(resid[:, j, :])
            tc = train_codebook(
                X, K, weights=vw[:, j], seed=[seed, s, j], max_iter=max_iter, tol=LLOYD_TOL
            )
            hs.append(tc.history)
            if not exact16:
                cb_dtype = _precision(tc.codebook, X, tc.indices, cb_dtype)
            with np.errstate(over="ignore"):
                C = tc.codebook.astype(_LE[cb_dtype]).astype(np.float64)
            # Most used codeword first: indices of every codebook then share a shape.
            idx = np.empty(nb, np.int64)
            kernels.assign(X, C, np.ones(nb), idx, np.empty(nb))
            order = np.argsort(-np.bincount(idx, minlength=K), kind="stable")
            books[s, j] = C[order]
        histories.append(tuple(hs))
        q = VQQuantizer(books[: s + 1], codebook_dtype=cb_dtype)
        pts = q.quantize(padded)
        rec = q.dequantize(pts)
        resid = (padded - rec).reshape(nb, M, d)
        stage_mse.append(float(np.mean((rec[:n] - x) ** 2)) if n else 0.0)
    quant = VQQuantizer(books, codebook_dtype=cb_dtype)
    points = quant.quantize(padded)
    split = _split_pays(points, S * M, K, nb * B)
    quant = VQQuantizer(books, codebook_dtype=cb_dtype, split_streams=split)
    return VQDesign(quant, tuple(histories), tuple(stage_mse), points)


def _precision(C: np.ndarray, X: np.ndarray, idx: np.ndarray, current: str) -> str:
    """Narrowest of float16/32/64 (not below ``current``) whose rounding of the codebook
    ``C`` adds at most 1e-3 of its distortion on ``X`` (use-weighted; exact if that is 0)."""
    distortion = float(((X - C[idx]) ** 2).sum())
    counts = np.bincount(idx, minlength=C.shape[0]).astype(np.float64)
    for dt in _DTYPE_CODES[_DTYPE_CODES.index(current) :]:
        with np.errstate(over="ignore", invalid="ignore"):
            err = ((C - C.astype(_LE[dt]).astype(np.float64)) ** 2).sum(axis=1)
            cost = float((counts * err).sum())
        if np.isfinite(cost) and cost <= 1e-3 * distortion:
            return dt
    return "float64"


def _split_pays(points: np.ndarray, n_books: int, K: int, n_padded: int) -> bool:
    """Whether one stream per codebook should code smaller than one mixed stream:
    the entropy saved against a rough cost of the extra coder tables."""
    if n_books < 2 or n_books > MAX_SPLIT_STREAMS or points.size == 0:
        return False
    P = points.reshape(-1, n_books)
    hist = np.stack([np.bincount(P[:, j], minlength=K) for j in range(n_books)])

    def bits(counts):
        c = counts[counts > 0].astype(np.float64)
        return float(-(c * np.log2(c / c.sum())).sum())

    saved = bits(hist.sum(axis=0)) - sum(bits(h) for h in hist)
    n_chunks = max(1, -(-n_padded // (1 << 20)))
    used = float(np.count_nonzero(hist)) / n_books
    return saved > n_chunks * (n_books - 1) * used * _TABLE_BITS_PER_SYMBOL


def _check_int(name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must lie in [{lo}, {hi}], got {value}")
    return int(value)


# ---------------------------------------------------------------------------
# designers (what quantizer="vq" / "pq" / "rvq" select)
# ---------------------------------------------------------------------------
class VQDesigner(Designer):
    """``quantizer="vq"``: one k-means codebook of ``levels=`` codewords (default 256)
    for all ``subvector``-element sub-vectors (default 4); ``stages=`` > 1 codes the
    residuals with further codebooks (RVQ).

    Rate control: ``levels=`` is the direct target; ``rate=`` and ``distortion=``
    search ``log2(levels)`` (a full design per step, at most 10) on the real bytes
    or the measured MSE. The rate moves by about ``S / (d·K·ln 2)`` bit per element
    between ``K`` and ``K + 1`` codewords, so it lands within the rate control's
    0.005 bit once ``K`` is a few hundred (``d = 4``, ``S = 1``); with fewer
    codewords it stops at the closest count below the target (with a warning).
    The default (no target) is ``levels=256``, not the codec's ``var/256``.
    """

    name = "vq"
    targets = ("levels",)
    options = MappingProxyType({"subvector": 4, "stages": 1, "max_iter": DEFAULT_MAX_ITER})
    accepts_weights = True
    default_subspaces = 1

    def __init__(self, values, weights, seed, dtype, **opts):
        super().__init__(values, weights, seed, dtype)
        self.subvector = _check_int("subvector", opts["subvector"], 1, MAX_SUBVECTOR)
        self.subspaces = _check_int(
            "subspaces", opts.get("subspaces", self.default_subspaces), 1, MAX_SUBSPACES
        )
        self.stages = _check_int("stages", opts["stages"], 1, MAX_STAGES)
        self.max_iter = _check_int("max_iter", opts["max_iter"], 1, 1 << 20)
        self._designs: dict[int, VQDesign] = {}

    @property
    def block_size(self) -> int:
        return self.subvector * self.subspaces

    @property
    def _n_blocks(self) -> int:
        return -(-self.values.size // self.block_size)

    def design(self, levels: int) -> VQDesign:
        """The design with ``levels`` codewords (cached per call)."""
        levels = _check_int("levels", levels, 1, MAX_LEVELS)
        if levels not in self._designs:
            self._designs[levels] = design_vq(
                self.values,
                levels=levels,
                subvector=self.subvector,
                subspaces=self.subspaces,
                stages=self.stages,
                weights=self.weights,
                seed=self.seed,
                max_iter=self.max_iter,
                dtype=self.dtype,
            )
        return self._designs[levels]

    def quantizer(self, *, levels: int | None = None) -> VQQuantizer:
        return self.design(DEFAULT_LEVELS if levels is None else levels).quantizer

    def _family(self, start: float, slope: float) -> Search:
        top = math.log2(max(1, min(MAX_LEVELS, self._n_blocks)))

        def make(p: float) -> VQQuantizer:
            k = int(round(2.0 ** min(max(p, 0.0), top)))
            return self.design(k).quantizer

        return Search(make, min(max(start, 0.0), top), slope=slope, upper=top, max_steps=10)

    def rate_search(self, rate: float) -> Search:
        # About log2(K) bits per index, S·M indices per block of M·d elements.
        per_p = self.stages / self.subvector
        return self._family(rate / per_p, per_p)

    def for_distortion(self, mse: float) -> Search:
        # Gaussian-like guess: D ≈ var · 2^(−2R), R = S·log2(K)/d.
        var = finite_variance(self.values)
        per_p = self.stages / self.subvector
        start = 0.5 * math.log2(var / mse) / per_p if var > mse else 0.0
        return self._family(start, -2.0 * per_p)


class PQDesigner(VQDesigner):
    """``quantizer="pq"``: product quantization, ``subspaces=`` codebooks (default 2),
    one per sub-vector position inside a block of ``subspaces·subvector`` elements
    (``subspaces = row length / subvector`` is Gong et al.'s PQ of a matrix's rows)."""

    name = "pq"
    options = MappingProxyType(
        {"subvector": 4, "subspaces": 2, "stages": 1, "max_iter": DEFAULT_MAX_ITER}
    )
    default_subspaces = 2


class RVQDesigner(VQDesigner):
    """``quantizer="rvq"``: residual quantization, ``stages=`` codebooks (default 2)
    in turn on the residuals (``subspaces=`` as for PQ, default 1)."""

    name = "rvq"
    options = MappingProxyType(
        {"subvector": 4, "subspaces": 1, "stages": 2, "max_iter": DEFAULT_MAX_ITER}
    )
