"""Framing shared by every rdcodec file: magic, version, length, CRC-32, varints.

Three formats use it: array streams (``\\x89RDC``, container.py), archives of
named arrays (``\\x89RDA``, archive.py) and model files (``\\x89RDM``, the torch
binding). Each starts with the same *head*::

    8 bytes magic, u8 major, u8 minor, u32 L (little-endian), L bytes of body,
    u32 CRC-32

The CRC covers ``[8, 14 + L)`` (version, length and body) in streams and model
files, and the body alone in archives (format version 1 of each, unchanged).
Everything here validates lengths before reading and raises :mod:`codec.errors`
exceptions; nothing trusts a length it has not checked.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from .errors import CorruptStreamError, TruncatedStreamError, UnsupportedFormatError

U32 = struct.Struct("<I")
F64 = struct.Struct("<d")
HEAD_BYTES = 14  # magic, major, minor, u32 length


@dataclass(frozen=True)
class Head:
    """A parsed head: version, body bytes and where the next part starts."""

    major: int
    minor: int
    body: memoryview
    end: int  # offset just after the head's CRC-32


def pack_head(
    magic: bytes, major: int, minor: int, body: bytes, *, crc_of_body_only=False
) -> bytes:
    """``magic, major, minor, u32 len(body), body, u32 CRC-32`` (see the module docstring).

    Examples
    --------
    >>> head = pack_head(b"\\x89TST\\r\\n\\x1a\\n", 1, 0, b"hello")
    >>> read_head(head, b"\\x89TST\\r\\n\\x1a\\n", what="test file", major=1).body.tobytes()
    b'hello'
    """
    versioned = bytes([major, minor]) + U32.pack(len(body)) + body
    crc = zlib.crc32(body if crc_of_body_only else versioned)
    return magic + versioned + U32.pack(crc)


def read_head(
    blob,
    magic: bytes,
    *,
    what: str,
    major: int | tuple[int, ...],
    max_body: int = 1 << 32,
    crc_of_body_only: bool = False,
) -> Head:
    """Validate and parse the head written by :func:`pack_head` (``major``: the major
    version, or the major versions, this reader accepts).

    Raises
    ------
    UnsupportedFormatError
        Not this kind of file (bad magic) or another major version.
    TruncatedStreamError
        The bytes end inside the head.
    CorruptStreamError
        An invalid length or a checksum mismatch.
    """
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise TypeError(f"expected bytes, got {type(blob).__name__}")
    mv = memoryview(blob).cast("B")
    n = len(mv)
    if n < len(magic):
        if magic.startswith(bytes(mv)):
            raise TruncatedStreamError(f"{what} ends inside the magic number")
        raise UnsupportedFormatError(f"not an {what} (bad magic number)")
    if bytes(mv[: len(magic)]) != magic:
        raise UnsupportedFormatError(f"not an {what} (bad magic number)")
    need(mv, HEAD_BYTES, f"{what}'s fixed header")
    got_major, minor = mv[8], mv[9]
    majors = (major,) if isinstance(major, int) else tuple(major)
    if got_major not in majors:
        reads = " and ".join(f"{m}.x" for m in majors)
        raise UnsupportedFormatError(
            f"{what} format version {got_major}.{minor} is not supported (this build reads {reads})"
        )
    (length,) = U32.unpack_from(mv, 10)
    if length > max_body:
        raise CorruptStreamError(f"invalid {what} header length {length}")
    end = HEAD_BYTES + length + 4
    need(mv, end, f"{what}'s header")
    body = mv[HEAD_BYTES : HEAD_BYTES + length]
    (crc,) = U32.unpack_from(mv, HEAD_BYTES + length)
    if zlib.crc32(body if crc_of_body_only else mv[8 : HEAD_BYTES + length]) != crc:
        raise CorruptStreamError(f"{what} header checksum mismatch")
    return Head(got_major, minor, body, end)


def need(buf, end: int, what: str) -> None:
    """TruncatedStreamError unless ``buf`` holds at least ``end`` bytes."""
    if len(buf) < end:
        raise TruncatedStreamError(f"stream ends inside the {what} ({len(buf)} of {end} bytes)")


# ---------------------------------------------------------------------------
# varints (unsigned LEB128) and zigzag
# ---------------------------------------------------------------------------
def varint(v: int) -> bytes:
    """Unsigned LEB128 bytes of ``v >= 0``.

    Examples
    --------
    >>> varint(300).hex()
    'ac02'
    """
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def zigzag(v: int) -> int:
    """Signed to unsigned: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ..."""
    return (v << 1) if v >= 0 else ((-v) << 1) - 1


def unzigzag(u: int) -> int:
    """Inverse of :func:`zigzag`."""
    return (u >> 1) if not u & 1 else -((u + 1) >> 1)


def read_varint(buf, pos: int, end: int, *, what: str = "stream directory", max_bytes=9):
    """Read a varint from ``buf[pos:end]``; returns ``(value, next position)``."""
    value = shift = 0
    for _ in range(max_bytes):
        if pos >= end:
            raise TruncatedStreamError(f"chunk ends inside its {what}")
        b = int(buf[pos])
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
    raise CorruptStreamError(f"varint longer than {max_bytes} bytes in a {what}")


class FieldReader:
    """Sequential reader of binary header fields; CorruptStreamError on anything short.

    Quantizers read their own header fields with it (``from_header``); the
    container checks that they consumed exactly the field bytes.

    Examples
    --------
    >>> r = FieldReader(bytes([7]) + varint(300))
    >>> r.byte(), r.varint(), r.at_end()
    (7, 300, True)
    """

    def __init__(self, data: bytes, pos: int = 0):
        self.data = bytes(data)
        self.pos = pos

    def at_end(self) -> bool:
        return self.pos == len(self.data)

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise CorruptStreamError("header fields end early")
        self.pos += 1
        return self.data[self.pos - 1]

    def varint(self, limit: int = 1 << 64) -> int:
        """A varint below ``limit`` (at most 10 bytes)."""
        value = shift = 0
        for _ in range(10):
            b = self.byte()
            value |= (b & 0x7F) << shift
            if b < 0x80:
                if value >= limit:
                    raise CorruptStreamError("header field out of range")
                return value
            shift += 7
        raise CorruptStreamError("header varint too long")

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes."""
        if len(self.data) - self.pos < n:
            raise CorruptStreamError("header fields end early")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def f64(self) -> float:
        return F64.unpack(self.take(8))[0]
