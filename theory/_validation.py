"""Argument checks shared by the :mod:`theory` modules (private).

Every checker raises ``TypeError`` for a value of the wrong kind and
``ValueError`` for a value of the right kind outside its domain, with a
message that names the argument and says what to pass instead.
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

__all__: list[str] = []


def real_scalar(value, name: str) -> float:
    """Return ``value`` as a finite Python float, or raise TypeError/ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    out = float(value)
    if not np.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out!r}")
    return out


def positive_scalar(value, name: str) -> float:
    """Return ``value`` as a finite float > 0, or raise TypeError/ValueError."""
    out = real_scalar(value, name)
    if out <= 0.0:
        raise ValueError(f"{name} must be > 0, got {out!r}")
    return out


def positive_int(value, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int >= ``minimum``, or raise TypeError/ValueError."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got bool")
    try:
        out = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if out < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {out}")
    return out


def real_array(values, name: str, *, ndim: int | None = None) -> np.ndarray:
    """Return ``values`` as a finite float64 array, or raise TypeError/ValueError.

    Booleans, complex numbers, strings and objects raise TypeError.
    """
    arr = np.asarray(values)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        index = tuple(int(i) for i in bad)
        raise ValueError(f"{name} must be finite; first non-finite value at index {index}")
    return arr


def nonnegative_array(values, name: str, *, ndim: int | None = None) -> np.ndarray:
    """Like :func:`real_array` but every entry must also be >= 0."""
    arr = real_array(values, name, ndim=ndim)
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative, got minimum {arr.min()!r}")
    return arr


def positive_array(values, name: str, *, ndim: int | None = None) -> np.ndarray:
    """Like :func:`real_array` but every entry must also be > 0."""
    arr = real_array(values, name, ndim=ndim)
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0 everywhere, got minimum {arr.min()!r}")
    return arr


def probability_vector(values, name: str, *, atol: float = 1e-6) -> np.ndarray:
    """Return a 1-D pmf (non-negative, sums to 1 within ``atol``), renormalised exactly."""
    arr = nonnegative_array(values, name, ndim=1)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    total = arr.sum()
    if abs(total - 1.0) > atol:
        raise ValueError(f"{name} must sum to 1 (got {total!r}); divide it by its sum first")
    return arr / total
