"""Lossless entropy coders for integer symbol streams, selected by name.

========== == ===========================================================
name       id coder
========== == ===========================================================
arithmetic 1  static range coder, frequency table in the stream
huffman    2  canonical Huffman, lengths <= 15 bits, table-driven decoder
lzw        3  LZW over tokens, variable-width codes <= 16 bits, reset when full
adaptive   4  adaptive range coder, Krichevsky–Trofimov counts, no table
========== == ===========================================================

Ids are fixed by docs/format.md §5 and never depend on registration order.
"""

from .adaptive import AdaptiveArithmeticCoder
from .arithmetic import ArithmeticCoder
from .base import Coder
from .huffman import HuffmanCoder, huffman_code_lengths
from .lzw import LZWCoder, lzw_compress, lzw_decompress

_CODERS: dict[str, Coder] = {
    c.name: c for c in (ArithmeticCoder(), HuffmanCoder(), LZWCoder(), AdaptiveArithmeticCoder())
}
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


__all__ = [
    "Coder",
    "ArithmeticCoder",
    "HuffmanCoder",
    "LZWCoder",
    "AdaptiveArithmeticCoder",
    "available_coders",
    "get_coder",
    "coder_by_id",
    "huffman_code_lengths",
    "lzw_compress",
    "lzw_decompress",
]
