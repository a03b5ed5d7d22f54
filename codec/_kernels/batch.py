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
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


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
