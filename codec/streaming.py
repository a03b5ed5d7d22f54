"""Streaming files: :class:`Encoder` and :class:`Decoder` write and read the container of
docs/format.md chunk group by chunk group, in memory bounded by a few chunks.

The container puts the header (shape, quantizer) and the chunk table (each
payload's length and CRC) before the payloads. So the :class:`Encoder` needs
the array's shape and its quantizer before the first payload, and the chunk
table only after the last one. It takes the shape up front (from ``design=``,
the array itself, or ``shape=``/``dtype=``), writes the header, reserves the
table, writes each payload as soon as it is coded and, on :meth:`Encoder.close`,
seeks back to fill in the table. A file that cannot seek (a pipe, a socket)
gets the same bytes, but its payloads are held until ``close`` (memory: the
compressed size). The :class:`Decoder` reads strictly forwards and never seeks.

The bytes are those of :func:`codec.encode` whenever the design sees the same
values: always for ``design=x`` (the whole array; only the one-chunk sample of
:func:`codec.encode` is read for the design), and for a target that does not
depend on the data (a lattice ``step=``, a dithered lattice's ``distortion=``)
whatever the design.

Memory: the pipeline runs on groups of at most :data:`MAX_GROUP_ELEMENTS`
padded elements (codec/chunked.py; about 24 bytes per element of a group at
the peak). Pages of an ``np.memmap`` input or output (modes ``'r'``, ``'r+'``,
``'w+'``: shared mappings) are handed back to the page cache after each group
(``madvise(MADV_DONTNEED)``; the data stays in the file), so a memory-mapped
array of any size is encoded and decoded in bounded resident memory.
"""

from __future__ import annotations

import io
import math
import os
import zlib

import numpy as np

from . import container
from .api import DEFAULT_MAX_ELEMENTS, _Call
from .chunked import decode_group, decode_points, encode_group, group_span
from .errors import CorruptStreamError, TruncatedStreamError
from .framing import HEAD_BYTES, U32
from .options import DEFAULT_CHUNK_ELEMENTS, as_float_array, check_finite_values
from .pages import FOLIO_MARGIN, release_pages
from .quantized import FLOAT_DTYPES, QuantizedArray, coder_candidates

#: Padded elements per group of chunks at most (4 default chunks: about 100 MB of work).
MAX_GROUP_ELEMENTS = 1 << 22

__all__ = ["Encoder", "Decoder", "MAX_GROUP_ELEMENTS"]


def _open(file, mode: str):
    """``(binary file object, whether we opened it)`` for a path or a file object."""
    if isinstance(file, str | os.PathLike):
        return open(file, mode), True
    if isinstance(file, io.TextIOBase) or not hasattr(file, "read" if "r" in mode else "write"):
        raise TypeError(f"expected a path or a binary file object, got {type(file).__name__}")
    return file, False


def _seekable(f) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _flat_view(values) -> np.ndarray:
    """``values`` flattened in C order (a view when it is contiguous, e.g. a memmap)."""
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    return arr.reshape(-1) if arr.flags.c_contiguous else np.ravel(arr)


def _shape_and_dtype(design, shape, dtype) -> tuple[tuple, str]:
    if shape is None:
        if design is None:
            raise ValueError("give design= (the array, or a sample of it) or shape= and dtype=")
        shape = np.shape(design)
    try:
        shape = tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of integers, got {shape!r}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"shape must not have negative sizes, got {shape}")
    if dtype is None:
        dtype = np.asarray(design).dtype if design is not None else np.float32
    name = np.dtype(dtype).name
    if name not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float16, float32 or float64, got {name}")
    return shape, name


class Encoder:
    r"""Write an rdcodec stream (docs/format.md) to a file, piece by piece.

    Call :meth:`write` with consecutive pieces of the array (flattened in C
    order; any sizes, together exactly ``prod(shape)`` elements), then
    :meth:`close` (or use ``with``). The file holds exactly the bytes of
    :func:`codec.encode` of the whole array when the design sees the same
    values (module docstring). Memory: a group of at most
    :data:`MAX_GROUP_ELEMENTS` elements (about 24 bytes each at the peak),
    whatever the array's size (TCQ included: its code-length model is fitted
    on the design sample, so its chunks are coded independently).

    Parameters
    ----------
    file : str, os.PathLike or binary file object
        Where the stream goes. A seekable file gets the chunk table filled in
        at :meth:`close`; a non-seekable one gets its payloads at ``close``.
    design : array_like, optional
        What the quantizer is designed on (the step, codebook or rate search of
        :func:`codec.encode`). The whole array (e.g. the ``np.memmap`` you are
        about to write): only its one-chunk design sample is read, exactly as
        :func:`codec.encode` reads it, so the bytes are those of
        ``codec.encode(design, **options)``. Or a smaller sample of it (give
        ``shape=``). Default: the first chunk written (``chunk_size``
        elements), which is all a data-independent target (a lattice
        ``step=``, a dithered lattice's ``distortion=``) needs.
    shape, dtype : optional
        The array's shape and float dtype (default: those of ``design``;
        dtype float32 without it). Pieces of another float dtype are cast to it.
    **options
        The keyword options of :func:`codec.encode` (``lattice=``, ``step=``,
        ``rate=``, ``distortion=``, ``coder=``, ``seed=``, ``chunk_size=``,
        ...), except ``weights=`` and ``exact=``, which need the whole array in
        memory.

    Raises
    ------
    TypeError, ValueError
        Like :func:`codec.encode`; also on writing more than ``prod(shape)``
        elements or closing before all are written. A NaN or Inf raises
        ValueError naming its index when its piece is written (what was
        written before stays incomplete in the file).

    Examples
    --------
    >>> import io, numpy as np, codec
    >>> x = np.random.default_rng(0).standard_normal((100, 50)).astype(np.float32)
    >>> f = io.BytesIO()
    >>> with codec.Encoder(f, shape=x.shape, dtype=x.dtype, step=0.1, chunk_size=1024) as enc:
    ...     for row in x:
    ...         enc.write(row)
    >>> f.getvalue() == codec.encode(x, step=0.1, chunk_size=1024)
    True
    """

    def __init__(self, file, *, design=None, shape=None, dtype=None, **options):
        for name in ("weights", "exact"):
            if options.get(name) is not None and options.get(name) is not False:
                raise ValueError(f"{name}= needs the whole array in memory; use codec.encode")
        self.shape, self.dtype = _shape_and_dtype(design, shape, dtype)
        self.n_elements = math.prod(self.shape)
        self._options = options
        self._f, self._owns = _open(file, "wb")
        self._seekable = _seekable(self._f)
        self._written = 0
        self._pending: list[np.ndarray] = []  # pieces held until the design (design=None)
        self._entries: list[tuple[int, int, int]] = []
        self._held: list[bytes] = []  # payloads of a non-seekable file, written at close
        self._quantizer = None
        self._closed = False
        if design is not None:
            self._start(np.asarray(design))

    # -- design and header ------------------------------------------------------------
    def _start(self, design: np.ndarray) -> None:
        if design.dtype.name != self.dtype and design.dtype.kind == "f":
            design = design.astype(self.dtype)
        call = _Call.prepare(design, dict(self._options), check_finite=False)
        picked = call.pick()
        q = picked.quantizer if isinstance(picked, QuantizedArray) else picked
        chunk, block = call.chunk, q.block_size
        self._quantizer, self._chunk = q, chunk
        self._coders = coder_candidates(call.opts.coder)
        self._n_pad = -(-self.n_elements // block) * block
        n_chunks = -(-self._n_pad // chunk)
        self._span = group_span(q, chunk, self._n_pad, MAX_GROUP_ELEMENTS // chunk)
        self._buffer = np.zeros(min(self._span, max(self._n_pad, 1)), np.float64)
        self._fill = 0
        self._group_start = 0
        layout = container.Layout(self.shape, self.dtype, chunk, n_chunks)
        fields = container.common_fields(q.kind_code, layout) + q.header_fields()
        self._f.write(container.pack_header(fields, q.extras()))
        if self._seekable:  # the chunk table's place, filled in by close()
            self._table_at = self._f.tell()
            self._f.write(bytes(container.table_bytes(n_chunks)))

    def _design_size(self) -> int:
        size = self._options.get("chunk_size") or DEFAULT_CHUNK_ELEMENTS
        return min(int(size), self.n_elements)

    # -- data ---------------------------------------------------------------------------
    def write(self, values) -> None:
        """Append ``values`` (any shape, flattened in C order) to the array.

        Examples
        --------
        >>> import io, numpy as np, codec
        >>> enc = codec.Encoder(io.BytesIO(), shape=(4,), dtype="float64", step=0.5)
        >>> enc.write(np.ones(3)); enc.write(np.zeros(1)); enc.close()
        """
        if self._closed:
            raise ValueError("write() after close(): open a new Encoder")
        flat = _flat_view(as_float_array(values, check_finite=False))
        if self._written + flat.size > self.n_elements:
            raise ValueError(
                f"{self._written + flat.size} elements written, more than the "
                f"{self.n_elements} of shape {self.shape}"
            )
        if self._quantizer is None:
            check_finite_values(flat, first=self._written, shape=self.shape)
            self._pending.append(flat.astype(self.dtype))
            self._written += flat.size
            if self._written >= self._design_size():
                self._start_from_pending()
            return
        self._feed(flat)

    def _start_from_pending(self) -> None:
        held = np.concatenate(self._pending) if self._pending else np.zeros(0, self.dtype)
        self._pending = []
        self._start(held[: self._design_size()])
        self._written -= held.size
        self._feed(held)

    def _feed(self, flat: np.ndarray) -> None:
        pos = 0
        while pos < flat.size:
            group_len = min(self._span, self._n_pad - self._group_start)
            data_len = min(group_len, self.n_elements - self._group_start)
            take = min(flat.size - pos, data_len - self._fill)
            piece = flat[pos : pos + take]
            check_finite_values(piece, first=self._written, shape=self.shape)
            if piece.dtype.name != self.dtype:  # as codec.encode of the array in its dtype
                piece = piece.astype(self.dtype)
            self._buffer[self._fill : self._fill + take] = piece
            release_pages(flat[pos : pos + take], margin=FOLIO_MARGIN)
            self._fill += take
            self._written += take
            pos += take
            if self._fill == data_len:
                self._encode_group(group_len)

    def _encode_group(self, group_len: int) -> None:
        x = self._buffer[:group_len]
        x[self._fill :] = 0.0  # the padding of the last block
        a = self._group_start
        for coder_id, payload in encode_group(self._quantizer, x, self._chunk, a, self._coders):
            self._entries.append(container.chunk_entry(coder_id, payload))
            if self._seekable:
                self._f.write(payload)
            else:
                self._held.append(payload)
        self._group_start += group_len
        self._fill = 0

    # -- end ----------------------------------------------------------------------------
    def close(self) -> None:
        """Finish the stream: the last group, the chunk table; closes a file it opened.

        Raises ValueError (and leaves the Encoder open) if fewer than
        ``prod(shape)`` elements were written.
        """
        if self._closed:
            return
        if self._written != self.n_elements:
            raise ValueError(
                f"{self._written} of {self.n_elements} elements written; write the rest "
                "before close()"
            )
        if self._quantizer is None:
            self._start_from_pending()
        if self._group_start < self._n_pad:
            self._encode_group(self._n_pad - self._group_start)
        table = container.pack_table(self._entries)
        if self._seekable:
            end = self._f.tell()
            self._f.seek(self._table_at)
            self._f.write(table)
            self._f.seek(end)
        else:
            self._f.write(table)
            for payload in self._held:
                self._f.write(payload)
            self._held = []
        self._f.flush()
        self._closed = True
        if self._owns:
            self._f.close()

    def __enter__(self) -> Encoder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:  # an incomplete stream: leave it, and the error, to the caller
            self._closed = True
            if self._owns:
                self._f.close()


def _read_exact(f, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) < n:
        raise TruncatedStreamError(f"file ends inside the {what} ({len(data)} of {n} bytes)")
    return data


class _Window:
    """Slices of a flat array addressed by absolute element positions from ``first``."""

    def __init__(self, values: np.ndarray, first: int):
        self.values, self.first = values, first

    def __setitem__(self, where: slice, data) -> None:
        self.values[where.start - self.first : where.stop - self.first] = data


class Decoder:
    """Read an rdcodec stream from a file, group of chunks by group of chunks.

    The header and the chunk table are read (and checked) on opening; the
    payloads are read forwards, never seeking, each group's CRCs checked
    before it is decoded. :meth:`read_into` fills an array you provide (an
    ``np.memmap`` in mode ``'w+'`` or ``'r+'`` keeps resident memory
    bounded); :meth:`groups` yields the flat values group by group;
    :meth:`read` returns the whole array. Values equal :func:`codec.decode`'s.
    A Decoder reads its file once.

    Parameters
    ----------
    file : str, os.PathLike or binary file object
        The stream, starting at the file's current position.
    max_elements : int or None
        Refuse streams announcing more elements (as :func:`codec.decode`).

    Attributes
    ----------
    shape, dtype, n_elements
        Of the encoded array.

    Raises
    ------
    codec.errors.CodecError
        For a corrupt, truncated or unsupported stream (when the part that
        shows it is read), as :func:`codec.decode`.

    Examples
    --------
    >>> import io, numpy as np, codec
    >>> x = np.linspace(-1, 1, 5000)
    >>> blob = codec.encode(x, step=0.01, chunk_size=1024)
    >>> with codec.Decoder(io.BytesIO(blob)) as dec:
    ...     y = dec.read()
    >>> bool(np.array_equal(y, codec.decode(blob)))
    True
    """

    def __init__(self, file, *, max_elements: int | None = DEFAULT_MAX_ELEMENTS):
        self._f, self._owns = _open(file, "rb")
        try:
            self._parsed, self._next = self._read_head(max_elements)
        except BaseException:
            self.close()
            raise
        layout = self._parsed.layout
        self.shape, self.dtype, self.n_elements = layout.shape, layout.dtype, layout.n_elements
        self._used = False

    def _read_head(self, max_elements):
        data = self._f.read(HEAD_BYTES)
        if len(data) == HEAD_BYTES:
            (length,) = U32.unpack_from(data, 10)
            if length <= container.MAX_HEADER_BYTES:  # else parse_header says it is invalid
                data += self._f.read(length + 4)
        layout, quantizer, table_start, version = container.parse_header(data)
        if max_elements is not None and layout.n_elements > max_elements:
            raise ValueError(
                f"stream holds {layout.n_elements} elements, more than max_elements="
                f"{max_elements}; pass a larger max_elements (or None) if you trust it"
            )
        size = container.table_bytes(layout.n_chunks)
        table = _read_exact(self._f, size, "chunk table")
        chunks = container.read_chunk_table(table, 0, layout.n_chunks, at=table_start)
        parsed = container.ParsedStream(layout, quantizer, chunks, version)
        return parsed, table_start + size

    def groups(self):
        """Yield ``(first, values)``: the flat values (the array's dtype) of each group of
        chunks, ``first`` being the flat index of ``values[0]``.

        Examples
        --------
        >>> import io, numpy as np, codec
        >>> blob = codec.encode(np.arange(3000.0), step=1.0, chunk_size=1024)
        >>> [(a, v.size) for a, v in codec.Decoder(io.BytesIO(blob)).groups()][0][0]
        0
        """
        if self._used:
            raise ValueError("a Decoder reads its file once; open a new one")
        self._used = True
        parsed = self._parsed
        layout, qz, chunks = parsed.layout, parsed.quantizer, parsed.chunks
        ce, n = layout.chunk_elements, layout.n_elements
        n_pad = -(-n // qz.block_size) * qz.block_size
        group = -(-group_span(qz, ce, n_pad, MAX_GROUP_ELEMENTS // ce, decoding=True) // ce)
        for c in range(0, len(chunks), group):
            stop = min(c + group, len(chunks))
            lo = chunks[c].offset
            buf = _read_exact(
                self._f,
                chunks[stop - 1].offset + chunks[stop - 1].length - lo,
                f"payloads of chunks {c}..{stop - 1}",
            )
            for k in range(c, stop):
                e = chunks[k]
                if zlib.crc32(buf[e.offset - lo : e.offset - lo + e.length]) != e.crc32:
                    raise CorruptStreamError(f"chunk {k} checksum mismatch")
            points = decode_points(buf, parsed, c, stop, base=lo)
            del buf
            values = np.empty(min(stop * ce, n) - c * ce, FLOAT_DTYPES[layout.dtype])
            decode_group(points, parsed, c, stop, _Window(values, c * ce))
            del points
            yield c * ce, values
        if self._f.read(1):
            raise CorruptStreamError("unexpected bytes after the last chunk")

    def read_into(self, out) -> None:
        """Decode into ``out``: a writable C-contiguous array of the stream's dtype and
        ``n_elements`` elements (any shape; e.g. an ``np.memmap`` opened ``'w+'``).

        Examples
        --------
        >>> import io, numpy as np, codec
        >>> blob = codec.encode(np.ones((3, 4), np.float32), step=0.01)
        >>> out = np.empty((3, 4), np.float32)
        >>> codec.Decoder(io.BytesIO(blob)).read_into(out)
        >>> bool(np.array_equal(out, codec.decode(blob)))
        True
        """
        if not isinstance(out, np.ndarray) or not out.flags.writeable:
            raise TypeError("out must be a writable numpy array (e.g. an np.memmap, mode 'w+')")
        if out.size != self.n_elements or out.dtype.name != self.dtype:
            raise ValueError(
                f"out must hold {self.n_elements} elements of {self.dtype}; "
                f"got {out.size} of {out.dtype}"
            )
        if not out.flags.c_contiguous:
            raise ValueError("out must be C-contiguous (np.ascontiguousarray, or a new array)")
        flat = out.reshape(-1)
        for first, values in self.groups():
            flat[first : first + values.size] = values
            release_pages(flat[first : first + values.size])

    def read(self) -> np.ndarray:
        """The whole array, in memory (as :func:`codec.decode` returns it)."""
        out = np.empty(self.shape, FLOAT_DTYPES[self.dtype])
        self.read_into(out)
        return out

    def close(self) -> None:
        """Close the file if the Decoder opened it."""
        if self._owns and not self._f.closed:
            self._f.close()

    def __enter__(self) -> Decoder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
