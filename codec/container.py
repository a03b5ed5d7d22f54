"""Byte layout of an rdcodec stream (docs/format.md is the normative spec).

::

    offset  size  field
    0       8     magic  89 52 44 43 0D 0A 1A 0A  ("\\x89RDC\\r\\n\\x1a\\n")
    8       1     format major version (1)
    9       1     format minor version (0)
    10      4     H = header length, u32 little-endian
    14      H     header: u32 J, J bytes of UTF-8 JSON (sorted keys), H-4-J bytes of extras
    14+H    4     CRC-32 of bytes [8, 14+H)
    18+H    9*C   chunk table, C = header["n_chunks"]: u8 coder id, u32 payload length,
                  u32 CRC-32 of the payload
    ...     4     CRC-32 of the chunk table
    ...           the C payloads, in order; nothing may follow the last one

Each chunk payload is a *stream directory* followed by the coded streams:
``varint S``, then ``S`` pairs ``(varint symbol count, varint byte length)``,
then the ``S`` byte strings back to back.

All parsing here validates lengths against the buffer before reading and
raises :mod:`codec.errors` exceptions; nothing trusts a length it has not checked.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from .errors import CorruptStreamError, TruncatedStreamError, UnsupportedFormatError

MAGIC = b"\x89RDC\r\n\x1a\n"
FORMAT_MAJOR = 1
FORMAT_MINOR = 0
MAX_HEADER_BYTES = 1 << 26
CHUNK_ENTRY = struct.Struct("<BII")
_U32 = struct.Struct("<I")


@dataclass(frozen=True)
class ChunkEntry:
    coder_id: int
    offset: int  # absolute offset of the payload in the blob
    length: int
    crc32: int


@dataclass(frozen=True)
class ParsedStream:
    header: dict
    extras: bytes
    chunks: tuple[ChunkEntry, ...]
    format_version: tuple[int, int]


def pack(header: dict, extras: bytes, chunks: list[tuple[int, bytes]]) -> bytes:
    """Assemble a stream from a JSON-able header, binary extras and (coder id, payload) chunks."""
    header = dict(header, n_chunks=len(chunks))
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    head = _U32.pack(len(text)) + text + extras
    if len(head) > MAX_HEADER_BYTES:
        raise ValueError("header too large (codebook or shape too big for the container)")
    versioned = bytes([FORMAT_MAJOR, FORMAT_MINOR]) + _U32.pack(len(head)) + head
    table = b"".join(
        CHUNK_ENTRY.pack(cid, len(payload), zlib.crc32(payload)) for cid, payload in chunks
    )
    parts = [
        MAGIC,
        versioned,
        _U32.pack(zlib.crc32(versioned)),
        table,
        _U32.pack(zlib.crc32(table)),
    ]
    parts.extend(payload for _, payload in chunks)
    return b"".join(parts)


def _need(blob: bytes | memoryview, end: int, what: str) -> None:
    if len(blob) < end:
        raise TruncatedStreamError(f"stream ends inside the {what} ({len(blob)} of {end} bytes)")


def parse(blob, *, check_payloads: bool = True) -> ParsedStream:
    """Validate the framing of ``blob`` and return its header, extras and chunk table.

    Raises
    ------
    UnsupportedFormatError
        Not an rdcodec stream, or a newer major format version.
    TruncatedStreamError
        The bytes end before the layout they announce.
    CorruptStreamError
        A checksum, length or header field is invalid, or bytes follow the last chunk.
    """
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise TypeError(f"expected bytes, got {type(blob).__name__}")
    mv = memoryview(blob).cast("B")
    n = len(mv)
    if n < len(MAGIC):
        if MAGIC.startswith(bytes(mv)):
            raise TruncatedStreamError("stream ends inside the magic number")
        raise UnsupportedFormatError("not an rdcodec stream (bad magic number)")
    if bytes(mv[:8]) != MAGIC:
        raise UnsupportedFormatError("not an rdcodec stream (bad magic number)")
    _need(mv, 14, "fixed header")
    major, minor = mv[8], mv[9]
    if major != FORMAT_MAJOR:
        raise UnsupportedFormatError(
            f"format version {major}.{minor} is not supported (this build reads {FORMAT_MAJOR}.x)"
        )
    (hlen,) = _U32.unpack_from(mv, 10)
    if hlen < 4 or hlen > MAX_HEADER_BYTES:
        raise CorruptStreamError(f"invalid header length {hlen}")
    _need(mv, 18 + hlen, "header")
    (crc,) = _U32.unpack_from(mv, 14 + hlen)
    if zlib.crc32(mv[8 : 14 + hlen]) != crc:
        raise CorruptStreamError("header checksum mismatch")
    (jlen,) = _U32.unpack_from(mv, 14)
    if jlen > hlen - 4:
        raise CorruptStreamError("header JSON length exceeds the header")
    try:
        header = json.loads(bytes(mv[18 : 18 + jlen]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptStreamError(f"header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise CorruptStreamError("header JSON is not an object")
    extras = bytes(mv[18 + jlen : 14 + hlen])
    n_chunks = header.get("n_chunks")
    if not isinstance(n_chunks, int) or n_chunks < 0:
        raise CorruptStreamError("header field n_chunks is missing or invalid")
    table_start = 18 + hlen
    table_end = table_start + CHUNK_ENTRY.size * n_chunks
    _need(mv, table_end + 4, "chunk table")
    (crc,) = _U32.unpack_from(mv, table_end)
    if zlib.crc32(mv[table_start:table_end]) != crc:
        raise CorruptStreamError("chunk table checksum mismatch")
    chunks = []
    offset = table_end + 4
    for c in range(n_chunks):
        cid, length, ccrc = CHUNK_ENTRY.unpack_from(mv, table_start + CHUNK_ENTRY.size * c)
        chunks.append(ChunkEntry(cid, offset, length, ccrc))
        offset += length
    if n < offset:
        raise TruncatedStreamError(f"stream ends inside chunk payloads ({n} of {offset} bytes)")
    if n > offset:
        raise CorruptStreamError(f"{n - offset} unexpected bytes after the last chunk")
    if check_payloads:
        for c, ch in enumerate(chunks):
            if zlib.crc32(mv[ch.offset : ch.offset + ch.length]) != ch.crc32:
                raise CorruptStreamError(f"chunk {c} checksum mismatch")
    return ParsedStream(header, extras, tuple(chunks), (major, minor))


# ---------------------------------------------------------------------------
# stream directory inside a chunk payload
# ---------------------------------------------------------------------------
def _varint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _read_varint(buf, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    for _ in range(9):
        if pos >= end:
            raise TruncatedStreamError("chunk ends inside its stream directory")
        b = int(buf[pos])
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
    raise CorruptStreamError("varint longer than 9 bytes in a stream directory")


def pack_streams(streams: list[tuple[int, bytes]]) -> bytes:
    """Chunk payload from (symbol count, coded bytes) pairs."""
    head = [_varint(len(streams))]
    for count, data in streams:
        head.append(_varint(count))
        head.append(_varint(len(data)))
    return b"".join(head) + b"".join(data for _, data in streams)


def unpack_streams(buf: np.ndarray, start: int, end: int, max_streams: int = 64):
    """Parse a chunk's stream directory in ``buf[start:end]``.

    Returns ``(counts, starts, lengths)`` as int64 arrays with absolute starts.
    """
    s, pos = _read_varint(buf, start, end)
    if s > max_streams:
        raise CorruptStreamError(f"chunk announces {s} streams (at most {max_streams} expected)")
    counts = np.empty(s, np.int64)
    lengths = np.empty(s, np.int64)
    for i in range(s):
        counts[i], pos = _read_varint(buf, pos, end)
        lengths[i], pos = _read_varint(buf, pos, end)
    starts = np.empty(s, np.int64)
    for i in range(s):
        starts[i] = pos
        pos += int(lengths[i])
    if pos > end:
        raise TruncatedStreamError("chunk is shorter than its streams")
    if pos < end:
        raise CorruptStreamError("unexpected bytes after the streams of a chunk")
    return counts, starts, lengths
