"""Static range coder (arithmetic coding with 32-bit integer state).

One *stream* of int64 symbols is coded self-contained (normative layout in
docs/format.md §5):

    kind u8 = 0   constant stream: varint zigzag(value)                (n >= 1)
    kind u8 = 1   varint zigzag(offset), u8 flags (bit 0: zigzag mapping),
                  varint A (token alphabet size), frequency table (Elias-gamma,
                  byte aligned), range-coder bytes
    (no bytes at all for an empty stream)

The model is a frequency table over tokens (see tokens.py) that sums to
``2**PROB_BITS`` exactly, so the decoder inverts it with integer arithmetic
only: encoder and decoder agree bit for bit on every machine.

The coder is the carry-propagating range coder of Subbotin/Schindler: ``low``
and ``rng`` are 32-bit, bytes leave from the top of ``low``, a carry out of
``low`` is propagated back into the bytes already written (it never passes the
first byte of the stream because the coding interval only shrinks). The
encoder ends by writing the 4 bytes of ``low``; the decoder reads exactly as
many bytes as were written, so reading past the end means truncation and
leftover bytes mean corruption.

Decoders return the status codes of status.py.
"""

import numpy as np
from numba import njit

from .bitio import flush_bits, get_gamma, propagate_carry, put_gamma
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

PROB_BITS = 16
PROB_TOTAL = 1 << PROB_BITS
RC_TOP = 1 << 24
MASK32 = 0xFFFFFFFF
DIRECT_CHUNK = 16  # raw extra bits are coded 16 at a time
BUCKET_SHIFT = 4  # decoder search table: one entry per 16 values of the 2**16 total


try:  # LLVM's ctlz: one instruction, shortens the encoder's and decoder's dependency chain
    from numba.cpython.unsafe.numbers import leading_zeros as _leading_zeros
except ImportError:  # pragma: no cover - older or newer numba without the intrinsic
    _leading_zeros = None

if _leading_zeros is not None:

    @njit(cache=True, nogil=True)
    def _renorm_shift(rng):
        """8 × the number of leading zero bytes of a 32-bit range >= 2**8 (0, 8, 16 or 24)."""
        return np.int64(_leading_zeros(np.uint32(rng))) & 24

else:  # pragma: no cover

    @njit(cache=True, nogil=True)
    def _renorm_shift(rng):
        """8 × the number of leading zero bytes of a 32-bit range >= 2**8 (0, 8, 16 or 24)."""
        return (
            np.int64(rng < (1 << 24)) + np.int64(rng < (1 << 16)) + np.int64(rng < (1 << 8))
        ) << 3


# ---------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def normalize_frequencies(counts, total_bits):
    """Scale ``counts`` to integers summing to ``2**total_bits``, every used symbol >= 1.

    Each frequency is ``round(c * 2**total_bits / n)`` (at least 1); the
    rounding surplus or deficit is settled on the largest frequencies, which
    changes their code lengths the least.
    """
    total = np.int64(1) << total_bits
    n = counts.sum()
    freq = np.zeros(counts.size, np.int64)
    s = 0
    for t in range(counts.size):
        if counts[t] > 0:
            f = (counts[t] * total + n // 2) // n
            freq[t] = max(np.int64(1), f)
            s += freq[t]
    diff = total - s
    while diff != 0:
        best = -1
        for t in range(freq.size):
            if freq[t] > 1 or (diff > 0 and freq[t] > 0):
                if best < 0 or freq[t] > freq[best]:
                    best = t
        if diff > 0:
            freq[best] += diff
            diff = 0
        else:
            take = min(-diff, freq[best] - 1, max(np.int64(1), freq[best] >> 4))
            freq[best] -= take
            diff += take
    return freq


@njit(cache=True, nogil=True)
def write_frequency_table(buf, pos, freq, alphabet):
    """Gamma-code the non-zero entries of ``freq[:alphabet]`` as (zero run + 1, value)."""
    acc = 0
    nacc = 0
    run = 0
    for t in range(alphabet):
        f = freq[t]
        if f == 0:
            run += 1
            continue
        pos, acc, nacc = put_gamma(buf, pos, acc, nacc, run + 1)
        pos, acc, nacc = put_gamma(buf, pos, acc, nacc, f)
        run = 0
    return flush_bits(buf, pos, acc, nacc)


@njit(cache=True, nogil=True)
def read_frequency_table(buf, pos, end, alphabet, total_bits):
    """Inverse of :func:`write_frequency_table`. Returns ``(freq, new_pos)``; pos < 0 on error."""
    freq = np.zeros(alphabet, np.int64)
    total = np.int64(1) << total_bits
    bitpos = pos * 8
    t = 0
    s = 0
    while t < alphabet:
        run, bitpos = get_gamma(buf, end, bitpos, 40)
        if bitpos < 0:
            return freq, -1
        t += run - 1
        if t >= alphabet:
            return freq, -2
        f, bitpos = get_gamma(buf, end, bitpos, total_bits + 1)
        if bitpos < 0:
            return freq, -1
        if f > total:
            return freq, -2
        freq[t] = f
        s += f
        t += 1
    if s != total or freq[alphabet - 1] == 0:
        return freq, -2
    return freq, (bitpos + 7) >> 3


# ---------------------------------------------------------------------------
# encoder
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _encode_interval(buf, start, pos, low, rng, cum, freq, shift):
    """Narrow [low, low+rng) to the sub-interval [cum, cum+freq) of 2**shift."""
    r = rng >> shift
    low += cum * r
    rng = freq * r
    if low > MASK32:
        low &= MASK32
        propagate_carry(buf, start, pos)
    while rng < RC_TOP:
        buf[pos] = (low >> 24) & 0xFF
        pos += 1
        low = (low << 8) & MASK32
        rng <<= 8
    return pos, low, rng


@njit(cache=True, nogil=True)
def _encode_token(buf, rc_start, q, low, rng, cum, freq, u):
    """:func:`_encode_interval` for token ``u`` of total 2**16, fast.

    Bytes go straight to ``buf``; a carry out of ``low`` is added to the last
    byte written, and only when that byte was 0xFF does it propagate further
    back (bitio's :func:`propagate_carry`), so the branch is almost never taken. The
    renormalisation writes sh/8 = number of leading zero bytes of the 32-bit
    range (0..3) bytes at once instead of looping (the buffer bound leaves
    room for the 3 stores). Unsigned indices spare numba's wraparound code.
    """
    one = np.uint64(1)
    uu = np.uint64(u)
    r = rng >> PROB_BITS
    low += cum[uu] * r
    rng = freq[uu] * r
    x = np.int64(buf[q - one]) + (low >> 32)
    buf[q - one] = x & 0xFF
    if x > 0xFF:
        propagate_carry(buf, rc_start, np.int64(q) - 1)
    low &= MASK32
    sh = _renorm_shift(rng)
    buf[q] = (low >> 24) & 0xFF
    buf[q + one] = (low >> 16) & 0xFF
    buf[q + np.uint64(2)] = (low >> 8) & 0xFF
    q += np.uint64(sh >> 3)
    low = (low << sh) & MASK32
    rng <<= sh
    return q, low, rng


@njit(cache=True, nogil=True)
def bound_bytes(n, extra_bits):
    """Most bytes a stream of ``n`` symbols with ``extra_bits`` extra bits in all can take."""
    if n == 0:
        return np.int64(0)
    # header 32 B, table <= 8 B per used token, <= 17 bits per token plus per
    # 16-bit chunk of extra bits one more bit of truncation loss (<= 1 + nb // 8
    # for nb extra bits), 4 flush bytes.
    return 40 + 8 * min(n, MAX_TOKENS) + (n * 18 + extra_bits + extra_bits // 8 + 7) // 8


@njit(cache=True, nogil=True)
def encode_stream_into(sym, buf, start, capacity):
    """Encode ``sym`` into ``buf[start:start + capacity]``; return the end position.

    Returns -1 instead, having written nothing, when :func:`bound_bytes` of the
    stream exceeds ``capacity``.
    """
    n = sym.size
    if n == 0:
        return start
    pos = start
    counts = np.zeros(MAX_TOKENS, np.int64)
    kind, offset, use_zz, alphabet, extra_total = analyze_stream(sym, counts)
    if bound_bytes(n, extra_total) > capacity:
        return -1
    if kind == STREAM_CONSTANT:
        return write_constant_stream(buf, pos, offset)
    freq = normalize_frequencies(counts[:alphabet], PROB_BITS)
    cum = np.zeros(alphabet + 1, np.int64)
    for t in range(alphabet):
        cum[t + 1] = cum[t] + freq[t]

    buf[pos] = KIND_CODED
    pos = write_mapping(buf, pos + 1, offset, use_zz, alphabet)
    pos = write_frequency_table(buf, pos, freq, alphabet)

    rc_start = pos
    q = np.uint64(pos)
    low = np.int64(0)
    rng = np.int64(MASK32)
    if not use_zz and alphabet <= DIRECT_TOKENS:  # every symbol is a direct token
        for v in sym:
            q, low, rng = _encode_token(buf, rc_start, q, low, rng, cum, freq, v - offset)
    else:
        for v in sym:
            u = to_unsigned(v, offset, use_zz)
            if u < DIRECT_TOKENS:
                q, low, rng = _encode_token(buf, rc_start, q, low, rng, cum, freq, u)
                continue
            t, nb = token_of(u)
            p, low, rng = _encode_interval(
                buf, rc_start, np.int64(q), low, rng, cum[t], freq[t], PROB_BITS
            )
            while nb > 0:
                k = min(nb, DIRECT_CHUNK)
                nb -= k
                bits = (u >> nb) & ((np.int64(1) << k) - 1)
                p, low, rng = _encode_interval(buf, rc_start, p, low, rng, bits, 1, k)
            q = np.uint64(p)
    p = np.int64(q)
    for _ in range(4):
        buf[p] = (low >> 24) & 0xFF
        p += 1
        low = (low << 8) & MASK32
    return p


# ---------------------------------------------------------------------------
# decoder
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def decode_stream(buf, start, end, out):
    """Decode ``out.size`` symbols from ``buf[start:end]`` into ``out``; return a status."""
    n = out.size
    status, offset, use_zz, alphabet, pos = read_stream_header(buf, start, end, out)
    if status != OK:
        return OK if status == HEADER_DONE else status
    freq, pos = read_frequency_table(buf, pos, end, alphabet, PROB_BITS)
    if pos < 0:
        return TRUNCATED if pos == -1 else CORRUPT

    cum = np.zeros(alphabet + 1, np.int64)
    for t in range(alphabet):
        cum[t + 1] = cum[t] + freq[t]
    # Symbol search: bucket[v >> BUCKET_SHIFT] is the token holding the bucket's first
    # value; a short forward scan on cum finishes (the table stays in L1 cache).
    bucket = np.empty(PROB_TOTAL >> BUCKET_SHIFT, np.int16)
    t = 0
    for b in range(bucket.size):
        while cum[t + 1] <= b << BUCKET_SHIFT:
            t += 1
        bucket[b] = t
    n_direct = min(alphabet, DIRECT_TOKENS)
    vals = np.empty(n_direct, np.int64)
    for t in range(n_direct):
        vals[t] = from_unsigned(t, offset, use_zz)

    if end - pos < 4:
        return TRUNCATED
    code = np.int64(0)
    for _ in range(4):
        code = (code << 8) | buf[pos]
        pos += 1
    rng = np.int64(MASK32)
    for i in range(n):
        r = rng >> PROB_BITS
        v = np.int64(np.uint32(code) // np.uint32(r))  # both < 2**32: a 32-bit division
        if v >= PROB_TOTAL:
            return CORRUPT
        t = np.int64(bucket[np.uint64(v >> BUCKET_SHIFT)])
        while cum[np.uint64(t + 1)] <= v:
            t += 1
        tt = np.uint64(t)
        code -= cum[tt] * r
        rng = freq[tt] * r
        if pos + 3 <= end:  # read the sh/8 bytes the encoder wrote, without a loop
            sh = _renorm_shift(rng)
            p = np.uint64(pos)
            nxt = (
                (np.int64(buf[p]) << 16)
                | (np.int64(buf[p + np.uint64(1)]) << 8)
                | np.int64(buf[p + np.uint64(2)])
            )
            code = ((code << sh) | (nxt >> (24 - sh))) & MASK32
            rng <<= sh
            pos += sh >> 3
        else:
            while rng < RC_TOP:
                if pos >= end:
                    return TRUNCATED
                code = ((code << 8) | buf[pos]) & MASK32
                pos += 1
                rng <<= 8
        if t < DIRECT_TOKENS:
            out[i] = vals[tt]
            continue
        nb = extra_bits_of_token(t)
        extra = np.int64(0)
        while nb > 0:
            k = min(nb, DIRECT_CHUNK)
            nb -= k
            r = rng >> k
            bits = code // r
            if bits >= (np.int64(1) << k):
                return CORRUPT
            code -= bits * r
            rng = r
            while rng < RC_TOP:
                if pos >= end:
                    return TRUNCATED
                code = ((code << 8) | buf[pos]) & MASK32
                pos += 1
                rng <<= 8
            extra = (extra << k) | bits
        out[i] = from_unsigned(value_of_token(t, extra), offset, use_zz)
    if pos != end:
        return CORRUPT
    return OK
