"""The options of :func:`codec.encode` / :func:`codec.quantize`, validated once.

Common options (target, coder, seed, chunk size, weights) are checked here;
a quantizer's own options (``lattice=``, ``levels=``, ``states=``, ...) are
checked by its designer (codec/quantizers/base.py), which declares the ones it
accepts, so a new quantizer brings its options without touching this module.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .quantized import FLOAT_DTYPES, coder_candidates
from .quantizers import base

DEFAULT_QUANTIZER = "lattice"
DEFAULT_CHUNK_ELEMENTS = 1 << 20
#: Targets every quantizer accepts (besides its own, e.g. ``step=`` or ``levels=``).
SHARED_TARGETS = ("rate", "distortion")


def as_float_array(x, *, check_finite: bool = True) -> np.ndarray:
    """``x`` as a float16/32/64 array without NaN or Inf (TypeError/ValueError otherwise).

    ``check_finite=False`` checks the dtype only: a streaming writer checks each
    piece as it reads it (:func:`check_finite`) instead of scanning a memory-mapped
    array twice.
    """
    arr = np.asarray(x)
    if arr.dtype.kind == "c":
        raise TypeError("complex arrays are not supported; encode the real and imaginary parts")
    if arr.dtype.kind != "f" or arr.dtype.name not in FLOAT_DTYPES:
        raise TypeError(
            f"expected a float16, float32 or float64 array, got dtype {arr.dtype}; "
            "convert it with x.astype(np.float32) first"
        )
    if check_finite:
        check_finite_values(arr)
    return arr


def check_finite_values(arr: np.ndarray, *, first: int = 0, shape=None) -> None:
    """ValueError naming the first NaN or Inf of ``arr``.

    ``arr`` may be the flat piece of a bigger array of ``shape`` that starts at
    flat element ``first``: the message names the index in that array.
    """
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.argwhere(bad)[0]
        value = arr[tuple(where)]
        if shape is not None:
            where = np.unravel_index(first + int(where[0]), shape)
        at = tuple(int(i) for i in where)
        raise ValueError(f"x contains NaN or Inf; the first is at index {at}: {value}")


def positive_finite(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__}")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return v


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer in [0, 2**64), got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must lie in [0, 2**64), got {seed}")
    return int(seed)


def _check_target_value(name: str, value):
    if name == "levels":  # a count, not a scale
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"levels must be a positive integer, got {value!r}")
        return int(value)
    return positive_finite(name, value)


def _check_weights(weights, shape) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.asarray(weights)
    if w.dtype.kind not in "fiu":
        raise TypeError(f"weights must be a real array, got dtype {w.dtype}")
    if w.shape != shape:
        raise ValueError(f"weights must have the shape of x {shape}, got {w.shape}")
    w = np.ascontiguousarray(w, np.float64).reshape(-1)
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite and non-negative")
    return w


def _accepting(option: str, kind: str) -> str:
    """'quantizer='a' or 'b'' for the designers that accept ``option`` (for messages)."""
    names = [
        n
        for n in base.designer_names()
        if option in base.get_designer(n).options
        or option in base.get_designer(n).targets
        or (kind == "weights" and base.get_designer(n).accepts_weights)
    ]
    return " or ".join(repr(n) for n in names) or "no quantizer"


@dataclass(frozen=True)
class EncodeOptions:
    """Validated options of one encode call.

    ``target`` is ``(name, value)`` for the one rate-control option given
    (``step``, ``rate``, ``distortion``, or a designer's own such as ``levels``),
    or None for the default operating point.
    """

    designer: type[base.Designer]
    target: tuple[str, float | int] | None
    coder: str
    seed: int
    chunk_size: int | None
    weights: np.ndarray | None
    quantizer_options: dict
    exact: bool = False

    @classmethod
    def parse(cls, shape: tuple, options: dict) -> EncodeOptions:
        """Validate the keyword options of :func:`codec.encode` for an array of ``shape``.

        ``options`` holds every keyword given (``None`` counts as not given).
        """
        opts = {k: v for k, v in options.items() if v is not None}
        name = opts.pop("quantizer", DEFAULT_QUANTIZER)
        designer = base.get_designer(name)
        coder = opts.pop("coder", "arithmetic")
        coder_candidates(coder)  # validates the name
        seed = _check_seed(opts.pop("seed", 0))
        chunk_size = opts.pop("chunk_size", None)
        exact = opts.pop("exact", False)
        if not isinstance(exact, bool | np.bool_):
            raise TypeError("exact must be True or False")
        weights = opts.pop("weights", None)
        if weights is not None and not designer.accepts_weights:
            raise ValueError(
                f"weights= applies to quantizer={_accepting('weights', 'weights')}, "
                f"not {designer.name!r}"
            )
        weights = _check_weights(weights, shape)

        allowed = designer.targets + SHARED_TARGETS
        given = [k for k in opts if k in allowed]
        if len(given) > 1:
            raise ValueError(
                f"give at most one of {', '.join(a + '=' for a in allowed)} (got {given})"
            )
        target = (given[0], _check_target_value(given[0], opts.pop(given[0]))) if given else None

        own = dict(designer.options)
        unknown = sorted(set(opts) - _known_options())
        if unknown:
            raise TypeError(f"unexpected keyword arguments {unknown}")
        for k, v in opts.items():
            if k not in own:
                raise ValueError(
                    f"{k}= does not apply to quantizer={designer.name!r}; it applies to "
                    f"quantizer={_accepting(k, 'option')}"
                )
            own[k] = v
        return cls(designer, target, coder, seed, chunk_size, weights, own, bool(exact))

    def make_designer(self, values: np.ndarray, dtype: str, *, weights="all") -> base.Designer:
        """The designer for the flat float64 ``values`` of an array of ``dtype`` (with
        the call's weights, or ``weights`` for a sample of the values)."""
        w = self.weights if isinstance(weights, str) else weights
        return self.designer(values, w, self.seed, dtype, **self.quantizer_options)

    def chunk_elements(self, block: int) -> int:
        """Padded elements per chunk, a whole number of ``block``-element blocks."""
        chunk_size = self.chunk_size
        if chunk_size is None:
            chunk_size = DEFAULT_CHUNK_ELEMENTS
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral):
            raise TypeError("chunk_size must be an integer number of elements")
        if not block <= chunk_size <= 1 << 30:
            raise ValueError(f"chunk_size must lie in [{block}, 2**30], got {chunk_size}")
        return -(-int(chunk_size) // block) * block


def _known_options() -> set:
    known = set()
    for n in base.designer_names():
        d = base.get_designer(n)
        known.update(d.options)
        known.update(d.targets)
    return known
