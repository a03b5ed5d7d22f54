"""Shared pieces of the coders' batch kernels: work sharing and buffer planning.

A batch is a set of independent streams. Threads take the streams one at a
time from a shared counter (dynamic scheduling, :func:`fetch_add`), largest
first: a thread that runs faster, because its streams are easier or its core
is less loaded, takes more streams, where a static split would leave it idle
at the end. Which thread codes a stream never changes the stream's bytes.
The planning runs inside the same compiled call as the coding, so a batch
costs one dispatch from Python.
"""

import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import adaptive, huffman, lzw, range_coder
from .tokens import max_extra_bits


@intrinsic
def fetch_add(typingctx, array, index, value):
    """Atomically ``old = array[index]; array[index] += value``; return ``old``.

    ``array`` is a 1-d int64 array; ``index`` is not bounds-checked (callers
    pass 0 on a 1-element counter). Sequentially consistent, so every caller
    sees a distinct ``old``.

    Examples
    --------
    >>> import numpy as np
    >>> from numba import njit
    >>> @njit
    ... def take_two(counter):
    ...     return fetch_add(counter, 0, 1), fetch_add(counter, 0, 1)
    >>> c = np.zeros(1, np.int64)
    >>> take_two(c), int(c[0])
    ((0, 1), 2)
    """
    if not (isinstance(array, types.Array) and array.ndim == 1 and array.dtype == types.int64):
        return None
    if not isinstance(index, types.Integer) or not isinstance(value, types.Integer):
        return None
    sig = types.int64(array, index, value)

    def codegen(context, builder, signature, args):
        arr, idx, val = args
        arr_ty, idx_ty, val_ty = signature.args
        ary = context.make_array(arr_ty)(context, builder, arr)
        idx = context.cast(builder, idx, idx_ty, types.intp)
        val = context.cast(builder, val, val_ty, types.int64)
        ptr = cgutils.get_item_pointer(context, builder, arr_ty, ary, [idx])
        return builder.atomic_rmw("add", ptr, val, "seq_cst")

    return sig, codegen


@njit(cache=True, nogil=True)
def largest_first(counts):
    """Stream indices by decreasing size, ties in index order (the order threads take them)."""
    return np.argsort(-counts, kind="mergesort").astype(np.int64)


@njit(cache=True, nogil=True)
def plan_output(caps):
    """An output buffer with room ``caps[s]`` for stream ``s``: ``(buf, starts)`` (k + 1 starts)."""
    starts = np.zeros(caps.size + 1, np.int64)
    for s in range(caps.size):
        starts[s + 1] = starts[s] + caps[s]
    return np.empty(starts[-1], np.uint8), starts


@njit(cache=True, nogil=True)
def plan_decode(buf_size, starts, lengths, counts):
    """``(ok, out, out_offsets)`` for decoding ``counts[s]`` symbols from each stream.

    ``ok`` is False, and nothing is allocated, when a count or extent is
    negative or a stream reaches past ``buf_size``.
    """
    k = counts.size
    out_offsets = np.zeros(k + 1, np.int64)
    for s in range(k):
        if counts[s] < 0 or starts[s] < 0 or lengths[s] < 0 or starts[s] > buf_size:
            return False, np.empty(0, np.int64), out_offsets
        if lengths[s] > buf_size - starts[s]:  # not starts + lengths: that can overflow
            return False, np.empty(0, np.int64), out_offsets
        out_offsets[s + 1] = out_offsets[s] + counts[s]
    return True, np.empty(out_offsets[-1], np.int64), out_offsets


# ---------------------------------------------------------------------------
# the batch kernels of every coder: one copy, switching on the coder id
# (ids of codec/coders: 1 arithmetic, 2 huffman, 3 lzw, 4 adaptive). Passing the
# stream functions as arguments instead would make numba miss its on-disk cache.
# ---------------------------------------------------------------------------
ARITHMETIC, HUFFMAN, LZW, ADAPTIVE = 1, 2, 3, 4


@njit(cache=True, nogil=True)
def bound_bytes(coder, n, extra_bits):
    """The coder's ``bound_bytes(n, extra_bits)``."""
    if coder == ARITHMETIC:
        return range_coder.bound_bytes(n, extra_bits)
    if coder == HUFFMAN:
        return huffman.bound_bytes(n, extra_bits)
    if coder == LZW:
        return lzw.bound_bytes(n, extra_bits)
    return adaptive.bound_bytes(n, extra_bits)


@njit(cache=True, nogil=True)
def encode_bound(coder, sym):
    """Upper bound on the bytes the coder writes for the stream ``sym`` (one min/max pass)."""
    return bound_bytes(coder, sym.size, sym.size * max_extra_bits(sym))


@njit(cache=True, nogil=True)
def encode_worker(coder, params, symbols, offsets, order, taken, buf, buf_offsets, caps, lengths):
    """One thread: take streams from ``taken`` and code them; ``params`` = the adaptive
    coder's (rescale_bits, mode, n_classes, period). LZW's work arrays are allocated
    once, for the longest stream (the first)."""
    is_lzw = coder == LZW and order.size > 0
    tok = np.empty(offsets[order[0] + 1] - offsets[order[0]] if is_lzw else 0, np.int32)
    slots, keys = (
        lzw.new_encoder_tables() if is_lzw else (np.empty(0, np.uint16), np.empty(0, np.int32))
    )
    while True:
        j = fetch_add(taken, 0, 1)
        if j >= order.size:
            return
        s = order[j]
        seg = symbols[offsets[s] : offsets[s + 1]]
        start = buf_offsets[s]
        if coder == ARITHMETIC:
            end = range_coder.encode_stream_into(seg, buf, start, caps[s])
        elif coder == HUFFMAN:
            end = huffman.encode_stream_into(seg, buf, start, caps[s])
        elif coder == LZW:
            end = lzw.encode_stream_into(seg, buf, start, caps[s], tok, slots, keys)
        else:
            end = adaptive.encode_stream_into(
                seg, buf, start, caps[s], params[0], params[1], params[2], params[3]
            )
        lengths[s] = end - start if end >= 0 else -1


@njit(cache=True, parallel=True)
def encode_workers(
    n_workers, coder, params, symbols, offsets, order, buf, buf_offsets, caps, lengths
):
    """Code streams ``order`` into the given room with ``n_workers`` threads."""
    taken = np.zeros(1, np.int64)
    for _ in prange(n_workers):
        encode_worker(
            coder, params, symbols, offsets, order, taken, buf, buf_offsets, caps, lengths
        )


@njit(cache=True, nogil=True)
def decode_worker(coder, buf, starts, lengths, out, out_offsets, order, taken, status):
    """One thread: take streams from ``taken`` and decode them into ``out``."""
    is_lzw = coder == LZW and order.size > 0
    tok = np.empty(out_offsets[order[0] + 1] - out_offsets[order[0]] if is_lzw else 0, np.int32)
    entries = lzw.new_decoder_tables() if is_lzw else np.empty((4, 0), np.int32)
    while True:
        j = fetch_add(taken, 0, 1)
        if j >= order.size:
            return
        s = order[j]
        seg = out[out_offsets[s] : out_offsets[s + 1]]
        a, b = starts[s], starts[s] + lengths[s]
        if coder == ARITHMETIC:
            status[s] = range_coder.decode_stream(buf, a, b, seg)
        elif coder == HUFFMAN:
            status[s] = huffman.decode_stream(buf, a, b, seg)
        elif coder == LZW:
            status[s] = lzw.decode_stream_into(buf, a, b, seg, tok, entries)
        else:
            status[s] = adaptive.decode_stream(buf, a, b, seg)


@njit(cache=True, parallel=True)
def decode_workers(n_workers, coder, buf, starts, lengths, out, out_offsets, order, status):
    taken = np.zeros(1, np.int64)
    for _ in prange(n_workers):
        decode_worker(coder, buf, starts, lengths, out, out_offsets, order, taken, status)


@njit(cache=True, nogil=True)
def encode_batch(coder, params, symbols, offsets, extra_per_symbol, n_workers):
    """Room per stream from its symbol count, then every stream coded by ``n_workers`` threads.

    Returns ``(buf, buf_starts, caps, lengths, n_over)``; ``lengths[s] = -1``
    where stream ``s`` needs more than its room ``caps[s]`` (``n_over`` such
    streams; see coders/base.py).
    """
    counts = offsets[1:] - offsets[:-1]
    caps = np.empty(counts.size, np.int64)
    for s in range(counts.size):
        caps[s] = bound_bytes(coder, counts[s], counts[s] * extra_per_symbol)
    buf, buf_starts = plan_output(caps)
    lengths = np.zeros(counts.size, np.int64)
    order = largest_first(counts)
    encode_workers(
        n_workers, coder, params, symbols, offsets, order, buf, buf_starts, caps, lengths
    )
    n_over = np.int64(0)
    for s in range(lengths.size):
        n_over += lengths[s] < 0
    return buf, buf_starts, caps, lengths, n_over


@njit(cache=True, nogil=True)
def decode_batch(coder, buf, starts, lengths, counts, n_workers):
    """Every stream decoded by ``n_workers`` threads: ``(ok, out, status, worst)``.

    ``ok`` is False when an extent or count is invalid (nothing decoded);
    ``worst`` is the largest stream status (0: every stream decoded).
    """
    ok, out, out_offsets = plan_decode(buf.size, starts, lengths, counts)
    status = np.zeros(counts.size, np.int64)
    if not ok or counts.size == 0:
        return ok, out, status, np.int64(0)
    order = largest_first(counts)
    decode_workers(n_workers, coder, buf, starts, lengths, out, out_offsets, order, status)
    return ok, out, status, status.max()
