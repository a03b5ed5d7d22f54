"""Adaptive arithmetic coding kernels (coder id 4; normative layout: docs/format.md §5).

No table is sent: encoder and decoder start from the same model and update it
after every token. Per context the model holds integer frequencies ``f[t]``
over the token alphabet ``[0, A)``:

* start: ``f[t] = 1`` for every token, so the probability of ``t`` after
  ``c_t`` of ``n`` occurrences is ``(2 c_t + 1) / (2 n + A)`` =
  ``(c_t + 1/2) / (n + A/2)``, the Krichevsky–Trofimov estimator;
* update: ``f[t] += 2`` after coding ``t``;
* rescale: when the context's total exceeds ``2**R`` (``R`` in the stream
  header, 13..24), every ``f[t]`` becomes ``ceil(f[t] / 2)``; old counts then
  weigh half as much as new ones, which lets the model follow a drifting
  source.

Contexts (header byte ``M``): 0 = one order-0 model; 1 = the *magnitude
class* of the previous token, ``min(C − 1, bit_length(|t_prev − c0|))`` with
``c0`` (the most frequent token, in the header) standing in before the first
symbol; 2 = the *position* ``i mod d`` of the symbol in the stream.

The arithmetic coder is a range coder with a 56-bit window (``low``, ``range``
< 2**56, bytes leave from the top, ``range`` kept >= 2**48, carries propagate
into bytes already written) so that a total that is not a power of two is
coded with one exact integer division, ``r = range // total``, and a loss of
at most ``total / 2**48 <= 2**-24`` relative per symbol. Extra bits of large
tokens are coded in groups of up to 16 bits with total ``2**k``. The encoder
flushes the 7 bytes of ``low``; the decoder consumes exactly the stream.
"""

import numpy as np
from numba import njit

from .bitio import propagate_carry, read_varint, write_varint
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

MODE_ORDER0 = 0
MODE_MAGNITUDE = 1
MODE_POSITION = 2
MODE_AUTO = -1  # encoder only: try order-0 and magnitude contexts, keep the smaller

MIN_RESCALE_BITS = 13
MAX_RESCALE_BITS = 24
MAX_CLASSES = 16
MAX_PERIOD = 16
INCREMENT = 2

WINDOW_BITS = 56
RC_TOP = np.int64(1) << WINDOW_BITS
RC_BOTTOM = np.int64(1) << (WINDOW_BITS - 8)
RC_MASK = RC_TOP - 1
DIRECT_CHUNK = 16


# ---------------------------------------------------------------------------
# model: per-context frequencies with a Fenwick tree for cumulative sums
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _pow2_at_least(a):
    p = np.int64(1)
    while p < a:
        p <<= 1
    return p


@njit(cache=True, nogil=True)
def _rebuild(tree, freq, c, alphabet, size):
    """Fenwick tree of context ``c`` from its frequencies (linear time); returns the total."""
    total = np.int64(0)
    for i in range(1, size + 1):
        tree[c, i] = freq[c, i - 1] if i <= alphabet else 0
    for i in range(1, size + 1):
        j = i + (i & -i)
        if j <= size:
            tree[c, j] += tree[c, i]
    for t in range(alphabet):
        total += freq[c, t]
    return total


@njit(cache=True, nogil=True)
def _new_model(n_ctx, alphabet):
    size = _pow2_at_least(alphabet)
    freq = np.ones((n_ctx, alphabet), np.int64)
    tree = np.zeros((n_ctx, size + 1), np.int64)
    totals = np.empty(n_ctx, np.int64)
    for c in range(n_ctx):
        totals[c] = _rebuild(tree, freq, c, alphabet, size)
    return freq, tree, totals, size


@njit(cache=True, nogil=True)
def _cum(tree, c, t):
    s = np.int64(0)
    i = t
    while i > 0:
        s += tree[c, i]
        i &= i - 1
    return s


@njit(cache=True, nogil=True)
def _update(freq, tree, totals, c, t, alphabet, size, limit):
    freq[c, t] += INCREMENT
    i = t + 1
    while i <= size:
        tree[c, i] += INCREMENT
        i += i & -i
    totals[c] += INCREMENT
    if totals[c] > limit:
        for k in range(alphabet):
            freq[c, k] = (freq[c, k] + 1) >> 1
        totals[c] = _rebuild(tree, freq, c, alphabet, size)


@njit(cache=True, nogil=True)
def _context(mode, prev, center, n_classes, i, period):
    if mode == MODE_MAGNITUDE:
        return min(n_classes - 1, bit_length(abs(prev - center)))
    if mode == MODE_POSITION:
        return i % period
    return np.int64(0)


# ---------------------------------------------------------------------------
# range coder with a 56-bit window
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _encode(buf, start, pos, low, rng, cum, freq, r):
    """Narrow [low, low + rng) to [low + cum·r, low + (cum + freq)·r); renormalise."""
    low += cum * r
    rng = freq * r
    if low >= RC_TOP:
        low &= RC_MASK
        propagate_carry(buf, start, pos)
    while rng < RC_BOTTOM:
        buf[pos] = (low >> (WINDOW_BITS - 8)) & 0xFF
        pos += 1
        low = (low << 8) & RC_MASK
        rng <<= 8
    return pos, low, rng


# ---------------------------------------------------------------------------
# encoder
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def bound_bytes(n, extra_bits):
    """Most bytes a stream of ``n`` symbols with ``extra_bits`` extra bits in all can take."""
    if n == 0:
        return np.int64(0)
    # header <= 32 B; a token costs <= 24 bits + loss, an extra group of k bits <= k + 1.
    return 48 + (n * 27 + extra_bits + extra_bits // DIRECT_CHUNK + 7) // 8


@njit(cache=True, nogil=True)
def _encode_body(sym, buf, start, offset, use_zz, alphabet, rescale_bits, mode, center, n_ctx):
    """Header after the kind byte, then the range-coded tokens; returns the end position."""
    pos = write_mapping(buf, start, offset, use_zz, alphabet)
    buf[pos] = rescale_bits
    buf[pos + 1] = mode
    pos += 2
    if mode == MODE_MAGNITUDE:
        pos = write_varint(buf, pos, center)
        buf[pos] = n_ctx
        pos += 1
    elif mode == MODE_POSITION:
        buf[pos] = n_ctx
        pos += 1
    freq, tree, totals, size = _new_model(n_ctx, alphabet)
    limit = np.int64(1) << rescale_bits
    rc_start = pos
    low = np.int64(0)
    rng = RC_MASK
    prev = center
    for i in range(sym.size):
        u = to_unsigned(sym[i], offset, use_zz)
        t, nb = token_of(u)
        c = _context(mode, prev, center, n_ctx, i, n_ctx)
        r = rng // totals[c]
        pos, low, rng = _encode(buf, rc_start, pos, low, rng, _cum(tree, c, t), freq[c, t], r)
        _update(freq, tree, totals, c, t, alphabet, size, limit)
        while nb > 0:
            k = min(nb, DIRECT_CHUNK)
            nb -= k
            bits = (u >> nb) & ((np.int64(1) << k) - 1)
            pos, low, rng = _encode(buf, rc_start, pos, low, rng, bits, 1, rng >> k)
        prev = t
    for _ in range(WINDOW_BITS // 8):
        buf[pos] = (low >> (WINDOW_BITS - 8)) & 0xFF
        pos += 1
        low = (low << 8) & RC_MASK
    return pos


@njit(cache=True, nogil=True)
def encode_stream_into(sym, buf, start, capacity, rescale_bits, mode, n_classes, period):
    """Encode ``sym`` into ``buf[start:start + capacity]``; return the end position.

    ``mode`` is one of the ``MODE_*`` constants (``MODE_AUTO`` codes with
    order-0 and magnitude contexts and keeps the shorter); ``n_classes`` and
    ``period`` are the context counts of modes 1 and 2. Returns -1 instead,
    having written nothing, when :func:`bound_bytes` of the stream exceeds
    ``capacity``.
    """
    n = sym.size
    if n == 0:
        return start
    counts = np.zeros(MAX_TOKENS, np.int64)
    kind, offset, use_zz, alphabet, extra_total = analyze_stream(sym, counts)
    bound = bound_bytes(n, extra_total)
    if bound > capacity:
        return -1
    if kind == STREAM_CONSTANT:
        return write_constant_stream(buf, start, offset)
    buf[start] = KIND_CODED
    rescale_bits = max(rescale_bits, bit_length(alphabet + INCREMENT))
    center = np.int64(0)
    for t in range(alphabet):
        if counts[t] > counts[center]:
            center = t
    if mode == MODE_AUTO:
        end0 = _encode_body(
            sym, buf, start + 1, offset, use_zz, alphabet, rescale_bits, MODE_ORDER0, center, 1
        )
        tmp = np.empty(bound, np.uint8)
        end1 = _encode_body(
            sym, tmp, 0, offset, use_zz, alphabet, rescale_bits, MODE_MAGNITUDE, center, n_classes
        )
        if end1 < end0 - start - 1:
            buf[start + 1 : start + 1 + end1] = tmp[:end1]
            return start + 1 + end1
        return end0
    n_ctx = 1
    if mode == MODE_MAGNITUDE:
        n_ctx = n_classes
    elif mode == MODE_POSITION:
        n_ctx = period
    return _encode_body(
        sym, buf, start + 1, offset, use_zz, alphabet, rescale_bits, mode, center, n_ctx
    )


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
    if end - pos < 2:
        return TRUNCATED
    rescale_bits = np.int64(buf[pos])
    mode = np.int64(buf[pos + 1])
    pos += 2
    if rescale_bits > MAX_RESCALE_BITS or rescale_bits < bit_length(alphabet + INCREMENT):
        return CORRUPT
    if rescale_bits < MIN_RESCALE_BITS:
        return CORRUPT
    center = np.int64(0)
    n_ctx = np.int64(1)
    if mode == MODE_MAGNITUDE:
        center, pos = read_varint(buf, pos, end)
        if pos < 0:
            return TRUNCATED if pos == -1 else CORRUPT
        if center >= alphabet:
            return CORRUPT
        if pos >= end:
            return TRUNCATED
        n_ctx = np.int64(buf[pos])
        pos += 1
        if n_ctx < 1 or n_ctx > MAX_CLASSES:
            return CORRUPT
    elif mode == MODE_POSITION:
        if pos >= end:
            return TRUNCATED
        n_ctx = np.int64(buf[pos])
        pos += 1
        if n_ctx < 1 or n_ctx > MAX_PERIOD:
            return CORRUPT
    elif mode != MODE_ORDER0:
        return CORRUPT

    freq, tree, totals, size = _new_model(n_ctx, alphabet)
    limit = np.int64(1) << rescale_bits
    nbytes = WINDOW_BITS // 8
    if end - pos < nbytes:
        return TRUNCATED
    code = np.int64(0)
    for _ in range(nbytes):
        code = (code << 8) | np.int64(buf[pos])
        pos += 1
    rng = RC_MASK
    prev = center
    for i in range(n):
        c = _context(mode, prev, center, n_ctx, i, n_ctx)
        total = totals[c]
        r = rng // total
        v = code // r
        if v >= total:
            return CORRUPT
        # Fenwick descent: the token t with cum(t) <= v < cum(t) + f[t].
        t = np.int64(0)
        step = size
        rem = v
        while step > 0:
            nxt = t + step
            if nxt <= size and tree[c, nxt] <= rem:
                t = nxt
                rem -= tree[c, nxt]
            step >>= 1
        code -= (v - rem) * r
        rng = freq[c, t] * r
        while rng < RC_BOTTOM:
            if pos >= end:
                return TRUNCATED
            code = ((code << 8) | np.int64(buf[pos])) & RC_MASK
            pos += 1
            rng <<= 8
        _update(freq, tree, totals, c, t, alphabet, size, limit)
        prev = t
        if t < DIRECT_TOKENS:
            out[i] = from_unsigned(t, offset, use_zz)
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
            while rng < RC_BOTTOM:
                if pos >= end:
                    return TRUNCATED
                code = ((code << 8) | np.int64(buf[pos])) & RC_MASK
                pos += 1
                rng <<= 8
            extra = (extra << k) | bits
        out[i] = from_unsigned(value_of_token(t, extra), offset, use_zz)
    if pos != end:
        return CORRUPT
    return OK
