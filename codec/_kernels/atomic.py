"""An atomic fetch-and-add on an int64 array element, for work sharing in ``prange`` loops.

The batch kernels of the coders hand out streams to threads through a shared
counter (dynamic scheduling): a thread that runs faster, because its streams
are easier or its core is less loaded, takes more streams, where a static
split of the streams would leave it idle at the end. Which thread codes a
stream never changes the stream's bytes.
"""

from numba import types
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
