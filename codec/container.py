"""Byte layout of an rdcodec stream (docs/format.md is the normative spec).

::

    offset  size  field
    0       8     magic  89 52 44 43 0D 0A 1A 0A  ("\\x89RDC\\r\\n\\x1a\\n")
    8       1     format major version (1)
    9       1     format minor version (0)
    10      4     H = header length, u32 little-endian
    14      H     header: u32 J, J bytes of binary header fields (docs/format.md §2),
                  H-4-J bytes of extras
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
    """Assemble a stream from header fields, binary extras and (coder id, payload) chunks."""
    return pack_fields(encode_header(dict(header, n_chunks=len(chunks))), extras, chunks)


def pack_fields(fields: bytes, extras: bytes, chunks: list[tuple[int, bytes]]) -> bytes:
    """:func:`pack` with the header fields already encoded (tests use it to forge headers)."""
    head = _U32.pack(len(fields)) + fields + extras
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
        raise CorruptStreamError("header field length exceeds the header")
    header = decode_header(bytes(mv[18 : 18 + jlen]))
    extras = bytes(mv[18 + jlen : 14 + hlen])
    n_chunks = header.get("n_chunks")
    if not isinstance(n_chunks, int) or n_chunks < 0:
        raise CorruptStreamError("header field n_chunks is invalid")
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


# ---------------------------------------------------------------------------
# header fields <-> bytes (docs/format.md §2)
# ---------------------------------------------------------------------------
DTYPES = ("float16", "float32", "float64")
QUANTIZER_KINDS = ("lattice", "scalar")
_FLAG_DITHER, _FLAG_VALUE_TABLE = 1, 2
_F64 = struct.Struct("<d")


def _zigzag(v: int) -> int:
    return (v << 1) if v >= 0 else ((-v) << 1) - 1


def _unzigzag(u: int) -> int:
    return (u >> 1) if not u & 1 else -((u + 1) >> 1)


def encode_header(h: dict) -> bytes:
    """Binary header fields: common ones, then the quantizer's (docs/format.md §2)."""
    out = bytearray()
    out.append(QUANTIZER_KINDS.index(h["quantizer"]))
    out.append(DTYPES.index(h["dtype"]))
    out += _varint(len(h["shape"]))
    for d in h["shape"]:
        out += _varint(d)
    out += _varint(h["chunk_elements"])
    out += _varint(h["n_chunks"])
    if h["quantizer"] == "lattice":
        name = h["lattice"]
        if name == "Z":
            out += bytes([0, 1])
        elif name == "E8":
            out += bytes([2, 8])
        else:
            out += bytes([1, int(name[1:])])
        out += _F64.pack(float.fromhex(h["step"]))
        table = "value_table_size" in h
        out.append((_FLAG_DITHER if h["dither"] else 0) | (_FLAG_VALUE_TABLE if table else 0))
        out += _varint(h["seed"])
        if table:
            out += _varint(_zigzag(h["value_table_offset"]))
            out += _varint(h["value_table_size"])
    else:
        method = h["method"].encode("utf-8")
        out += _varint(len(method)) + method
        out += _varint(h["levels"])
        out.append(DTYPES.index(h["level_dtype"]))
    return bytes(out)


def decode_header(data: bytes) -> dict:
    """Inverse of :func:`encode_header`; codec.errors exceptions on anything invalid."""
    end = len(data)
    pos = 0

    def byte():
        nonlocal pos
        if pos >= end:
            raise CorruptStreamError("header fields end early")
        pos += 1
        return data[pos - 1]

    def varint(limit=1 << 64):
        nonlocal pos
        value = shift = 0
        for _ in range(10):
            b = byte()
            value |= (b & 0x7F) << shift
            if b < 0x80:
                if value >= limit:
                    raise CorruptStreamError("header field out of range")
                return value
            shift += 7
        raise CorruptStreamError("header varint too long")

    kind = byte()
    if kind >= len(QUANTIZER_KINDS):
        raise UnsupportedFormatError(f"unsupported quantizer kind {kind} in header")
    dtype = byte()
    if dtype >= len(DTYPES):
        raise UnsupportedFormatError(f"unsupported dtype code {dtype} in header")
    ndim = varint(64)
    shape = [varint(1 << 62) for _ in range(ndim)]
    h = {
        "quantizer": QUANTIZER_KINDS[kind],
        "dtype": DTYPES[dtype],
        "shape": shape,
        "chunk_elements": varint(1 << 62),
        "n_chunks": varint(1 << 40),
    }
    if kind == 0:
        code, n = byte(), byte()
        if code == 0 and n == 1:
            h["lattice"] = "Z"
        elif code == 2 and n == 8:
            h["lattice"] = "E8"
        elif code == 1:
            h["lattice"] = f"D{n}"
        else:
            raise UnsupportedFormatError(f"unsupported lattice code ({code}, {n}) in header")
        if end - pos < 8:
            raise CorruptStreamError("header fields end early")
        (step,) = _F64.unpack_from(data, pos)
        pos += 8
        h["step"] = step.hex()
        flags = byte()
        if flags & ~(_FLAG_DITHER | _FLAG_VALUE_TABLE):
            raise CorruptStreamError("unknown lattice flags in header")
        h["dither"] = bool(flags & _FLAG_DITHER)
        h["seed"] = varint()
        if flags & _FLAG_VALUE_TABLE:
            h["value_table_offset"] = _unzigzag(varint())
            h["value_table_size"] = varint(1 << 40)
    else:
        n = varint(256)
        if end - pos < n:
            raise CorruptStreamError("header fields end early")
        try:
            h["method"] = data[pos : pos + n].decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptStreamError("header method name is not UTF-8") from None
        pos += n
        h["levels"] = varint(1 << 40)
        level_dtype = byte()
        if level_dtype >= len(DTYPES):
            raise CorruptStreamError("invalid level dtype in header")
        h["level_dtype"] = DTYPES[level_dtype]
    if pos != end:
        raise CorruptStreamError("unexpected bytes after the header fields")
    return h
