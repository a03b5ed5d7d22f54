"""Scalar codebook quantizers (uniform, ECSQ, k-means) behind the quantizer protocol.

A :class:`CodebookQuantizer` is a list of reconstruction *levels* and the
decision *thresholds* between them (contiguous cells, as every optimal 1-D
quantizer has). The encoder maps ``x`` to the index of its cell; the stream
carries the indices (one stream per chunk, coded like Z lattice points) and the
levels (header extras, in the array's dtype: the decoder casts to it anyway, so
nothing is lost). Three designers produce it — ``quantizer="uniform"``,
``"ecsq"`` and ``"kmeans"`` — with the algorithms of
:mod:`codec.quantizers.scalar`.
"""

from __future__ import annotations

import math
import numbers
import warnings
from abc import abstractmethod
from types import MappingProxyType

import numpy as np

from ..errors import CorruptStreamError
from ..framing import FieldReader, varint
from . import scalar
from .base import Designer, Quantizer, Search, default_scale

_LEVEL_DTYPES = {"float16": "<f2", "float32": "<f4", "float64": "<f8"}
_DTYPE_CODES = ("float16", "float32", "float64")
MAX_LEVELS = 1 << 24


class CodebookQuantizer(Quantizer):
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

    kind = "scalar"
    kind_code = 1
    dim = 1
    elementwise = True

    def __init__(self, levels, thresholds=None, *, method="custom", level_dtype="float64"):
        if level_dtype not in _LEVEL_DTYPES:
            raise ValueError(f"level_dtype must be one of {sorted(_LEVEL_DTYPES)}")
        levels = np.asarray(levels, np.float64).reshape(-1)
        if not 1 <= levels.size <= MAX_LEVELS:
            raise ValueError(f"a codebook needs 1 to {MAX_LEVELS} levels, got {levels.size}")
        self.level_dtype = level_dtype
        # Round to the stored precision now, so encoder and decoder agree exactly.
        with np.errstate(over="ignore"):
            self.levels = levels.astype(_LEVEL_DTYPES[level_dtype]).astype(np.float64)
        if not np.isfinite(self.levels).all():
            raise ValueError(
                f"codebook levels must be finite in the stored precision ({level_dtype}): "
                "the data's range exceeds it; use a smaller step or fewer levels, or encode "
                "a wider dtype"
            )
        self.thresholds = None if thresholds is None else np.asarray(thresholds, np.float64)
        self.method = str(method)

    def quantize(self, x: np.ndarray, chunk_elements=None, weights=None, first=0) -> np.ndarray:
        """Cell index of every value (``searchsorted`` on the thresholds)."""
        if self.thresholds is None:
            raise ValueError("this codebook has no thresholds: it can decode but not encode")
        return np.searchsorted(self.thresholds, x, side="right").astype(np.int64)

    def dequantize(self, indices: np.ndarray, chunk_elements=None, first=0) -> np.ndarray:
        """``levels[indices]`` as float64; CorruptStreamError for an index out of range."""
        if indices.size and (indices.min() < 0 or indices.max() >= self.levels.size):
            raise CorruptStreamError("a codebook index lies outside the stored codebook")
        return self.levels[indices]

    # -- header (docs/format.md §2) -------------------------------------------------
    def header_fields(self) -> bytes:
        method = self.method.encode("utf-8")
        return (
            varint(len(method))
            + method
            + varint(int(self.levels.size))
            + bytes([_DTYPE_CODES.index(self.level_dtype)])
        )

    def extras(self) -> bytes:
        return self.levels.astype(_LEVEL_DTYPES[self.level_dtype]).tobytes()

    @classmethod
    def from_header(cls, fields: FieldReader, extras: bytes) -> CodebookQuantizer:
        n = fields.varint(257)
        try:
            method = fields.take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptStreamError("header method name is not UTF-8") from None
        k = fields.varint(1 << 40)
        code = fields.byte()
        if code >= len(_DTYPE_CODES):
            raise CorruptStreamError("invalid level dtype in header")
        dt = _DTYPE_CODES[code]
        if not 1 <= k <= MAX_LEVELS:
            raise ValueError("invalid number of levels")
        if len(extras) != k * np.dtype(_LEVEL_DTYPES[dt]).itemsize:
            raise ValueError("codebook size does not match the header extras")
        levels = np.frombuffer(extras, _LEVEL_DTYPES[dt])
        if not np.isfinite(levels).all():
            raise ValueError("codebook holds NaN or Inf")
        return cls(levels, method=method, level_dtype=dt)

    # -- symbol streams: one per chunk, the indices themselves -----------------------
    def from_streams(self, symbols, offsets, chunk_elements: int, n_padded: int) -> np.ndarray:
        bad = np.flatnonzero((symbols < 0) | (symbols >= self.levels.size))
        if bad.size:
            chunk = int(bad[0] // chunk_elements)
            raise CorruptStreamError(f"chunk {chunk}: an index lies outside the codebook")
        return symbols

    # -- fine-tuning ----------------------------------------------------------------
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


def level_dtype_for(array_dtype: str, levels: np.ndarray) -> str:
    """Precision to store levels in: the array's dtype (float32 for a float64 array
    where rounding a level to float32 moves it by < 1e-4 of the closest level gap),
    widened where a level would overflow it (the decoder clamps to the dtype's range).

    Examples
    --------
    >>> level_dtype_for("float16", np.array([-70000.0, 0.0]))
    'float32'
    >>> level_dtype_for("float16", np.zeros(2))
    'float16'
    """
    if array_dtype != "float64":
        with np.errstate(over="ignore"):
            for dtype in (array_dtype, "float32"):
                if np.isfinite(levels.astype(dtype)).all():
                    return dtype
        return "float64"
    err = np.abs(levels.astype(np.float32).astype(np.float64) - levels)
    gap = np.diff(levels).min() if levels.size > 1 else np.inf
    with np.errstate(over="ignore"):
        fits = np.isfinite(levels.astype(np.float32)).all()
    return "float32" if fits and err.max(initial=0.0) < 1e-4 * gap else "float64"


def _check_method(name: str, method, methods: tuple[str, ...]) -> str:
    if method is None:
        return methods[0]
    if method not in methods:
        raise ValueError(f"method for {name} must be one of {methods}, got {method!r}")
    return method


def _check_pin_zero(pin_zero) -> dict:
    """``{"pin_zero": True}`` when asked (the scalar designers' option), else ``{}``."""
    if not isinstance(pin_zero, (bool, np.bool_)):
        raise TypeError(f"pin_zero must be True or False, got {pin_zero!r}")
    return {"pin_zero": True} if pin_zero else {}


def _check_max_levels(max_levels) -> int | None:
    if max_levels is None:
        return None
    if (
        isinstance(max_levels, bool)
        or not isinstance(max_levels, numbers.Integral)
        or not 1 <= max_levels <= MAX_LEVELS
    ):
        raise ValueError(f"max_levels must be an integer in [1, {MAX_LEVELS}], got {max_levels!r}")
    return int(max_levels)


class ScalarDesigner(Designer):
    """Shared part of the uniform, ECSQ and k-means designers.

    Rate control: ``distortion=`` designs directly (:func:`scalar.design_for_distortion`,
    ``weights``-weighted); ``rate=`` searches the design's index entropy on the
    real bytes (the bytes add the coder's overhead, the codebook and the header).
    """

    accepts_weights = True

    def __init__(self, values, weights, seed, dtype: str):
        super().__init__(values, weights, seed, dtype)
        self._extra: dict = {}

    def _design_data(self):
        if self.values.size:
            return self.values, self.weights
        return np.zeros(1), None  # an empty array still gets a (one-level) codebook

    def design(self, **target) -> scalar.ScalarCodebook:
        """Codebook for ``entropy=`` (index entropy), ``mse=`` or the designer's own target."""
        x, w = self._design_data()
        if "entropy" in target:
            return scalar.design_for_rate(
                x, target["entropy"], quantizer=self.name, weights=w, **self._extra
            )
        if "mse" in target:
            return scalar.design_for_distortion(
                x, target["mse"], quantizer=self.name, weights=w, **self._extra
            )
        return self._design_direct(x, w, **target)

    @abstractmethod
    def _design_direct(self, x, w, **target) -> scalar.ScalarCodebook:
        """The codebook for the designer's own target (``step=``, ``lam=``, ``levels=``)."""

    @abstractmethod
    def _design_constant(self, step: float) -> scalar.ScalarCodebook:
        """The codebook of a constant input (``step`` from :func:`default_scale`)."""

    def from_codebook(self, cb: scalar.ScalarCodebook) -> CodebookQuantizer:
        return CodebookQuantizer(
            cb.levels,
            cb.thresholds,
            method=cb.method,
            level_dtype=level_dtype_for(self.dtype, cb.levels),
        )

    def quantizer(self, **target) -> CodebookQuantizer:
        if target:
            return self.from_codebook(self.design(**target))
        scale = default_scale(self.values)
        if scale.mse is not None:
            return self.from_codebook(self.design(mse=scale.mse))
        return self.from_codebook(self._design_constant(scale.step))

    def for_distortion(self, mse: float) -> CodebookQuantizer:
        return self.from_codebook(self.design(mse=mse))

    def rate_search(self, rate: float) -> Search:
        # An index entropy above log2(#distinct values) is unreachable (tiny arrays).
        x, _ = self._design_data()
        top = math.log2(np.unique(x).size)

        def make(entropy: float) -> CodebookQuantizer:
            with warnings.catch_warnings():
                # Missing the entropy by a hull gap is fine: the search re-targets, and
                # warns itself if the byte target stays out of reach.
                warnings.simplefilter("ignore", UserWarning)
                return self.from_codebook(self.design(entropy=min(max(entropy, 0.0), top)))

        # Each step is a full design, and exact designs move in discrete steps: few tries.
        return Search(make, rate, slope=1.0, max_steps=8)


class UniformDesigner(ScalarDesigner):
    """``quantizer="uniform"``: cells of width ``step`` (``dead_zone·step`` wider at zero),
    levels at the cell midpoints (:func:`scalar.design_uniform`)."""

    name = "uniform"
    targets = ("step",)
    options = MappingProxyType({"dead_zone": 0.0})

    def __init__(self, values, weights, seed, dtype, *, dead_zone):
        super().__init__(values, weights, seed, dtype)
        if isinstance(dead_zone, bool) or not isinstance(dead_zone, numbers.Real) or dead_zone < 0:
            raise ValueError(f"dead_zone must be a number >= 0, got {dead_zone!r}")
        self._extra = {"dead_zone": float(dead_zone)}

    def _design_direct(self, x, w, *, step):
        return scalar.design_uniform(x, step, weights=w, **self._extra)

    def _design_constant(self, step):
        return self._design_direct(*self._design_data(), step=step)


class ECSQDesigner(ScalarDesigner):
    """``quantizer="ecsq"``: entropy-constrained scalar quantization, minimising
    :math:`D + \\lambda R` (``lam=``), exactly by dynamic programming (``method="dp"``)
    or by the Chou–Lookabaugh–Gray iteration (``"clg"``); ``max_levels`` cells at most;
    ``pin_zero=True`` sets the level of the cell holding 0 to exactly 0."""

    name = "ecsq"
    targets = ("lam",)
    options = MappingProxyType({"method": None, "max_levels": None, "pin_zero": False})

    def __init__(self, values, weights, seed, dtype, *, method, max_levels, pin_zero):
        super().__init__(values, weights, seed, dtype)
        self._extra = {"method": _check_method(self.name, method, ("dp", "clg"))}
        self._extra.update(_check_pin_zero(pin_zero))
        max_levels = _check_max_levels(max_levels)
        if max_levels is not None:
            self._extra["max_levels"] = max_levels

    def _design_direct(self, x, w, *, lam):
        return scalar.design_ecsq(x, lam=lam, weights=w, **self._extra)

    def _design_constant(self, step):
        return self._design_direct(*self._design_data(), lam=1.0)  # one level suffices


class KMeansDesigner(ScalarDesigner):
    """``quantizer="kmeans"``: ``levels=`` levels minimising the (weighted) MSE, exactly
    by dynamic programming (``method="dp"``) or by Lloyd's iteration (``"lloyd"``);
    ``pin_zero=True`` sets the level of the cell holding 0 to exactly 0."""

    name = "kmeans"
    targets = ("levels",)
    options = MappingProxyType({"method": None, "max_levels": None, "pin_zero": False})

    def __init__(self, values, weights, seed, dtype, *, method, max_levels, pin_zero):
        super().__init__(values, weights, seed, dtype)
        self._method = _check_method(self.name, method, ("dp", "lloyd"))
        self._max_levels = _check_max_levels(max_levels)
        self._pin = _check_pin_zero(pin_zero)
        self._extra = {"method": self._method, "seed": seed, **self._pin}
        if self._max_levels is not None:
            self._extra["max_levels"] = self._max_levels

    def _design_direct(self, x, w, *, levels):
        if self._max_levels is not None:
            raise ValueError(
                "max_levels= applies to quantizer='ecsq', and to 'kmeans' with rate= or "
                "distortion= (levels= fixes the number of levels)"
            )
        if isinstance(levels, bool) or not isinstance(levels, numbers.Integral) or levels < 1:
            raise ValueError(f"levels must be a positive integer, got {levels!r}")
        return scalar.design_kmeans(
            x, int(levels), weights=w, method=self._method, seed=self.seed, **self._pin
        )

    def _design_constant(self, step):
        return self._design_direct(*self._design_data(), levels=1)
