"""Canonical Huffman coding (coder id 2) with a length limit of 15 bits."""

from __future__ import annotations

import numpy as np

from .._kernels import huffman as huffman_kernels
from .base import KernelCoder

MAX_CODE_BITS = huffman_kernels.MAX_CODE_BITS


class HuffmanCoder(KernelCoder):
    r"""Canonical Huffman code per stream, code lengths sent in the stream.

    Lengths are optimal among prefix codes of at most ``MAX_CODE_BITS`` (15)
    bits (package-merge); the table stores them in a few bits per used token
    (docs/format.md §5). The decoder resolves codes of up to 11 bits with one
    table lookup. Per symbol, with token entropy :math:`H` (and the limit not
    binding), :math:`H \le \bar L < H + 1` bits plus the raw extra bits of
    large tokens.

    Examples
    --------
    >>> import numpy as np
    >>> c = HuffmanCoder()
    >>> x = np.array([0, 0, 0, 1, 2, 0, -1, 0])
    >>> blob = c.encode(x)
    >>> c.decode(blob, x.size).tolist()
    [0, 0, 0, 1, 2, 0, -1, 0]
    """

    name = "huffman"
    coder_id = 2


def huffman_code_lengths(counts, max_bits: int = MAX_CODE_BITS) -> np.ndarray:
    r"""Optimal length-limited prefix-code lengths for symbol frequencies (package-merge).

    Parameters
    ----------
    counts : array_like of int
        Non-negative frequencies; zero means "unused" (length 0).
    max_bits : int
        Length limit, ``1 <= max_bits <= 30``, with ``2**max_bits`` at least
        the number of used symbols.

    Returns
    -------
    numpy.ndarray
        int64 code lengths minimising :math:`\sum_i c_i \ell_i` subject to
        :math:`\ell_i \le` ``max_bits`` and :math:`\sum_i 2^{-\ell_i} \le 1`
        (equality unless only one symbol is used).

    Examples
    --------
    >>> huffman_code_lengths([5, 1, 1, 2, 0]).tolist()
    [1, 3, 3, 2, 0]
    >>> huffman_code_lengths([1, 1, 2, 4, 8, 16], max_bits=3).tolist()
    [3, 3, 3, 3, 2, 2]
    """
    c = np.ascontiguousarray(counts, np.int64).ravel()
    if (c < 0).any():
        raise ValueError("counts must be non-negative")
    if not 1 <= int(max_bits) <= 30:
        raise ValueError("max_bits must lie in [1, 30]")
    if np.count_nonzero(c) > 1 << int(max_bits):
        raise ValueError(f"{np.count_nonzero(c)} used symbols do not fit in {max_bits}-bit codes")
    lengths = np.zeros(c.size, np.int64)
    huffman_kernels.code_lengths(c, int(max_bits), lengths)
    return lengths
