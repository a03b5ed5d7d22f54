"""Byte and bit I/O kernels shared by the coders.

Writers take a preallocated ``uint8`` buffer and a position and return the new
position; the caller sizes the buffer from a proven upper bound. Readers
validate every access against the buffer end and report failure through a
negative position (``-1``: ran past the end), never by reading out of bounds.

Integers are LEB128 varints (7 bits per byte, little-endian groups, high bit =
"more"); signed values go through zigzag, ``(v << 1) ^ (v >> 63)``. Bit strings
are written most-significant bit first. All values handled here are below 2**63.
The range coders share their carry propagation here too.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def zigzag(v):
    """Map a signed int64 to a non-negative one: 0,-1,1,-2,... -> 0,1,2,3,..."""
    return (v << 1) ^ (v >> 63)


@njit(cache=True, nogil=True)
def unzigzag(u):
    """Inverse of :func:`zigzag` for values below 2**63."""
    return (u >> 1) ^ -(u & 1)


@njit(cache=True, nogil=True)
def write_varint(buf, pos, value):
    """Write non-negative ``value`` as LEB128 at ``buf[pos]``; return the new position."""
    while value >= 0x80:
        buf[pos] = (value & 0x7F) | 0x80
        pos += 1
        value >>= 7
    buf[pos] = value
    return pos + 1


@njit(cache=True, nogil=True)
def read_varint(buf, pos, end):
    """Read a LEB128 varint from ``buf[pos:end]``.

    Returns ``(value, new_pos)``; ``new_pos`` is -1 if the varint runs past
    ``end`` and -2 if it is longer than 9 bytes (it would not fit in 63 bits).
    """
    value = 0
    shift = 0
    for _ in range(9):
        if pos >= end:
            return 0, -1
        b = np.int64(buf[pos])
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
    return 0, -2


@njit(cache=True, nogil=True)
def put_bits(buf, pos, acc, nacc, value, nbits):
    """Append the ``nbits`` (<= 32) low bits of ``value`` to a bit accumulator.

    The accumulator ``acc`` holds ``nacc`` (< 8) pending bits; whole bytes are
    flushed to ``buf`` MSB first. Returns ``(pos, acc, nacc)``.
    """
    acc = (acc << nbits) | (value & ((np.int64(1) << nbits) - 1))
    nacc += nbits
    while nacc >= 8:
        nacc -= 8
        buf[pos] = (acc >> nacc) & 0xFF
        pos += 1
    acc &= (np.int64(1) << nacc) - 1
    return pos, acc, nacc


@njit(cache=True, nogil=True)
def flush_bits(buf, pos, acc, nacc):
    """Pad the pending bits with zeros to a byte boundary; return the new position."""
    if nacc > 0:
        buf[pos] = (acc << (8 - nacc)) & 0xFF
        pos += 1
    return pos


@njit(cache=True, nogil=True)
def put_gamma(buf, pos, acc, nacc, value):
    """Elias-gamma code of ``value`` >= 1: (bitlength-1) zeros, then the value's bits."""
    nb = 0
    v = value
    while v > 0:
        nb += 1
        v >>= 1
    pos, acc, nacc = put_bits(buf, pos, acc, nacc, 0, nb - 1)
    # nb can exceed 32 only for values above 2**32, which callers never write.
    return put_bits(buf, pos, acc, nacc, value, nb)


@njit(cache=True, nogil=True)
def get_bit(buf, end, bitpos):
    """Bit number ``bitpos`` (MSB-first) of ``buf``; returns -1 past ``end`` bytes."""
    byte = bitpos >> 3
    if byte >= end:
        return -1
    return (np.int64(buf[byte]) >> (7 - (bitpos & 7))) & 1


@njit(cache=True, nogil=True)
def get_gamma(buf, end, bitpos, max_bits):
    """Read an Elias-gamma value starting at absolute bit ``bitpos``.

    Returns ``(value, new_bitpos)``; ``new_bitpos`` is -1 when the code runs
    past ``end`` or has more than ``max_bits`` value bits (corrupt input).
    """
    zeros = 0
    while True:
        b = get_bit(buf, end, bitpos)
        if b < 0:
            return 0, -1
        if b == 1:
            break
        zeros += 1
        bitpos += 1
        if zeros >= max_bits:
            return 0, -1
    value = 0
    for _ in range(zeros + 1):
        b = get_bit(buf, end, bitpos)
        if b < 0:
            return 0, -1
        value = (value << 1) | b
        bitpos += 1
    return value, bitpos


# ---------------------------------------------------------------------------
# 64-bit bit buffers of the coders' hot loops (Huffman, LZW)
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def put_word32(buf, pos, acc, nacc):
    """If ``nacc`` >= 32 pending bits, write the oldest 32 of ``acc`` as 4 bytes, MSB first.

    The writer side of a bit accumulator that holds up to 63 bits: callers
    append at most 31 bits per step and call this between steps (LZW; the
    Huffman encoder writes it out in its per-symbol loop, where the call made
    it 1.6x slower). Returns ``(pos, acc, nacc)``.
    """
    if nacc >= 32:
        nacc -= 32
        x = acc >> nacc
        buf[pos] = (x >> 24) & 0xFF
        buf[pos + 1] = (x >> 16) & 0xFF
        buf[pos + 2] = (x >> 8) & 0xFF
        buf[pos + 3] = x & 0xFF
        pos += 4
        acc &= (np.int64(1) << nacc) - 1
    return pos, acc, nacc


@njit(cache=True, nogil=True)
def finish_bits(buf, pos, acc, nacc):
    """Write every pending bit of ``acc``, zero padded to a byte; return the new position."""
    while nacc >= 8:
        nacc -= 8
        buf[pos] = (acc >> nacc) & 0xFF
        pos += 1
    return flush_bits(buf, pos, acc, nacc)


@njit(cache=True, nogil=True)
def refill_bits(buf, pos, end, bitbuf, bitcnt, pad):
    """Top up the reader's bit buffer to more than 48 bits, a byte at a time.

    ``bitbuf`` holds ``bitcnt`` unread bits (the low ones); bytes past ``end``
    read as zero and are counted in ``pad``, so a caller detects truncation by
    ``pad`` (8 or more: a whole 64-bit load past the end) and, at the end, by
    the bits it consumed. Returns ``(pos, bitbuf, bitcnt, pad)``.
    """
    if pos + 8 <= end:
        while bitcnt <= 48:
            bitbuf = (bitbuf << 8) | np.int64(buf[pos])
            pos += 1
            bitcnt += 8
    else:
        while bitcnt <= 48:
            if pos < end:
                bitbuf = (bitbuf << 8) | np.int64(buf[pos])
                pos += 1
            else:
                bitbuf = bitbuf << 8
                pad += 1
            bitcnt += 8
    return pos, bitbuf, bitcnt, pad


# ---------------------------------------------------------------------------
# range coders
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def propagate_carry(buf, start, pos):
    """Add 1 to the big-endian number ``buf[start:pos]`` (a range coder's carry).

    Trailing 0xFF bytes become 0 and the carry moves to the byte before them;
    range coders never carry past ``start`` because their interval only shrinks.
    """
    j = pos - 1
    while j >= start and buf[j] == 0xFF:
        buf[j] = 0
        j -= 1
    buf[j] += 1
