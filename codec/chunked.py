"""Chunk-by-chunk encoding and decoding: working memory bounded by a group of chunks.

:func:`codec.encode` and :func:`codec.decode` run the whole pipeline (cast to
float64, pad, quantize, symbol streams, coders / coders, indices,
reconstruction, clamp, cast) on groups of a few chunks at a time, so the
memory they use beyond the input and the output is about
``group_chunks() × chunk_elements × 20`` bytes, whatever the array's size
(for quantizers whose chunks are independent: ``Quantizer.chunk_local``, true
of every quantizer ``codec.encode`` designs; one that is not is encoded in one
piece). Decoding is chunk by chunk for every quantizer.
The bytes are those of :meth:`codec.QuantizedArray.to_bytes` (the coders code
each stream alone; chunks are independent by design, docs/format.md).
"""

from __future__ import annotations

import numba
import numpy as np

from . import container
from .coders import coder_by_id
from .errors import CorruptStreamError, UnsupportedFormatError
from .quantized import FLOAT_DTYPES, code_streams, coder_candidates
from .quantizers.base import Quantizer


def group_chunks(streams_per_chunk: int = 1) -> int:
    """Chunks processed together: enough streams for every thread to code one."""
    return max(1, -(-numba.get_num_threads() // streams_per_chunk))


def encode_group_chunks(quantizer: Quantizer) -> int:
    """Chunks encoded together: a stream per thread to code, or a chunk per thread
    where quantizing runs one thread per chunk (TCQ's Viterbi search)."""
    return group_chunks(1 if quantizer.parallel_chunks else quantizer.streams_per_chunk)


def _float64_slice(flat: np.ndarray, a: int, b: int) -> np.ndarray:
    """``flat[a:b]`` as float64, zero-padded past the end of ``flat``."""
    part = np.zeros(b - a, np.float64)
    stop = min(b, flat.size)
    if stop > a:
        part[: stop - a] = flat[a:stop]
    return part


def encode_chunks(
    quantizer: Quantizer, flat: np.ndarray, shape, dtype: str, chunk: int, coder: str, weights
) -> bytes:
    """The stream of ``flat`` (any float dtype, unpadded) quantized by ``quantizer``."""
    names = coder_candidates(coder)
    n_pad = -(-flat.size // quantizer.block_size) * quantizer.block_size
    span = group_span(quantizer, chunk, n_pad)
    chunks = []
    for a in range(0, n_pad, span):
        b = min(a + span, n_pad)
        w = None if weights is None else _float64_slice(weights, a, b)
        # no name keeps the float64 slice here: encode_group drops it once it has the indices
        chunks.extend(encode_group(quantizer, _float64_slice(flat, a, b), chunk, a, names, w))
    layout = container.Layout(tuple(shape), dtype, chunk, len(chunks))
    return container.pack(layout, quantizer, chunks)


def group_span(
    quantizer: Quantizer,
    chunk: int,
    n_pad: int,
    max_chunks: int | None = None,
    *,
    decoding: bool = False,
):
    """Padded elements encoded or decoded together: a few whole chunks, or all of them.

    Group sizes follow the thread count, so only chunk-local quantizers may be
    grouped: the bytes never depend on the number of threads. ``max_chunks``
    caps the group (codec/streaming.py bounds its memory with it). When
    ``decoding``, a stream per thread keeps a group's index arrays small (TCQ's
    trellis walk is then one chunk at a time: the price of decoding in about 1.1x
    the output instead of 1.5x).
    """
    if decoding:  # chunks always decode independently (the format)
        group = group_chunks(quantizer.streams_per_chunk)
    elif not quantizer.chunk_local:
        return max(n_pad, 1)
    else:
        group = encode_group_chunks(quantizer)
    if max_chunks is not None:
        group = max(1, min(group, max_chunks))
    return chunk * group


def encode_group(quantizer: Quantizer, x, chunk: int, first: int, names, weights=None):
    """(coder id, payload) of each chunk of the padded float64 values ``x``, which start
    at padded element ``first`` (a multiple of ``chunk``)."""
    points = quantizer.quantize(x, chunk, weights, first)
    del x, weights  # each intermediate goes as soon as the next exists: the peak is two of them
    symbols, offsets = quantizer.to_streams(points, chunk)
    del points
    return code_streams(symbols, offsets, quantizer.streams_per_chunk, names)


def decode_points(
    blob, parsed: container.ParsedStream, first_chunk: int, stop_chunk: int, *, base: int = 0
):
    """The indices of chunks ``first_chunk .. stop_chunk - 1`` (payload CRCs already checked).

    ``blob`` holds the stream from its byte ``base`` on (a streaming reader
    passes just the group's payloads).
    """
    layout, qz = parsed.layout, parsed.quantizer
    ce, per = layout.chunk_elements, qz.streams_per_chunk
    n_pad = -(-layout.n_elements // qz.block_size) * qz.block_size
    a = first_chunk * ce
    n_group = min(stop_chunk * ce, n_pad) - a
    buf = np.frombuffer(blob, np.uint8)
    entries = parsed.chunks[first_chunk:stop_chunk]
    counts = np.empty(len(entries) * per, np.int64)
    starts = np.empty_like(counts)
    lengths = np.empty_like(counts)
    for k, entry in enumerate(entries):
        start = entry.offset - base
        cnt, st, ln = container.unpack_streams(buf, start, start + entry.length)
        # Python ints: forged counts near 2^63 must fail the check, not overflow numpy's int64.
        exact_counts = [int(c) for c in cnt]
        if not qz.stream_counts_ok(exact_counts, min(ce, n_pad - (first_chunk + k) * ce)):
            raise CorruptStreamError(
                f"chunk {first_chunk + k}: stream sizes do not match the chunk"
            )
        counts[k * per : (k + 1) * per] = cnt
        starts[k * per : (k + 1) * per] = st
        lengths[k * per : (k + 1) * per] = ln
    offsets = np.zeros(counts.size + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    symbols = np.empty(int(offsets[-1]), np.int64)
    ids = np.array([e.coder_id for e in entries], np.int64)
    for coder_id in np.unique(ids):
        coder = coder_by_id(int(coder_id))
        if coder is None:
            raise UnsupportedFormatError(f"unknown coder id {coder_id} in the chunk table")
        chunk_ids = np.flatnonzero(ids == coder_id)
        streams = (chunk_ids[:, None] * per + np.arange(per)).reshape(-1)
        decoded = coder.decode_batch(buf, starts[streams], lengths[streams], counts[streams])
        if chunk_ids.size == ids.size:
            symbols = decoded
        else:
            pos = 0
            for s in streams:
                symbols[offsets[s] : offsets[s + 1]] = decoded[pos : pos + counts[s]]
                pos += counts[s]
    try:
        return qz.from_streams(symbols, offsets, ce, n_group)
    except CorruptStreamError as exc:
        raise CorruptStreamError(f"chunks from {first_chunk}: {exc}") from None


def decode_chunks(blob, parsed: container.ParsedStream) -> np.ndarray:
    """The decoded array, group of chunks by group of chunks, written into the output."""
    layout, qz = parsed.layout, parsed.quantizer
    out = np.empty(layout.n_elements, FLOAT_DTYPES[layout.dtype])
    n_pad = -(-layout.n_elements // qz.block_size) * qz.block_size
    group = -(-group_span(qz, layout.chunk_elements, n_pad, decoding=True) // layout.chunk_elements)
    for c in range(0, len(parsed.chunks), group):
        stop = min(c + group, len(parsed.chunks))
        decode_group(decode_points(blob, parsed, c, stop), parsed, c, stop, out)
    return out.reshape(layout.shape)


def decode_group(points, parsed: container.ParsedStream, c: int, stop: int, out) -> None:
    """Write the values of chunks ``c .. stop - 1`` (their indices: ``points``) into the
    flat output ``out``, one chunk's float64 values at a time.

    ``out`` is the whole flat output, or any array-like that takes slices of it
    by absolute element positions (codec/streaming.py passes a window).
    """
    layout, qz = parsed.layout, parsed.quantizer
    n, ce = layout.n_elements, layout.chunk_elements
    limit = float(np.finfo(FLOAT_DTYPES[layout.dtype]).max)
    n_pad = -(-n // qz.block_size) * qz.block_size
    n_group = min(stop * ce, n_pad) - c * ce
    per_chunk = points.size * ce // n_group  # indices per chunk (VQ: not one per element)
    for k in range(c, stop):
        lo, hi = (k - c) * per_chunk, min((k - c + 1) * per_chunk, points.size)
        values = qz.dequantize(points[lo:hi], ce, k * ce)
        np.clip(values, -limit, limit, out=values)
        a = k * ce
        b = min(a + values.size, n)
        out[a:b] = values[: b - a]
