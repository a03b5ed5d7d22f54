"""Symbol -> token mapping shared by the entropy coders (normative: docs/format.md §5).

Integer symbols (int64, |v| < 2**62) are first made non-negative,

* ``u = v - offset`` when the stream's symbols span fewer than ``DIRECT_TOKENS``
  values (``offset`` = the minimum), otherwise
* ``u = zigzag(v - offset)`` (``offset`` = a median estimate) when they span
  fewer than 2**62 values, and ``u = v - min`` again beyond that,

then split into a *token* and raw *extra bits*, as Deflate does with lengths:
``u < DIRECT_TOKENS`` is its own token with no extra bits; a larger ``u`` with
bit length ``nb`` becomes token ``DIRECT_TOKENS + nb - 13`` followed by its
``nb - 1`` low bits. The token alphabet is therefore at most
``DIRECT_TOKENS + 51`` symbols, whatever the range of the input, and the
entropy model only ever sees that bounded alphabet.
"""

import numpy as np
from numba import njit

from .bitio import unzigzag, zigzag

DIRECT_TOKENS = 4096  # 2**12 tokens coded directly
DIRECT_BITS = 12
MAX_TOKENS = DIRECT_TOKENS + 64 - DIRECT_BITS  # bit lengths 13..63
SAMPLE_FOR_MEDIAN = 4095


@njit(cache=True, nogil=True)
def bit_length(u):
    """Number of bits of a non-negative int64 (0 for 0)."""
    n = 0
    while u > 0:
        n += 1
        u >>= 1
    return n


@njit(cache=True, nogil=True)
def choose_mapping(sym):
    """Pick ``(offset, use_zigzag)`` for a non-empty symbol array (see module doc)."""
    lo = sym[0]
    hi = sym[0]
    for v in sym:
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    # hi - lo < 2**63 because symbols lie in [-2**62, 2**62).
    if hi - lo < DIRECT_TOKENS or hi - lo >= np.int64(1) << 62:
        # Small span, or a span so wide that zigzag around the median could overflow.
        return lo, False
    # Median of a strided sample: deterministic, and cheap on long streams.
    n = sym.size
    m = min(n, SAMPLE_FOR_MEDIAN)
    stride = n // m
    sample = np.empty(m, np.int64)
    for i in range(m):
        sample[i] = sym[i * stride]
    sample.sort()
    return sample[m // 2], True


@njit(cache=True, nogil=True)
def to_unsigned(v, offset, use_zigzag):
    if use_zigzag:
        return zigzag(v - offset)
    return v - offset


@njit(cache=True, nogil=True)
def from_unsigned(u, offset, use_zigzag):
    if use_zigzag:
        return offset + unzigzag(u)
    return offset + u


@njit(cache=True, nogil=True)
def token_of(u):
    """Return ``(token, n_extra_bits)`` for a non-negative ``u``."""
    if u < DIRECT_TOKENS:
        return u, 0
    nb = bit_length(u)
    return DIRECT_TOKENS + nb - (DIRECT_BITS + 1), nb - 1


@njit(cache=True, nogil=True)
def extra_bits_of_token(token):
    """Number of raw bits that follow ``token`` (0 for direct tokens)."""
    if token < DIRECT_TOKENS:
        return 0
    return token - DIRECT_TOKENS + DIRECT_BITS


@njit(cache=True, nogil=True)
def value_of_token(token, extra):
    """Inverse of :func:`token_of`: ``u`` from a token and its extra bits."""
    if token < DIRECT_TOKENS:
        return token
    nb1 = token - DIRECT_TOKENS + DIRECT_BITS  # = bit length - 1
    return (np.int64(1) << nb1) | extra


@njit(cache=True, nogil=True)
def token_histogram(sym, offset, use_zigzag):
    """Counts of each token over ``sym``; also returns the total number of extra bits."""
    counts = np.zeros(MAX_TOKENS, np.int64)
    extra_total = 0
    for v in sym:
        t, nb = token_of(to_unsigned(v, offset, use_zigzag))
        counts[t] += 1
        extra_total += nb
    return counts, extra_total
