"""LZW kernels (coder id 3 and the byte helpers; normative layout: docs/format.md §5).

LZW (Welch 1984) over an alphabet of ``A`` base symbols: the dictionary starts
with the ``A`` single symbols; the encoder emits the code of the longest
dictionary string ``w`` that prefixes the rest of the input and adds ``w``
followed by the next symbol as a new entry. Codes are written MSB first with
a variable width: the ``j``-th code after a reset (``j = 0, 1, ...``) is sent
with ``max(1, bit_length(A + j − 1))`` bits, enough for every entry that
exists when it is decoded (the entry ``A + j − 1`` is the "KwKwK" case).
Widths grow to ``MAX_CODE_BITS`` (16): when a code is emitted with
``A + j = 2**16`` entries in the dictionary, the dictionary is reset to the
``A`` single symbols instead of growing (encoder and decoder both, no reset
code needed) and the next code starts a fresh phrase. The code bits end with
zero padding to a byte.

On symbol streams the base alphabet is the token alphabet of tokens.py and
the extra bits of large tokens follow the code bits as a separate bit string.
"""

import numpy as np
from numba import njit

from .bitio import finish_bits, put_word32, read_varint, refill_bits, write_varint
from .status import CORRUPT, OK, TRUNCATED
from .tokens import (
    DIRECT_TOKENS,
    HEADER_DONE,
    KIND_CODED,
    MAX_TOKENS,
    STREAM_CONSTANT,
    analyze_stream,
    bit_length,
    extra_bits_of_token,
    from_unsigned,
    read_stream_header,
    to_unsigned,
    token_of,
    value_of_token,
    write_constant_stream,
    write_mapping,
)

MAX_CODE_BITS = 16
MAX_DICT = 1 << MAX_CODE_BITS
KEY_SHIFT = 13  # base symbols < 2**13 (MAX_TOKENS = 4148)
HASH_MUL = np.int64(-7046029254386353131)  # 0x9E3779B97F4A7C15 as int64


@njit(cache=True, nogil=True)
def new_encoder_tables():
    """Work arrays of :func:`encode_codes`, reusable from one call to the next."""
    return np.empty(4 * MAX_DICT, np.uint16), np.empty(MAX_DICT, np.int32)


@njit(cache=True, nogil=True)
def encode_codes(tok, alphabet, buf, pos, slots, keys):
    """LZW-code ``tok`` (values in ``[0, alphabet)``, ``alphabet <= 2**13``) at ``buf[pos]``.

    ``slots`` and ``keys`` are work arrays from :func:`new_encoder_tables`
    (contents ignored). Returns the end position (the bit string is zero
    padded to a byte). Needs at most ``ceil(16 * tok.size / 8)`` bytes.
    """
    n = tok.size
    if n == 0:
        return pos
    # Open addressing on the dictionary: slots[h] = code of the entry whose key
    # (prefix code << 13 | last token) hashes to h, 0 = free (every added code is
    # >= alphabet >= 1); keys[code] holds the key. Slots of 2 bytes keep the working
    # set in L2 cache, which matters when both cores code; fewer than min(n, 2**16)
    # entries at a load <= 1/4 keep probe runs short even when a long stream fills
    # the dictionary (+10 % on one stream of 10**6 symbols, measured).
    hbits = bit_length(min(n, MAX_DICT) - 1) + 2
    size = np.int64(1) << hbits
    hmask = size - 1
    slots[:size] = 0
    acc = np.int64(0)
    nacc = np.int64(0)
    j = np.int64(0)
    w = np.int64(tok[0])
    for i in range(1, n):
        t = np.int64(tok[i])
        key = (w << KEY_SHIFT) | t
        h = ((key * HASH_MUL) >> (64 - hbits)) & hmask
        while True:
            c = np.int64(slots[h])
            if c == 0 or keys[c] == key:
                break
            h = (h + 1) & hmask
        if c != 0:
            w = c
            continue
        d = alphabet + j
        width = max(np.int64(1), bit_length(d - 1))
        acc = (acc << width) | w
        nacc += width
        pos, acc, nacc = put_word32(buf, pos, acc, nacc)
        if d < MAX_DICT:
            slots[h] = d
            keys[d] = key
            j += 1
        else:
            slots[:size] = 0
            j = 0
        w = t
    d = alphabet + j
    width = max(np.int64(1), bit_length(d - 1))
    acc = (acc << width) | w
    nacc += width
    pos, acc, nacc = put_word32(buf, pos, acc, nacc)
    return finish_bits(buf, pos, acc, nacc)


@njit(cache=True, nogil=True)
def new_decoder_tables():
    """Work array of :func:`decode_codes`: per dictionary entry its prefix, last and
    first base symbol and its length (rows 0-3), reusable from one call to the next."""
    return np.empty((4, MAX_DICT), np.int32)


@njit(cache=True, nogil=True)
def decode_codes(buf, pos, end, alphabet, out, entries):
    """Decode ``out.size`` base symbols of LZW code bits from ``buf[pos:end]`` into ``out``.

    ``entries`` is a work array from :func:`new_decoder_tables`. Returns
    ``(status, end_of_code_bits)``: the byte after the padded code bits. Codes
    beyond the dictionary, a phrase running past ``out.size``, non-zero
    padding or reading past ``end`` are reported as statuses.
    """
    n = out.size
    if n == 0:
        return OK, pos
    if alphabet < 1 or alphabet >= MAX_DICT:
        return CORRUPT, pos
    # Every code has >= 1 bit and yields < 2**16 symbols: reject impossible counts early.
    if n > ((end - pos) * 8 + 1) * MAX_DICT:
        return TRUNCATED, pos
    prefix = entries[0]
    last = entries[1]
    first = entries[2]
    length = entries[3]
    for c in range(alphabet):
        prefix[c] = -1
        last[c] = c
        first[c] = c
        length[c] = 1
    pstart = pos
    bitbuf = np.int64(0)
    bitcnt = np.int64(0)
    pad = np.int64(0)
    i = np.int64(0)
    j = np.int64(0)
    prev = np.int64(-1)
    while i < n:
        if bitcnt < 32:
            pos, bitbuf, bitcnt, pad = refill_bits(buf, pos, end, bitbuf, bitcnt, pad)
            if pad >= 8:
                return TRUNCATED, pos
        d = alphabet + j
        width = max(np.int64(1), bit_length(d - 1))
        bitcnt -= width
        c = (bitbuf >> bitcnt) & ((np.int64(1) << width) - 1)
        if j == 0:
            if c >= alphabet:
                return CORRUPT, pos
        else:
            if c >= d:
                return CORRUPT, pos
            # The entry the encoder added after the previous code: prev + first(current).
            fc = first[c] if c < d - 1 else first[prev]
            prefix[d - 1] = prev
            last[d - 1] = fc
            first[d - 1] = first[prev]
            length[d - 1] = length[prev] + 1
        m = np.int64(length[c])
        if i + m > n:
            return CORRUPT, pos
        k = c
        for p in range(i + m - 1, i - 1, -1):
            out[p] = last[k]
            k = prefix[k]
        i += m
        if d == MAX_DICT:
            j = 0
            prev = -1
        else:
            j += 1
            prev = c
    consumed = (pos + pad - pstart) * 8 - bitcnt
    if consumed > (end - pstart) * 8:
        return TRUNCATED, pos
    used = (consumed + 7) >> 3
    rest = used * 8 - consumed
    if rest > 0 and (bitbuf >> (bitcnt - rest)) & ((np.int64(1) << rest) - 1) != 0:
        return CORRUPT, pos
    return OK, pstart + used


# ---------------------------------------------------------------------------
# bytes
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def compress_bytes(data, buf):
    """``varint len(data)`` then the LZW code bits over the 256 byte values."""
    pos = write_varint(buf, 0, data.size)
    slots, keys = new_encoder_tables()
    return encode_codes(data, 256, buf, pos, slots, keys)


@njit(cache=True, nogil=True)
def decompressed_size(buf):
    """``(status, n)``: the size announced by :func:`compress_bytes` output ``buf``.

    ``TRUNCATED`` when the size varint runs past the end, ``CORRUPT`` when it
    is malformed or the size is impossible for the input size (``n`` = 0 then).
    """
    n, pos = read_varint(buf, 0, buf.size)
    if pos < 0:
        return (TRUNCATED if pos == -1 else CORRUPT), np.int64(0)
    # Each code has >= 8 bits (256 + j - 1 >= 255) and yields < 2**16 bytes.
    if n > (buf.size - pos) * MAX_DICT:
        return CORRUPT, np.int64(0)
    return OK, n


@njit(cache=True, nogil=True)
def decompress_bytes(buf, out):
    """Inverse of :func:`compress_bytes` into ``out`` (sized by :func:`decompressed_size`)."""
    n, pos = read_varint(buf, 0, buf.size)
    if pos < 0 or n != out.size:
        return CORRUPT
    tok = np.empty(n, np.int32)
    status, end = decode_codes(buf, pos, buf.size, 256, tok, new_decoder_tables())
    if status != OK:
        return status
    if end != buf.size:
        return CORRUPT
    for i in range(n):
        out[i] = tok[i]
    return OK


# ---------------------------------------------------------------------------
# symbol streams
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def bound_bytes(n, extra_bits):
    """Most bytes a stream of ``n`` symbols with ``extra_bits`` extra bits in all can take."""
    if n == 0:
        return np.int64(0)
    return 32 + (n * MAX_CODE_BITS + 7) // 8 + (extra_bits + 7) // 8


@njit(cache=True, nogil=True)
def encode_stream_into(sym, buf, start, capacity, tok, slots, keys):
    """Encode ``sym`` into ``buf[start:start + capacity]``; return the end position.

    Returns -1 instead, having written nothing, when :func:`bound_bytes` of the
    stream exceeds ``capacity``. ``tok`` (int32, at least ``sym.size``
    entries), ``slots`` and ``keys`` are work arrays.
    """
    n = sym.size
    if n == 0:
        return start
    counts = np.zeros(MAX_TOKENS, np.int64)
    kind, offset, use_zz, alphabet, extra_total = analyze_stream(sym, counts)
    if bound_bytes(n, extra_total) > capacity:
        return -1
    pos = start
    if kind == STREAM_CONSTANT:
        return write_constant_stream(buf, pos, offset)
    buf[pos] = KIND_CODED
    pos = write_mapping(buf, pos + 1, offset, use_zz, alphabet)
    for i in range(n):
        u = to_unsigned(sym[i], offset, use_zz)
        if u < DIRECT_TOKENS:
            tok[i] = u
        else:
            t, _ = token_of(u)
            tok[i] = t
    pos = encode_codes(tok[:n], alphabet, buf, pos, slots, keys)
    if extra_total == 0:
        return pos
    acc = np.int64(0)
    nacc = np.int64(0)
    for i in range(n):
        if tok[i] < DIRECT_TOKENS:
            continue
        u = to_unsigned(sym[i], offset, use_zz)
        nb = extra_bits_of_token(tok[i])
        while nb > 0:
            k = min(nb, np.int64(31))
            nb -= k
            acc = (acc << k) | ((u >> nb) & ((np.int64(1) << k) - 1))
            nacc += k
            pos, acc, nacc = put_word32(buf, pos, acc, nacc)
    return finish_bits(buf, pos, acc, nacc)


@njit(cache=True, nogil=True)
def decode_stream_into(buf, start, end, out, tok, entries):
    """Decode ``out.size`` symbols from ``buf[start:end]`` into ``out``; return a status.

    ``tok`` (int32, at least ``out.size`` entries) and ``entries`` are work arrays.
    """
    n = out.size
    status, offset, use_zz, alphabet, pos = read_stream_header(buf, start, end, out)
    if status != OK:
        return OK if status == HEADER_DONE else status
    tok = tok[:n]
    status, pos = decode_codes(buf, pos, end, alphabet, tok, entries)
    if status != OK:
        return status
    # Extra bits of large tokens, then zero padding to the end of the stream.
    bitpos = pos * 8
    limit = end * 8
    for i in range(n):
        t = np.int64(tok[i])
        if t < DIRECT_TOKENS:
            out[i] = from_unsigned(t, offset, use_zz)
            continue
        nb = extra_bits_of_token(t)
        if bitpos + nb > limit:
            return TRUNCATED
        extra = np.int64(0)
        for _ in range(nb):
            extra = (extra << 1) | ((np.int64(buf[bitpos >> 3]) >> (7 - (bitpos & 7))) & 1)
            bitpos += 1
        out[i] = from_unsigned(value_of_token(t, extra), offset, use_zz)
    used = (bitpos + 7) >> 3
    if used != end:
        return CORRUPT
    if bitpos & 7 and (np.int64(buf[end - 1]) & ((1 << (8 - (bitpos & 7))) - 1)) != 0:
        return CORRUPT
    return OK
