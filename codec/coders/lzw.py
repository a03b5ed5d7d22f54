"""LZW coding (coder id 3) of symbol streams, and one-shot LZW on bytes."""

from __future__ import annotations

import numpy as np

from .._kernels import lzw as lzw_kernels
from .base import KernelCoder, raise_for_status

MAX_CODE_BITS = lzw_kernels.MAX_CODE_BITS


class LZWCoder(KernelCoder):
    """LZW over the token alphabet of a stream, extra bits packed after the codes.

    A universal coder (Welch 1984; the lossless stage of Choi et al.,
    "Universal Deep Neural Network Compression"): it needs no model and no
    table, and on a stationary ergodic source its rate tends to the entropy
    rate, slowly (redundancy ~ 1/log n). Codes have variable width up to
    ``MAX_CODE_BITS`` (16); the dictionary is reset when it holds 2**16
    entries (docs/format.md §5).

    Examples
    --------
    >>> import numpy as np
    >>> c = LZWCoder()
    >>> x = np.array([1, 2, 1, 2, 1, 2, 1, 2, 3])
    >>> c.decode(c.encode(x), x.size).tolist()
    [1, 2, 1, 2, 1, 2, 1, 2, 3]
    """

    name = "lzw"
    coder_id = 3


def lzw_compress(data) -> bytes:
    """LZW-compress bytes (base alphabet = the 256 byte values).

    The output is ``varint len(data)`` followed by the code bits
    (docs/format.md §5, "LZW on bytes").

    Examples
    --------
    >>> blob = lzw_compress(b"TOBEORNOTTOBEORTOBEORNOT")
    >>> len(blob) < 24, lzw_decompress(blob)
    (True, b'TOBEORNOTTOBEORTOBEORNOT')
    """
    arr = np.frombuffer(memoryview(data).cast("B"), np.uint8)
    buf = np.empty(11 + 2 * arr.size, np.uint8)
    end = lzw_kernels.compress_bytes(arr, buf)
    return buf[:end].tobytes()


def lzw_decompress(data, *, max_size: int | None = None) -> bytes:
    """Inverse of :func:`lzw_compress`.

    Parameters
    ----------
    data : bytes-like
        A complete output of :func:`lzw_compress`; trailing bytes are an error.
    max_size : int, optional
        Refuse outputs announced larger than this (a decompression-bomb guard).

    Raises
    ------
    codec.errors.CodecError
        Truncated or corrupt input.
    ValueError
        The announced size exceeds ``max_size``.
    """
    buf = np.frombuffer(memoryview(data).cast("B"), np.uint8)
    status, n = lzw_kernels.decompressed_size(buf)
    raise_for_status(status, "lzw_decompress")
    n = int(n)
    if max_size is not None and n > max_size:
        raise ValueError(f"LZW data announces {n} bytes, more than max_size={max_size}")
    out = np.empty(n, np.uint8)
    raise_for_status(lzw_kernels.decompress_bytes(buf, out), "lzw_decompress")
    return out.tobytes()
