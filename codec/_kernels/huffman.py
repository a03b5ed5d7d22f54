"""Canonical Huffman coding kernels (coder id 2; normative layout: docs/format.md §5).

One *stream* of int64 symbols is coded self-contained::

    (no bytes at all for an empty stream)
    kind u8 = 0   constant stream: varint zigzag(value)                 (n >= 1)
    kind u8 = 1   varint zigzag(offset), u8 flags (bit 0: zigzag mapping),
                  varint A (token alphabet size), code-length table (bit
                  string, byte aligned), then the coded bits (byte aligned)

Symbols become tokens and raw extra bits exactly as for the range coder
(tokens.py). Token ``t`` gets a canonical prefix code of length
``L[t] <= MAX_CODE_BITS`` (15): the lengths are optimal under that limit
(package-merge, Larmore & Hirschberg 1990) and the codes are assigned in
order of (length, token), as in Deflate. Each symbol is its token's code
followed by its extra bits, most significant bit first; the last byte is
padded with zero bits.

Code-length table: for each used token (``L[t] > 0``) in increasing order,
``gamma(zero_run + 1)`` then ``gamma(zigzag(L[t] − L_prev) + 1)``, where
``zero_run`` counts the unused tokens skipped since the previous used one and
``L_prev`` is the previous used length (0 at first); token ``A − 1`` is used.

The decoder is table driven: one lookup of the next ``PRIMARY_BITS`` (11)
bits resolves every code of up to 11 bits, and up to four codes at once when
they fit in the 11 bits; longer codes fall back to a canonical search over
lengths 12..15. Every table entry, length and bit
position is validated: an over-subscribed table (Kraft sum > 1), a code that
is not in the table, reading past the end, or bytes/non-zero padding left
over are reported as statuses, never by reading out of bounds.
"""

import numpy as np
from numba import njit

from .bitio import (
    finish_bits,
    flush_bits,
    get_gamma,
    put_gamma,
    refill_bits,
    unzigzag,
    zigzag,
)
from .status import CORRUPT, OK, TRUNCATED
from .tokens import (
    DIRECT_TOKENS,
    HEADER_DONE,
    KIND_CODED,
    MAX_TOKENS,
    STREAM_CONSTANT,
    analyze_stream,
    extra_bits_of_token,
    from_unsigned,
    read_stream_header,
    to_unsigned,
    token_of,
    value_of_token,
    write_constant_stream,
    write_mapping,
)

MAX_CODE_BITS = 15
PRIMARY_BITS = 11


_SLOW = 1 << 7  # decoder table flag


# ---------------------------------------------------------------------------
# code construction
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def code_lengths(counts, max_bits, lengths):
    """Optimal prefix-code lengths of at most ``max_bits`` bits for ``counts`` (package-merge).

    ``lengths`` (same size as ``counts``) receives 0 for unused symbols. A
    single used symbol gets length 1. Requires at most ``2**max_bits`` used
    symbols. Without a binding limit the result is a Huffman code (Kraft sum 1).
    """
    lengths[:] = 0
    m = 0
    for c in counts:
        if c > 0:
            m += 1
    if m == 0:
        return
    syms = np.empty(m, np.int64)
    w = np.empty(m, np.int64)
    j = 0
    for t in range(counts.size):
        if counts[t] > 0:
            syms[j] = t
            w[j] = counts[t]
            j += 1
    if m == 1:
        lengths[syms[0]] = 1
        return
    order = np.argsort(w, kind="mergesort")
    syms = syms[order]
    w = w[order]
    # Level 0 holds the coins of denomination 2**-max_bits (the leaves); level
    # l merges the leaves with the pairs ("packages") of level l - 1.
    cap = 2 * m
    item_w = np.empty((max_bits, cap), np.int64)
    is_leaf = np.empty((max_bits, cap), np.bool_)
    n_items = np.zeros(max_bits, np.int64)
    for i in range(m):
        item_w[0, i] = w[i]
        is_leaf[0, i] = True
    n_items[0] = m
    for lev in range(1, max_bits):
        n_pk = n_items[lev - 1] // 2
        a = 0
        b = 0
        k = 0
        while a < m or b < n_pk:
            pw = np.int64(0)
            if b < n_pk:
                pw = item_w[lev - 1, 2 * b] + item_w[lev - 1, 2 * b + 1]
            if b >= n_pk or (a < m and w[a] <= pw):
                item_w[lev, k] = w[a]
                is_leaf[lev, k] = True
                a += 1
            else:
                item_w[lev, k] = pw
                is_leaf[lev, k] = False
                b += 1
            k += 1
        n_items[lev] = k
    # Select the 2m - 2 cheapest items of the top level and expand packages downwards;
    # every selected leaf lengthens its symbol's code by one bit.
    take = 2 * m - 2
    for lev in range(max_bits - 1, -1, -1):
        n_leaf = 0
        n_pkg = 0
        for i in range(take):
            if is_leaf[lev, i]:
                n_leaf += 1
            else:
                n_pkg += 1
        for i in range(n_leaf):
            lengths[syms[i]] += 1
        take = 2 * n_pkg


@njit(cache=True, nogil=True)
def canonical_codes(lengths, max_bits, codes):
    """Deflate's canonical code assignment: codes in order of (length, symbol)."""
    bl_count = np.zeros(max_bits + 1, np.int64)
    for t in range(lengths.size):
        if lengths[t] > 0:
            bl_count[lengths[t]] += 1
    next_code = np.zeros(max_bits + 1, np.int64)
    code = np.int64(0)
    for bits in range(1, max_bits + 1):
        code = (code + bl_count[bits - 1]) << 1
        next_code[bits] = code
    for t in range(lengths.size):
        b = lengths[t]
        if b > 0:
            codes[t] = next_code[b]
            next_code[b] += 1


@njit(cache=True, nogil=True)
def write_length_table(buf, pos, lengths, alphabet):
    """Bit string of (gamma(zero_run + 1), gamma(zigzag(delta length) + 1)) pairs, byte aligned."""
    acc = np.int64(0)
    nacc = np.int64(0)
    run = np.int64(0)
    prev = np.int64(0)
    for t in range(alphabet):
        b = lengths[t]
        if b == 0:
            run += 1
            continue
        pos, acc, nacc = put_gamma(buf, pos, acc, nacc, run + 1)
        pos, acc, nacc = put_gamma(buf, pos, acc, nacc, zigzag(b - prev) + 1)
        prev = b
        run = 0
    return flush_bits(buf, pos, acc, nacc)


@njit(cache=True, nogil=True)
def read_length_table(buf, pos, end, alphabet, max_bits):
    """Inverse of :func:`write_length_table`; checks lengths and the Kraft sum.

    Returns ``(lengths, new_pos)``; ``new_pos`` is -1 when the table runs past
    ``end`` and -2 when it is invalid (a length outside 1..max_bits, a run past
    the alphabet, or a Kraft sum above 1).
    """
    lengths = np.zeros(alphabet, np.int64)
    bitpos = pos * 8
    t = np.int64(0)
    prev = np.int64(0)
    kraft = np.int64(0)
    while t < alphabet:
        run, bitpos = get_gamma(buf, end, bitpos, 14)
        if bitpos < 0:
            return lengths, -1
        t += run - 1
        if t >= alphabet:
            return lengths, -2
        d, bitpos = get_gamma(buf, end, bitpos, 7)
        if bitpos < 0:
            return lengths, -1
        b = prev + unzigzag(d - 1)
        if b < 1 or b > max_bits:
            return lengths, -2
        lengths[t] = b
        kraft += np.int64(1) << (max_bits - b)
        prev = b
        t += 1
    if kraft > (np.int64(1) << max_bits):
        return lengths, -2
    return lengths, (bitpos + 7) >> 3


# ---------------------------------------------------------------------------
# encoder
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def bound_bytes(n, extra_bits):
    """Most bytes a stream of ``n`` symbols with ``extra_bits`` extra bits in all can take."""
    if n == 0:
        return np.int64(0)
    # header <= 15 B, table <= 34 bits per used token + 1 B, codes <= 15 bits + extras.
    return 24 + 5 * min(n, MAX_TOKENS) + (n * MAX_CODE_BITS + extra_bits + 7) // 8


@njit(cache=True, nogil=True)
def encode_stream_into(sym, buf, start, capacity):
    """Encode ``sym`` into ``buf[start:start + capacity]``; return the end position.

    Returns -1 instead, having written nothing, when :func:`bound_bytes` of the
    stream exceeds ``capacity``.
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
    lengths = np.zeros(alphabet, np.int64)
    code_lengths(counts[:alphabet], MAX_CODE_BITS, lengths)
    codes = np.zeros(alphabet, np.int64)
    canonical_codes(lengths, MAX_CODE_BITS, codes)

    buf[pos] = KIND_CODED
    pos = write_mapping(buf, pos + 1, offset, use_zz, alphabet)
    pos = write_length_table(buf, pos, lengths, alphabet)

    acc = np.int64(0)  # pending bits, fewer than 32 between symbols
    nacc = np.int64(0)
    for v in sym:
        u = to_unsigned(v, offset, use_zz)
        if u < DIRECT_TOKENS:
            acc = (acc << lengths[u]) | codes[u]
            nacc += lengths[u]
        else:
            t, nb = token_of(u)
            acc = (acc << lengths[t]) | codes[t]
            nacc += lengths[t]
            while nb > 0:
                if nacc >= 32:
                    nacc -= 32
                    x = acc >> nacc
                    buf[pos] = (x >> 24) & 0xFF
                    buf[pos + 1] = (x >> 16) & 0xFF
                    buf[pos + 2] = (x >> 8) & 0xFF
                    buf[pos + 3] = x & 0xFF
                    pos += 4
                    acc &= (np.int64(1) << nacc) - 1
                k = min(nb, np.int64(31))
                nb -= k
                acc = (acc << k) | ((u >> nb) & ((np.int64(1) << k) - 1))
                nacc += k
        # bitio.put_word32 written out: as a call it made this loop 1.6x slower (10**6 symbols)
        if nacc >= 32:
            nacc -= 32
            x = acc >> nacc
            buf[pos] = (x >> 24) & 0xFF
            buf[pos + 1] = (x >> 16) & 0xFF
            buf[pos + 2] = (x >> 8) & 0xFF
            buf[pos + 3] = x & 0xFF
            pos += 4
            acc &= (np.int64(1) << nacc) - 1
    return finish_bits(buf, pos, acc, nacc)


# ---------------------------------------------------------------------------
# decoder
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _put4(out, i, vals, e):
    """``out[i:i + 4]`` = the values of the four token fields of table entry ``e``."""
    u = np.uint64(i)
    out[u] = vals[np.uint64((e >> 8) & 8191)]
    out[u + np.uint64(1)] = vals[np.uint64((e >> 21) & 8191)]
    out[u + np.uint64(2)] = vals[np.uint64((e >> 34) & 8191)]
    out[u + np.uint64(3)] = vals[np.uint64((e >> 47) & 8191)]


@njit(cache=True, nogil=True)
def decode_stream(buf, start, end, out):
    """Decode ``out.size`` symbols from ``buf[start:end]`` into ``out``; return a status."""
    n = out.size
    status, offset, use_zz, alphabet, pos = read_stream_header(buf, start, end, out)
    if status != OK:
        return OK if status == HEADER_DONE else status
    lengths, pos = read_length_table(buf, pos, end, alphabet, MAX_CODE_BITS)
    if pos < 0:
        return TRUNCATED if pos == -1 else CORRUPT

    # Canonical decoding structures.
    bl_count = np.zeros(MAX_CODE_BITS + 1, np.int64)
    for t in range(alphabet):
        bl_count[lengths[t]] += 1
    bl_count[0] = 0
    first_code = np.zeros(MAX_CODE_BITS + 1, np.int64)
    first_index = np.zeros(MAX_CODE_BITS + 2, np.int64)
    code = np.int64(0)
    for b in range(1, MAX_CODE_BITS + 1):
        code = (code + bl_count[b - 1]) << 1
        first_code[b] = code
        first_index[b + 1] = first_index[b] + bl_count[b]
    sorted_syms = np.empty(first_index[MAX_CODE_BITS + 1], np.int64)
    fill = first_index.copy()
    max_len = np.int64(0)
    single = np.zeros(1 << PRIMARY_BITS, np.int64)  # (token << 4) | length, 0 = not here
    for t in range(alphabet):
        b = lengths[t]
        if b == 0:
            continue
        max_len = max(max_len, b)
        idx = fill[b]
        fill[b] += 1
        sorted_syms[idx] = t
        if b <= PRIMARY_BITS:
            c = first_code[b] + idx - first_index[b]
            lo = c << (PRIMARY_BITS - b)
            for e in range(lo, lo + (np.int64(1) << (PRIMARY_BITS - b))):
                single[e] = (t << 4) | b
    # Primary table: one lookup of PRIMARY_BITS bits yields up to four symbols. Entry =
    # bits | count << 4 | SLOW << 7 | token_k << (8 + 13 k) (k = 0..3) | len1 << 60, where
    # bits = code bits of the `count` (1 to 4) symbols it decodes and len1 those of the
    # first; SLOW marks a code longer than the table (0 bits: search the canonical code)
    # or a token with extra bits. Four symbols per lookup pay off on skewed streams
    # (pruned weights: a 1-bit code for zero).
    pmask = (np.int64(1) << PRIMARY_BITS) - 1
    table = np.zeros(1 << PRIMARY_BITS, np.int64)
    for e in range(1 << PRIMARY_BITS):
        s1 = single[e]
        if s1 == 0:
            table[e] = _SLOW
            continue
        b1 = s1 & 15
        t1 = s1 >> 4
        if t1 >= DIRECT_TOKENS:
            table[e] = b1 | (np.int64(1) << 4) | _SLOW | (t1 << 8) | (b1 << 60)
            continue
        entry = (t1 << 8) | (b1 << 60)
        used = b1
        count = np.int64(1)
        while count < 4 and used < PRIMARY_BITS:
            sk = single[(e << used) & pmask]
            bk = sk & 15
            tk = sk >> 4
            if sk == 0 or used + bk > PRIMARY_BITS or tk >= DIRECT_TOKENS:
                break
            entry |= tk << (8 + 13 * count)
            used += bk
            count += 1
        table[e] = entry | used | (count << 4)
    n_direct = min(alphabet, DIRECT_TOKENS)
    vals = np.empty(n_direct, np.int64)
    for t in range(n_direct):
        vals[t] = from_unsigned(t, offset, use_zz)

    pstart = pos
    bitbuf = np.int64(0)
    bitcnt = np.int64(0)
    pad = np.int64(0)
    i = np.int64(0)
    while i < n:
        if bitcnt < 32:
            if pos + 4 <= end:
                p = np.uint64(pos)
                bitbuf = (
                    (bitbuf << 32)
                    | (np.int64(buf[p]) << 24)
                    | (np.int64(buf[p + np.uint64(1)]) << 16)
                    | (np.int64(buf[p + np.uint64(2)]) << 8)
                    | np.int64(buf[p + np.uint64(3)])
                )
                pos += 4
                bitcnt += 32
            else:
                pos, bitbuf, bitcnt, pad = refill_bits(buf, pos, end, bitbuf, bitcnt, pad)
                if pad >= 8:
                    return TRUNCATED
        # Fast path, branch-free on the number of symbols: write four values, advance
        # by one to four (values that are not real are overwritten next). Two
        # lookups per refill: each consumes at most PRIMARY_BITS of the >= 32 bits.
        e = table[(bitbuf >> (bitcnt - PRIMARY_BITS)) & pmask]
        if (e & _SLOW) == 0 and i + 3 < n:
            _put4(out, i, vals, e)
            bitcnt -= e & 15
            i += (e >> 4) & 7
            e = table[(bitbuf >> (bitcnt - PRIMARY_BITS)) & pmask]
            if (e & _SLOW) == 0 and i + 3 < n:
                _put4(out, i, vals, e)
                bitcnt -= e & 15
                i += (e >> 4) & 7
            continue
        # One symbol the slow way: a long code, extra bits, or one of the last three.
        if (e & 15) != 0:
            t = (e >> 8) & 8191
            bitcnt -= (e >> 60) & 15
        else:
            w = (bitbuf >> (bitcnt - MAX_CODE_BITS)) & ((np.int64(1) << MAX_CODE_BITS) - 1)
            t = np.int64(-1)
            for b in range(PRIMARY_BITS + 1, max_len + 1):
                c = (w >> (MAX_CODE_BITS - b)) - first_code[b]
                if 0 <= c < bl_count[b]:
                    t = sorted_syms[first_index[b] + c]
                    bitcnt -= b
                    break
            if t < 0:
                return CORRUPT
        if t < DIRECT_TOKENS:
            out[i] = vals[t]
        else:
            nb = extra_bits_of_token(t)
            extra = np.int64(0)
            while nb > 0:
                if bitcnt < 32:
                    pos, bitbuf, bitcnt, pad = refill_bits(buf, pos, end, bitbuf, bitcnt, pad)
                    if pad >= 8:
                        return TRUNCATED
                k = min(nb, np.int64(31))
                nb -= k
                bitcnt -= k
                extra = (extra << k) | ((bitbuf >> bitcnt) & ((np.int64(1) << k) - 1))
            out[i] = from_unsigned(value_of_token(t, extra), offset, use_zz)
        i += 1
    consumed = (pos + pad - pstart) * 8 - bitcnt
    avail = (end - pstart) * 8
    if consumed > avail:
        return TRUNCATED
    used = (consumed + 7) >> 3
    if used != end - pstart:
        return CORRUPT
    rest = used * 8 - consumed  # zero padding bits, still in the bit buffer
    if rest > 0 and (bitbuf >> (bitcnt - rest)) & ((np.int64(1) << rest) - 1) != 0:
        return CORRUPT
    return OK
