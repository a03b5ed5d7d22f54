"""Lossless entropy coders for integer symbol streams, selected by name."""

from .arithmetic import ArithmeticCoder
from .base import Coder

_CODERS: dict[str, Coder] = {c.name: c for c in (ArithmeticCoder(),)}
_BY_ID: dict[int, Coder] = {c.coder_id: c for c in _CODERS.values()}


def available_coders() -> tuple[str, ...]:
    """Names accepted by ``codec.encode(..., coder=...)`` besides ``"auto"``."""
    return tuple(_CODERS)


def get_coder(name: str) -> Coder:
    """The coder registered under ``name``; ValueError listing the choices otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"coder must be a string, got {type(name).__name__}")
    try:
        return _CODERS[name.lower()]
    except KeyError:
        choices = ", ".join(repr(c) for c in (*_CODERS, "auto"))
        raise ValueError(f"unknown coder {name!r}; choose one of {choices}") from None


def coder_by_id(coder_id: int) -> Coder | None:
    """The coder with this stream id, or None if this build does not know it."""
    return _BY_ID.get(coder_id)


__all__ = ["Coder", "ArithmeticCoder", "available_coders", "get_coder", "coder_by_id"]
