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

Status codes returned by decoders: 0 ok, 1 truncated, 2 corrupt.
"""

import numpy as np
from numba import njit, prange

from .bitio import (
    flush_bits,
    get_gamma,
    put_gamma,
    read_varint,
    unzigzag,
    write_varint,
    zigzag,
)
from .tokens import (
    MAX_TOKENS,
    choose_mapping,
    extra_bits_of_token,
    from_unsigned,
    to_unsigned,
    token_histogram,
    token_of,
    value_of_token,
)

PROB_BITS = 16
PROB_TOTAL = 1 << PROB_BITS
RC_TOP = 1 << 24
MASK32 = 0xFFFFFFFF
DIRECT_CHUNK = 16  # raw extra bits are coded 16 at a time

OK = 0
TRUNCATED = 1
CORRUPT = 2

KIND_CONSTANT = 0
KIND_RANGE = 1


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
def _carry(buf, start, pos):
    j = pos - 1
    while j >= start and buf[j] == 0xFF:
        buf[j] = 0
        j -= 1
    buf[j] += 1


@njit(cache=True, nogil=True)
def _encode_interval(buf, start, pos, low, rng, cum, freq, shift):
    """Narrow [low, low+rng) to the sub-interval [cum, cum+freq) of 2**shift."""
    r = rng >> shift
    low += cum * r
    rng = freq * r
    if low > MASK32:
        low &= MASK32
        _carry(buf, start, pos)
    while rng < RC_TOP:
        buf[pos] = (low >> 24) & 0xFF
        pos += 1
        low = (low << 8) & MASK32
        rng <<= 8
    return pos, low, rng


@njit(cache=True, nogil=True)
def encode_stream_bound(sym):
    """Upper bound on the bytes :func:`encode_stream` writes for ``sym``."""
    n = sym.size
    if n == 0:
        return 0
    offset, use_zz = choose_mapping(sym)
    counts, extra = token_histogram(sym, offset, use_zz)
    distinct = 0
    for c in counts:
        if c > 0:
            distinct += 1
    # header 32 B, table <= 8 B per used token, <= 17 bits per token and
    # extra bits plus 1 bit of truncation loss per 16-bit chunk, 4 flush bytes.
    return 40 + 8 * distinct + (n * 18 + extra * 2 + 7) // 8


@njit(cache=True, nogil=True)
def encode_stream(sym, buf, start):
    """Encode ``sym`` into ``buf[start:]``; return the end position."""
    n = sym.size
    if n == 0:
        return start
    pos = start
    lo = sym[0]
    constant = True
    for v in sym:
        if v != lo:
            constant = False
            break
    if constant:
        buf[pos] = KIND_CONSTANT
        return write_varint(buf, pos + 1, zigzag(lo))

    offset, use_zz = choose_mapping(sym)
    counts, _ = token_histogram(sym, offset, use_zz)
    alphabet = 0
    for t in range(counts.size):
        if counts[t] > 0:
            alphabet = t + 1
    freq = normalize_frequencies(counts[:alphabet], PROB_BITS)
    cum = np.zeros(alphabet + 1, np.int64)
    for t in range(alphabet):
        cum[t + 1] = cum[t] + freq[t]

    buf[pos] = KIND_RANGE
    pos = write_varint(buf, pos + 1, zigzag(offset))
    buf[pos] = 1 if use_zz else 0
    pos = write_varint(buf, pos + 1, alphabet)
    pos = write_frequency_table(buf, pos, freq, alphabet)

    rc_start = pos
    low = np.int64(0)
    rng = np.int64(MASK32)
    for v in sym:
        u = to_unsigned(v, offset, use_zz)
        t, nb = token_of(u)
        pos, low, rng = _encode_interval(buf, rc_start, pos, low, rng, cum[t], freq[t], PROB_BITS)
        while nb > 0:
            k = min(nb, DIRECT_CHUNK)
            nb -= k
            bits = (u >> nb) & ((np.int64(1) << k) - 1)
            pos, low, rng = _encode_interval(buf, rc_start, pos, low, rng, bits, 1, k)
    for _ in range(4):
        buf[pos] = (low >> 24) & 0xFF
        pos += 1
        low = (low << 8) & MASK32
    return pos


@njit(cache=True, parallel=True)
def encode_streams(symbols, sym_offsets, buf, buf_offsets, out_lengths):
    """Encode stream ``s`` = ``symbols[sym_offsets[s]:sym_offsets[s+1]]`` into
    ``buf[buf_offsets[s]:]`` for every ``s`` in parallel; lengths to ``out_lengths``."""
    for s in prange(sym_offsets.size - 1):
        seg = symbols[sym_offsets[s] : sym_offsets[s + 1]]
        end = encode_stream(seg, buf, buf_offsets[s])
        out_lengths[s] = end - buf_offsets[s]


@njit(cache=True, parallel=True)
def encode_stream_bounds(symbols, sym_offsets, bounds):
    for s in prange(sym_offsets.size - 1):
        bounds[s] = encode_stream_bound(symbols[sym_offsets[s] : sym_offsets[s + 1]])


# ---------------------------------------------------------------------------
# decoder
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def decode_stream(buf, start, end, out):
    """Decode ``out.size`` symbols from ``buf[start:end]`` into ``out``; return a status."""
    n = out.size
    if n == 0:
        return OK if end == start else CORRUPT
    if start >= end:
        return TRUNCATED
    kind = buf[start]
    pos = start + 1
    if kind == KIND_CONSTANT:
        zz, pos = read_varint(buf, pos, end)
        if pos == -1:
            return TRUNCATED
        if pos < 0 or pos != end:
            return CORRUPT
        v = unzigzag(zz)
        for i in range(n):
            out[i] = v
        return OK
    if kind != KIND_RANGE:
        return CORRUPT
    zz, pos = read_varint(buf, pos, end)
    if pos < 0:
        return TRUNCATED if pos == -1 else CORRUPT
    offset = unzigzag(zz)
    if pos >= end:
        return TRUNCATED
    flags = buf[pos]
    if flags > 1:
        return CORRUPT
    use_zz = flags == 1
    alphabet, pos = read_varint(buf, pos + 1, end)
    if pos < 0:
        return TRUNCATED if pos == -1 else CORRUPT
    if alphabet < 1 or alphabet > MAX_TOKENS:
        return CORRUPT
    freq, pos = read_frequency_table(buf, pos, end, alphabet, PROB_BITS)
    if pos < 0:
        return TRUNCATED if pos == -1 else CORRUPT

    cum = np.zeros(alphabet + 1, np.int64)
    lookup = np.empty(PROB_TOTAL, np.int16)
    for t in range(alphabet):
        cum[t + 1] = cum[t] + freq[t]
        for k in range(cum[t], cum[t + 1]):
            lookup[k] = t

    if end - pos < 4:
        return TRUNCATED
    code = np.int64(0)
    for _ in range(4):
        code = (code << 8) | buf[pos]
        pos += 1
    rng = np.int64(MASK32)
    for i in range(n):
        r = rng >> PROB_BITS
        v = code // r
        if v >= PROB_TOTAL:
            return CORRUPT
        t = lookup[v]
        code -= cum[t] * r
        rng = freq[t] * r
        while rng < RC_TOP:
            if pos >= end:
                return TRUNCATED
            code = ((code << 8) | buf[pos]) & MASK32
            pos += 1
            rng <<= 8
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


@njit(cache=True, parallel=True)
def decode_streams(buf, buf_offsets, buf_lengths, out, out_offsets, status):
    """Decode every stream in parallel; per-stream status codes go to ``status``."""
    for s in prange(buf_offsets.size):
        seg = out[out_offsets[s] : out_offsets[s + 1]]
        a = buf_offsets[s]
        status[s] = decode_stream(buf, a, a + buf_lengths[s], seg)
