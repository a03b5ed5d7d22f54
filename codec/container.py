"""Byte layout of an rdcodec array stream (docs/format.md is the normative spec).

::

    offset  size  field
    0       8     magic  89 52 44 43 0D 0A 1A 0A  ("\\x89RDC\\r\\n\\x1a\\n")
    8       1     format major version (1)
    9       1     format minor version (0)
    10      4     H = header length, u32 little-endian
    14      H     header: u32 J, J bytes of binary header fields (docs/format.md §2),
                  H-4-J bytes of extras
    14+H    4     CRC-32 of bytes [8, 14+H)
    18+H    9*C   chunk table, C = n_chunks: u8 coder id, u32 payload length,
                  u32 CRC-32 of the payload
    ...     4     CRC-32 of the chunk table
    ...           the C payloads, in order; nothing may follow the last one

The header fields are the common ones (quantizer kind, dtype, shape,
chunk_elements, n_chunks) followed by the quantizer's own, which the
quantizer writes and reads itself (codec/quantizers/base.py); the container
finds its class by the kind byte in the registry.

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
from .framing import U32, FieldReader, need, pack_head, read_head, read_varint, varint
from .quantizers.base import Quantizer, quantizer_class

MAGIC = b"\x89RDC\r\n\x1a\n"
FORMAT_MAJOR = 1
FORMAT_MINOR = 0
MAX_HEADER_BYTES = 1 << 26
CHUNK_ENTRY = struct.Struct("<BII")
#: dtype codes of the header (docs/format.md §2).
DTYPES = ("float16", "float32", "float64")


@dataclass(frozen=True)
class ChunkEntry:
    coder_id: int
    offset: int  # absolute offset of the payload in the blob
    length: int
    crc32: int


@dataclass(frozen=True)
class Layout:
    """The common header fields: what the array was and how it is cut into chunks."""

    shape: tuple
    dtype: str
    chunk_elements: int
    n_chunks: int

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class ParsedStream:
    """A stream's framing, header and chunk table (payloads not yet decoded)."""

    layout: Layout
    quantizer: Quantizer
    chunks: tuple[ChunkEntry, ...]
    format_version: tuple[int, int]


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------
def common_fields(kind_code: int, layout: Layout) -> bytes:
    """The header fields every stream starts with (docs/format.md §2)."""
    out = bytearray([kind_code, DTYPES.index(layout.dtype)])
    out += varint(len(layout.shape))
    for d in layout.shape:
        out += varint(d)
    out += varint(layout.chunk_elements)
    out += varint(layout.n_chunks)
    return bytes(out)


def pack(layout: Layout, quantizer: Quantizer, chunks: list[tuple[int, bytes]]) -> bytes:
    """Assemble a stream from its layout, its quantizer and (coder id, payload) chunks."""
    if layout.n_chunks != len(chunks):
        raise ValueError("layout.n_chunks does not match the chunks")
    fields = common_fields(quantizer.kind_code, layout) + quantizer.header_fields()
    return pack_fields(fields, quantizer.extras(), chunks)


def pack_fields(fields: bytes, extras: bytes, chunks: list[tuple[int, bytes]]) -> bytes:
    """:func:`pack` with the header fields already encoded (tests use it to forge headers)."""
    table = pack_table([chunk_entry(cid, payload) for cid, payload in chunks])
    parts = [pack_header(fields, extras), table]
    parts.extend(payload for _, payload in chunks)
    return b"".join(parts)


def pack_header(fields: bytes, extras: bytes) -> bytes:
    """Magic, version, header section and its CRC: the bytes before the chunk table.

    A streaming writer (codec/streaming.py) writes them first, then the chunk
    table (once the payloads are known: :func:`pack_table`), then the payloads.
    """
    head = U32.pack(len(fields)) + fields + extras
    if len(head) > MAX_HEADER_BYTES:
        raise ValueError("header too large (codebook or shape too big for the container)")
    return pack_head(MAGIC, FORMAT_MAJOR, FORMAT_MINOR, head)


def chunk_entry(coder_id: int, payload) -> tuple[int, int, int]:
    """The chunk table entry ``(coder id, payload length, payload CRC-32)`` of a payload."""
    return coder_id, len(payload), zlib.crc32(payload)


def pack_table(entries: list[tuple[int, int, int]]) -> bytes:
    """The chunk table (``CHUNK_ENTRY`` per chunk) followed by its CRC-32."""
    table = b"".join(CHUNK_ENTRY.pack(*entry) for entry in entries)
    return table + U32.pack(zlib.crc32(table))


def table_bytes(n_chunks: int) -> int:
    """Size of the chunk table of ``n_chunks`` chunks, its CRC included."""
    return CHUNK_ENTRY.size * n_chunks + 4


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------
def parse(blob) -> ParsedStream:
    """Validate the framing of ``blob`` and return its layout, quantizer and chunk table.

    Payload checksums are checked by :func:`verify_payloads` (after the caller
    has decided the stream is worth it, e.g. below its ``max_elements``).

    Raises
    ------
    UnsupportedFormatError
        Not an rdcodec stream, a newer major format version, or an unknown
        quantizer, dtype or lattice.
    TruncatedStreamError
        The bytes end before the layout they announce.
    CorruptStreamError
        A checksum, length or header field is invalid, or bytes follow the last chunk.
    """
    layout, quantizer, table_start, version = parse_header(blob)
    mv = memoryview(blob).cast("B")
    chunks = read_chunk_table(mv, table_start, layout.n_chunks)
    offset = chunks[-1].offset + chunks[-1].length if chunks else table_start + 4
    if len(mv) < offset:
        raise TruncatedStreamError(
            f"stream ends inside chunk payloads ({len(mv)} of {offset} bytes)"
        )
    if len(mv) > offset:
        raise CorruptStreamError(f"{len(mv) - offset} unexpected bytes after the last chunk")
    return ParsedStream(layout, quantizer, chunks, version)


def parse_header(blob) -> tuple[Layout, Quantizer, int, tuple[int, int]]:
    """The framing and header of ``blob`` (which may stop after the header's CRC).

    Returns ``(layout, quantizer, table_start, (major, minor))``; raises like :func:`parse`.
    """
    head = read_head(
        blob, MAGIC, what="rdcodec stream", major=FORMAT_MAJOR, max_body=MAX_HEADER_BYTES
    )
    if len(head.body) < 4:
        raise CorruptStreamError(f"invalid header length {len(head.body)}")
    (jlen,) = U32.unpack_from(head.body, 0)
    if jlen > len(head.body) - 4:
        raise CorruptStreamError("header field length exceeds the header")
    fields = FieldReader(bytes(head.body[4 : 4 + jlen]))
    extras = bytes(head.body[4 + jlen :])
    kind, layout = _read_common(fields)
    cls = quantizer_class(kind)
    try:
        quantizer = cls.from_header(fields, extras)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise CorruptStreamError(f"invalid {cls.kind} quantizer in header: {exc}") from None
    if not fields.at_end():
        raise CorruptStreamError("unexpected bytes after the header fields")
    _check_layout(layout, quantizer.block_size)
    return layout, quantizer, head.end, (head.major, head.minor)


def read_chunk_table(mv, start: int, n_chunks: int, *, at: int | None = None):
    """The ``n_chunks`` entries of the chunk table found at ``mv[start:]`` (CRC checked).

    Payload offsets are absolute in the stream: the table sits at offset ``at``
    of the stream (default ``start``, when ``mv`` is the stream itself) and the
    payloads follow it.
    """
    table_end = start + CHUNK_ENTRY.size * n_chunks
    need(mv, table_end + 4, "chunk table")
    (crc,) = U32.unpack_from(mv, table_end)
    if zlib.crc32(mv[start:table_end]) != crc:
        raise CorruptStreamError("chunk table checksum mismatch")
    chunks = []
    offset = (start if at is None else at) + table_bytes(n_chunks)
    for c in range(n_chunks):
        cid, length, ccrc = CHUNK_ENTRY.unpack_from(mv, start + CHUNK_ENTRY.size * c)
        chunks.append(ChunkEntry(cid, offset, length, ccrc))
        offset += length
    return tuple(chunks)


def verify_payloads(blob, parsed: ParsedStream) -> None:
    """CorruptStreamError naming the first chunk whose CRC-32 does not match."""
    mv = memoryview(blob).cast("B")
    for c, ch in enumerate(parsed.chunks):
        if zlib.crc32(mv[ch.offset : ch.offset + ch.length]) != ch.crc32:
            raise CorruptStreamError(f"chunk {c} checksum mismatch")


def _read_common(fields: FieldReader) -> tuple[int, Layout]:
    kind = fields.byte()
    dtype = fields.byte()
    if dtype >= len(DTYPES):
        raise UnsupportedFormatError(f"unsupported dtype code {dtype} in header")
    ndim = fields.varint(64)
    shape = tuple(fields.varint(1 << 62) for _ in range(ndim))
    chunk_elements = fields.varint(1 << 62)
    n_chunks = fields.varint(1 << 40)
    return kind, Layout(shape, DTYPES[dtype], chunk_elements, n_chunks)


def _check_layout(layout: Layout, block: int) -> None:
    n_pad = -(-layout.n_elements // block) * block
    ce = layout.chunk_elements
    if ce <= 0 or ce % block:
        raise CorruptStreamError("header chunk_elements is invalid")
    if layout.n_chunks != -(-n_pad // ce):
        raise CorruptStreamError("chunk count does not match the header")


# ---------------------------------------------------------------------------
# stream directory inside a chunk payload
# ---------------------------------------------------------------------------
def pack_streams(streams: list[tuple[int, bytes]]) -> bytes:
    """Chunk payload from (symbol count, coded bytes) pairs."""
    head = [varint(len(streams))]
    for count, data in streams:
        head.append(varint(count))
        head.append(varint(len(data)))
    return b"".join(head) + b"".join(data for _, data in streams)


def unpack_streams(buf: np.ndarray, start: int, end: int, max_streams: int = 64):
    """Parse a chunk's stream directory in ``buf[start:end]``.

    Returns ``(counts, starts, lengths)`` as int64 arrays with absolute starts.
    """
    s, pos = read_varint(buf, start, end)
    if s > max_streams:
        raise CorruptStreamError(f"chunk announces {s} streams (at most {max_streams} expected)")
    counts = np.empty(s, np.int64)
    lengths = np.empty(s, np.int64)
    for i in range(s):
        counts[i], pos = read_varint(buf, pos, end)
        lengths[i], pos = read_varint(buf, pos, end)
    starts = np.empty(s, np.int64)
    for i in range(s):
        starts[i] = pos
        pos += int(lengths[i])
    if pos > end:
        raise TruncatedStreamError("chunk is shorter than its streams")
    if pos < end:
        raise CorruptStreamError("unexpected bytes after the streams of a chunk")
    return counts, starts, lengths
