"""The quantizer protocol and its registry: what the api and the container know of a quantizer.

Two roles, two classes:

* a :class:`Quantizer` is a *designed* quantizer (a lattice at a step, a
  codebook, a trellis): it maps the padded float64 array to int64 indices and
  back, turns indices into the integer symbol streams the coders see, and
  writes and reads its own header bytes. The stream's header names it by a
  one-byte ``kind_code`` (docs/format.md §2).
* a :class:`Designer` is what ``codec.encode(..., quantizer=NAME)`` names: it
  validates its own options once, then picks a :class:`Quantizer` for the data
  and a target (``step=``, ``levels=``, a rate or a distortion). Several
  designers may produce the same quantizer class (uniform, ECSQ and k-means
  all produce a codebook).

A new quantizer is one module with both classes, its kernel, and one
:func:`register` call (see codec/quantizers/__init__.py). Nothing else in the
codec names a quantizer.

The index layout seen by the container: the input is flattened, zero-padded
to a multiple of ``block_size`` and cut into chunks of ``chunk_elements``
(a multiple of ``block_size``); each chunk's indices become
``streams_per_chunk`` symbol streams, coded independently.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import numpy as np

from ..errors import UnsupportedFormatError
from ..framing import FieldReader

__all__ = [
    "Quantizer",
    "Designer",
    "Search",
    "DefaultScale",
    "default_scale",
    "finite_variance",
    "register",
    "get_designer",
    "quantizer_class",
    "designer_names",
]


class Quantizer(ABC):
    """A designed quantizer: indices, symbol streams and header bytes.

    Subclasses set ``kind`` (a name for humans and :func:`codec.inspect`) and
    ``kind_code`` (the header byte, fixed by docs/format.md), and implement the
    abstract methods. ``block_size`` and ``streams_per_chunk`` may be class
    attributes or properties.
    """

    kind: ClassVar[str]
    kind_code: ClassVar[int]
    block_size: int = 1
    streams_per_chunk: int = 1
    #: Whether a chunk's indices depend on that chunk's values (and position) alone,
    #: so that ``codec.encode`` may quantize any group of chunks at a time. A
    #: quantizer that fits a model to all the values it is given (a TCQ quantizer
    #: without design values) sets False and is given the whole array at once.
    chunk_local: ClassVar[bool] = True
    #: Whether :meth:`quantize` runs one thread per chunk, so ``codec.encode``'s chunk
    #: groups should hold a chunk per thread rather than a stream per thread (TCQ's
    #: Viterbi search).
    parallel_chunks: ClassVar[bool] = False
    #: Whether each element's reconstruction is a function of its own index alone (no
    #: dither, no trellis state, no blocks): any subsequence of the indices is then a
    #: valid index array of the same quantizer, decoding to the same values
    #: (:meth:`codec.quantized.QuantizedArray.subset`).
    elementwise: ClassVar[bool] = False

    # -- quantization ---------------------------------------------------------------
    @abstractmethod
    def quantize(self, x: np.ndarray, chunk_elements: int, weights=None, first=0) -> np.ndarray:
        """int64 indices of the flat float64 array ``x`` (chunk by chunk).

        ``x`` is whole chunks of the padded array (the last may be short),
        starting at its element ``first``, a multiple of ``chunk_elements`` (an
        element's dither may depend on its position). ``weights`` (same length,
        or None) are per-element importances for quantizers whose encoder weighs
        the distortion (a quantizer is data-independent: weights come with the
        data, like ``x``).
        Raises ValueError if the values cannot be represented (e.g. |x| / step
        too large).
        """

    @abstractmethod
    def dequantize(self, points: np.ndarray, chunk_elements: int, first=0) -> np.ndarray:
        """float64 reconstruction of the indices of whole chunks starting at padded
        element ``first``; CorruptStreamError if invalid."""

    # -- header ---------------------------------------------------------------------
    @abstractmethod
    def header_fields(self) -> bytes:
        """This quantizer's binary header fields (after the common ones, docs/format.md §2)."""

    def extras(self) -> bytes:
        """Binary header extras (codebooks, value tables); empty by default."""
        return b""

    @classmethod
    @abstractmethod
    def from_header(cls, fields: FieldReader, extras: bytes) -> Quantizer:
        """Read the fields written by :meth:`header_fields` from ``fields`` (which the
        container then checks are used up) and rebuild the quantizer.

        Raises CorruptStreamError/UnsupportedFormatError, or ValueError/TypeError/
        KeyError/OverflowError, which the container reports as a corrupt header.
        """

    def describe(self) -> dict:
        """What :func:`codec.inspect` reports: ``lattice``, ``step``, ``dither``, ``seed``
        where they apply (missing keys read as None/False)."""
        return {}

    # -- symbol streams -------------------------------------------------------------
    def to_streams(self, points: np.ndarray, chunk_elements: int):
        """All chunks' symbol streams, chunk-major: ``(symbols, offsets)`` with stream
        ``c*S + s`` = ``symbols[offsets[c*S+s] : offsets[c*S+s+1]]``.

        Default (``streams_per_chunk == 1``): the indices themselves, one stream per chunk.
        """
        offsets = np.append(np.arange(0, points.size, chunk_elements), points.size)
        return points, offsets.astype(np.int64)

    def stream_counts_ok(self, counts: list[int], n_elements: int) -> bool:
        """Whether one chunk's stream symbol counts (Python ints, as read from the
        stream's directory) fit ``n_elements`` padded elements."""
        return len(counts) == 1 and counts[0] == n_elements

    def from_streams(self, symbols, offsets, chunk_elements: int, n_padded: int) -> np.ndarray:
        """Inverse of :meth:`to_streams` (counts already checked); CorruptStreamError
        naming the chunk if the streams are inconsistent."""
        return symbols

    # -- fine-tuning of shared values and facts -------------------------------------
    def shared_values(self, points: np.ndarray) -> tuple[int, np.ndarray]:
        """``(offset, table)``: elements with index ``offset + i`` share ``table[i]``."""
        raise ValueError(f"the {self.kind} quantizer has no shared values to fine-tune")

    def with_shared_values(self, offset: int, table: np.ndarray) -> Quantizer:
        """The same indices reconstructed from a new table of shared values."""
        raise ValueError(f"the {self.kind} quantizer has no shared values to fine-tune")

    def shared_value_index(self, points: np.ndarray, offset: int) -> np.ndarray:
        """Where each padded element's value comes from in the table of :meth:`shared_values`.

        An array of shape ``(T, n_padded)``: element ``i`` reconstructs to
        ``sum_t table[index[t, i]] - dither_term[i]``. Default (one index per
        element, ``T = 1``): ``points - offset``; a quantizer whose elements sum
        several shared values (residual VQ) overrides it.
        """
        return (np.asarray(points, np.int64) - int(offset))[None, :]

    def dither_term(self, n_padded: int, first: int = 0) -> np.ndarray:
        """Per-element term subtracted after the shared value (zeros without dither)."""
        return np.zeros(n_padded, np.float64)

    def expected_mse(self) -> float | None:
        """The MSE per element known without the data (dithered lattices), else None."""
        return None


#: Default target when no step/rate/distortion is given: MSE = variance / 256
#: (SNR ≈ 24.1 dB, about 4 bit/element on Gaussian data).
DEFAULT_RELATIVE_MSE = 2.0**-8
#: Default step for an all-zero input (no variance or magnitude to scale by).
ZERO_INPUT_STEP = 2.0**-20


@dataclass(frozen=True)
class DefaultScale:
    """The default operating point of an array: a target ``mse`` (``var/256``) when
    the values vary, else a ``step`` (``max|x|/256``, or ``2**-20`` if all zero)."""

    mse: float | None
    step: float | None


def finite_variance(values: np.ndarray) -> float:
    """The variance of ``values`` without overflow.

    Where ``var()`` overflows it is computed on ``values / max|x|`` and scaled
    back, capped at the largest float64 (arrays near ±1.8e308 have a spread no
    float64 can hold).

    Examples
    --------
    >>> bool(finite_variance(np.array([1e308, -1e308])) == np.finfo(np.float64).max)
    True
    """
    if values.size == 0:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        var = _float64_variance(values)
    if np.isfinite(var):
        return var
    peak = float(np.abs(values).max())
    if peak == 0.0:
        return 0.0
    scaled = _float64_variance(values / peak)
    with np.errstate(over="ignore"):
        var = scaled * peak * peak
    return min(var, float(np.finfo(np.float64).max))


_VARIANCE_BLOCK = 1 << 20


def _float64_variance(values: np.ndarray) -> float:
    """``values.var()`` accumulated in float64 without a full-size temporary: numpy's
    own for up to 2**20 elements, else two passes over blocks (mean, then squared
    deviations), so memory stays bounded for arrays of any size."""
    n = values.size
    if n <= _VARIANCE_BLOCK:
        return float(values.var(dtype=np.float64))
    total = 0.0
    for a in range(0, n, _VARIANCE_BLOCK):
        total += float(values[a : a + _VARIANCE_BLOCK].sum(dtype=np.float64))
    mean = total / n
    squares = 0.0
    for a in range(0, n, _VARIANCE_BLOCK):
        d = values[a : a + _VARIANCE_BLOCK].astype(np.float64) - mean
        squares += float(np.dot(d, d))
    return squares / n


def default_scale(values: np.ndarray) -> DefaultScale:
    """:class:`DefaultScale` of ``values`` (every designer's default target).

    Examples
    --------
    >>> default_scale(np.array([0.0, 2.0]))
    DefaultScale(mse=0.00390625, step=None)
    >>> default_scale(np.full(3, -2.0))
    DefaultScale(mse=None, step=0.0078125)
    """
    var = finite_variance(values)
    if var > 0:
        return DefaultScale(var * DEFAULT_RELATIVE_MSE, None)
    # Constant input has no scale of its own: take one from its magnitude.
    peak = float(np.abs(values).max(initial=0.0))
    return DefaultScale(None, peak / 256.0 if peak > 0 else ZERO_INPUT_STEP)


@dataclass(frozen=True)
class Search:
    """A one-parameter family of quantizers for rate control (codec/rate_control.py).

    ``make(p)`` gives the quantizer at parameter ``p``; the searched quantity
    (bits per element, or log2 of the MSE) moves with ``p`` in the direction of
    ``slope`` (its rough value at ``start``); ``p`` never exceeds ``upper``.
    """

    make: Callable[[float], Quantizer]
    start: float
    slope: float
    upper: float | None = None
    max_steps: int = 24


class Designer(ABC):
    """Chooses a quantizer for one array; what ``quantizer=NAME`` selects.

    Class attributes
    ----------------
    name : str
        The ``quantizer=`` value.
    targets : tuple of str
        Direct targets besides ``rate=``/``distortion=`` (e.g. ``("step",)``,
        ``("levels",)``); at most one target is given per call.
    options : Mapping
        Own keyword options and their defaults (``None`` = not given).
    accepts_weights : bool
        Whether per-element importance ``weights=`` shape the design.

    An instance is made once per call with the validated input: ``values``
    (flat, unpadded, in the array's own float dtype — a view of the input, so a
    designer converts only what it uses, e.g. a sample, to float64), ``weights``
    (flat float64 or None), ``seed``, ``dtype`` (the array's dtype name) and
    the options (defaults filled in); it raises ValueError/TypeError for bad
    options.
    """

    name: ClassVar[str]
    targets: ClassVar[tuple[str, ...]] = ("step",)
    options: ClassVar[Mapping[str, object]] = MappingProxyType({})
    accepts_weights: ClassVar[bool] = False

    def __init__(self, values: np.ndarray, weights, seed: int, dtype: str):
        self.values = values
        self.weights = weights
        self.seed = seed
        self.dtype = dtype

    @property
    def block_size(self) -> int:
        """Elements per block of the quantizers it designs (for chunk sizes)."""
        return 1

    @abstractmethod
    def quantizer(self, **target) -> Quantizer:
        """The quantizer for one direct target (``step=``, ``levels=``, ...), or for none
        (the default operating point)."""

    @abstractmethod
    def rate_search(self, rate: float) -> Search:
        """The family that rate control searches for ``rate`` bits per element."""

    @abstractmethod
    def for_distortion(self, mse: float) -> Quantizer | Search:
        """A quantizer whose MSE is ``mse`` (closed form or design), or a family whose
        parameter the rate control searches on the measured log2 MSE."""


# ---------------------------------------------------------------------------
# the registry
# ---------------------------------------------------------------------------
_DESIGNERS: dict[str, type[Designer]] = {}
_KINDS: dict[int, type[Quantizer]] = {}


def register(designer: type[Designer] | None = None, quantizer: type[Quantizer] | None = None):
    """Register a designer under its ``name`` and/or a quantizer class under its
    ``kind_code``. Re-registering the same class is a no-op; another class under a
    taken name or code is a ValueError.

    Examples
    --------
    >>> sorted(designer_names())[:3]
    ['ecsq', 'kmeans', 'lattice']
    """
    if designer is not None:
        old = _DESIGNERS.get(designer.name)
        if old is not None and old is not designer:
            raise ValueError(f"a quantizer named {designer.name!r} is already registered")
        _DESIGNERS[designer.name] = designer
    if quantizer is not None:
        old = _KINDS.get(quantizer.kind_code)
        if old is not None and old is not quantizer:
            raise ValueError(f"quantizer kind code {quantizer.kind_code} is already taken")
        if not 0 <= quantizer.kind_code < 256:
            raise ValueError("kind_code must fit one byte")
        _KINDS[quantizer.kind_code] = quantizer


def unregister(name: str | None = None, kind_code: int | None = None) -> None:
    """Remove a registration (for tests that register their own quantizer)."""
    if name is not None:
        _DESIGNERS.pop(name, None)
    if kind_code is not None:
        _KINDS.pop(kind_code, None)


def designer_names() -> tuple[str, ...]:
    """The ``quantizer=`` values this build accepts."""
    return tuple(_DESIGNERS)


def get_designer(name) -> type[Designer]:
    """The designer registered as ``name``; ValueError listing the choices otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"quantizer must be a string, got {type(name).__name__}")
    try:
        return _DESIGNERS[name.lower()]
    except KeyError:
        choices = ", ".join(repr(n) for n in _DESIGNERS)
        raise ValueError(f"unknown quantizer {name!r}; use one of {choices}") from None


def quantizer_class(kind_code: int) -> type[Quantizer]:
    """The quantizer class of a header's kind byte; UnsupportedFormatError if unknown."""
    try:
        return _KINDS[kind_code]
    except KeyError:
        raise UnsupportedFormatError(f"unsupported quantizer kind {kind_code} in header") from None
