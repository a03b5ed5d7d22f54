"""Scalar codebook quantizers (uniform, ECSQ, k-means) behind the codec interface.

A :class:`CodebookQuantizer` is a list of reconstruction *levels* and the
decision *thresholds* between them (contiguous cells, as every optimal 1-D
quantizer has). The encoder maps ``x`` to the index of its cell; the stream
carries the indices (one stream per chunk, coded like Z lattice points) and the
levels (header extras, in the array's dtype: the decoder casts to it anyway, so
nothing is lost). The design algorithms live in :mod:`codec.quantizers.scalar`.
"""

from __future__ import annotations

import numpy as np

from ..errors import CorruptStreamError

_LEVEL_DTYPES = {"float16": "<f2", "float32": "<f4", "float64": "<f8"}
MAX_LEVELS = 1 << 24


class CodebookQuantizer:
    """Index of the cell of each value; reconstruction ``levels[index]``.

    Parameters
    ----------
    levels : array_like
        ``K`` reconstruction values (any order after fine-tuning).
    thresholds : array_like, optional
        ``K - 1`` sorted boundaries for encoding (not stored in the stream).
    method : str
        Name of the design, stored in the header for information.
    level_dtype : str
        ``"float16"``, ``"float32"`` or ``"float64"``: precision of the stored
        levels (the array's dtype, so the decoded output is unchanged).

    Examples
    --------
    >>> q = CodebookQuantizer([-1.0, 0.0, 1.0], [-0.5, 0.5])
    >>> idx = q.quantize(np.array([-0.8, 0.1, 0.7]))
    >>> idx.tolist(), q.dequantize(idx).tolist()
    ([0, 1, 2], [-1.0, 0.0, 1.0])
    """

    dim = 1
    streams_per_chunk = 1

    def __init__(self, levels, thresholds=None, *, method="custom", level_dtype="float64"):
        if level_dtype not in _LEVEL_DTYPES:
            raise ValueError(f"level_dtype must be one of {sorted(_LEVEL_DTYPES)}")
        levels = np.asarray(levels, np.float64).reshape(-1)
        if not 1 <= levels.size <= MAX_LEVELS:
            raise ValueError(f"a codebook needs 1 to {MAX_LEVELS} levels, got {levels.size}")
        self.level_dtype = level_dtype
        # Round to the stored precision now, so encoder and decoder agree exactly.
        self.levels = levels.astype(_LEVEL_DTYPES[level_dtype]).astype(np.float64)
        if not np.isfinite(self.levels).all():
            raise ValueError("codebook levels must be finite in the stored precision")
        self.thresholds = None if thresholds is None else np.asarray(thresholds, np.float64)
        self.method = str(method)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Cell index of every value (``searchsorted`` on the thresholds)."""
        if self.thresholds is None:
            raise ValueError("this codebook has no thresholds: it can decode but not encode")
        return np.searchsorted(self.thresholds, x, side="right").astype(np.int64)

    def dequantize(self, indices: np.ndarray) -> np.ndarray:
        """``levels[indices]`` as float64; CorruptStreamError for an index out of range."""
        if indices.size and (indices.min() < 0 or indices.max() >= self.levels.size):
            raise CorruptStreamError("a codebook index lies outside the stored codebook")
        return self.levels[indices]

    def header_fields(self) -> dict:
        return {
            "quantizer": "scalar",
            "method": self.method,
            "levels": int(self.levels.size),
            "level_dtype": self.level_dtype,
        }

    def extras(self) -> bytes:
        return self.levels.astype(_LEVEL_DTYPES[self.level_dtype]).tobytes()

    @classmethod
    def from_header(cls, header: dict, extras: bytes) -> CodebookQuantizer:
        k, dt = header["levels"], header["level_dtype"]
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_LEVELS:
            raise ValueError("invalid number of levels")
        if dt not in _LEVEL_DTYPES:
            raise ValueError("invalid level dtype")
        if len(extras) != k * np.dtype(_LEVEL_DTYPES[dt]).itemsize:
            raise ValueError("codebook size does not match the header extras")
        levels = np.frombuffer(extras, _LEVEL_DTYPES[dt])
        if not np.isfinite(levels).all():
            raise ValueError("codebook holds NaN or Inf")
        return cls(levels, method=str(header.get("method", "custom")), level_dtype=dt)

    def to_stream_buffer(self, points: np.ndarray, chunk_elements: int):
        """One stream per chunk: the indices themselves."""
        offsets = np.append(np.arange(0, points.size, chunk_elements), points.size)
        return points, offsets.astype(np.int64)

    def stream_counts_ok(self, counts: np.ndarray, n_elements: int) -> bool:
        return len(counts) == 1 and counts[0] == n_elements

    def from_stream_buffer(self, symbols, offsets, chunk_elements: int, n_padded: int):
        """The indices, or the first chunk holding an index outside the codebook."""
        bad = np.flatnonzero((symbols < 0) | (symbols >= self.levels.size))
        if bad.size:
            return int(bad[0] // chunk_elements)
        return symbols

    def shared_values(self, points: np.ndarray) -> tuple[int, np.ndarray]:
        """``(0, levels)``: every element with index ``i`` shares ``levels[i]``."""
        return 0, self.levels.copy()

    def with_shared_values(self, offset: int, table: np.ndarray) -> CodebookQuantizer:
        """The same cells with new levels (fine-tuning keeps the indices)."""
        if offset != 0 or table.size != self.levels.size:
            raise ValueError(f"expected {self.levels.size} levels starting at index 0")
        return CodebookQuantizer(
            table, self.thresholds, method=self.method, level_dtype=self.level_dtype
        )

    def dither_term(self, n_padded: int) -> np.ndarray:
        return np.zeros(n_padded, np.float64)

    def expected_mse(self) -> None:
        return None
