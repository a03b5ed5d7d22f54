"""Context-modelled coding of pruning masks (normative layout: docs/format.md §9).

A pruning mask is coded as a sequence of binary matrices, one per tensor, each
viewed as ``rows × cols`` (the tensor's first axis by the product of the
others) and scanned row by row. Magnitude pruning leaves structure that an
i.i.d. code of the keep bits, ``n·H(p)``, ignores: some output rows and some
input columns keep far more weights than others, and neighbouring inputs (the
pixels of an image border, the taps of one kernel) are pruned together. The
model here conditions each bit on

* the *row ratio*: ``floor(log2(r̂ / p))`` clamped to 6 classes, with
  ``r̂ = (k_row + 8p) / (j + 8)`` the kept fraction of the bits already coded
  in this row (``j`` of them, ``k_row`` kept), shrunk towards the tensor's
  density ``p = K / N`` (``K`` kept of ``N``, sent in the header);
* the *column ratio*: the same for the bits already coded in this column
  (``i`` rows above it);
* the bit to its left in the same row (0 at ``j = 0``);

72 contexts, each an adaptive binary model with Krichevsky–Trofimov counts
(start ``1, 1``, ``+2`` per bit, both halved when their sum exceeds ``2**16``).
The ratio classes are computed with integers only (``p`` as ``p16 =
max(1, floor(K·2**16 / N))``), so encoder and decoder agree on every machine.
A tensor may instead use one order-0 context (model 0: small or dense
tensors, where learning 72 contexts costs more than it saves); the encoder
picks the model with the shorter ideal code length. A bit is not coded when
the remaining kept count makes it certain (no kept bits left, or only kept
bits left).

The bits are range-coded with the adaptive coder's 56-bit window
(:func:`codec._kernels.adaptive._encode`): total ``f0 + f1`` is not a power
of two, one exact division per bit.
"""

import numpy as np
from numba import njit

from .adaptive import RC_BOTTOM, RC_MASK, WINDOW_BITS
from .adaptive import _encode as range_encode
from .bitio import read_varint, write_varint
from .status import CORRUPT, OK, TRUNCATED
from .tokens import bit_length

FORMAT_VERSION = 1
MODEL_ORDER0 = 0
MODEL_ROW_COLUMN = 1
PRIOR = 8  # pseudo-observations at density p behind each row and column ratio
P_BITS = 16  # fixed-point precision of the density p
CLASSES = 6  # ratio classes: floor(log2(ratio)) in [-3, 2]
N_CONTEXTS = 2 * CLASSES * CLASSES
INCREMENT = 2
LIMIT = np.int64(1) << 16
FLUSH_BYTES = WINDOW_BITS // 8


@njit(cache=True, nogil=True)
def density_p16(kept, n):
    """The density ``kept / n`` in 16-bit fixed point, at least 1 (``n > 0``)."""
    return max(np.int64(1), (np.int64(kept) << P_BITS) // np.int64(n))


@njit(cache=True, nogil=True)
def ratio_class(count, seen, p16):
    """``floor(log2(((count + PRIOR·p) / (seen + PRIOR)) / p)) + 3`` clamped to ``[0, 5]``,
    exactly, in integers (``p = p16 / 2**16``)."""
    num = (np.int64(count) << P_BITS) + PRIOR * p16
    den = (np.int64(seen) + PRIOR) * p16
    e = bit_length(num) - bit_length(den)  # floor(log2(num/den)) or one more
    if e >= 0:
        if num < (den << e):
            e -= 1
    elif (num << -e) < den:
        e -= 1
    return min(max(e + CLASSES // 2, 0), CLASSES - 1)


@njit(cache=True, nogil=True)
def _context(model, left, row_count, j, col_count, i, p16):
    if model == MODEL_ORDER0:
        return np.int64(0)
    rc = ratio_class(row_count, j, p16)
    cc = ratio_class(col_count, i, p16)
    return (rc * CLASSES + cc) * 2 + left


@njit(cache=True, nogil=True)
def _update(f0, f1, c, bit):
    if bit:
        f1[c] += INCREMENT
    else:
        f0[c] += INCREMENT
    if f0[c] + f1[c] > LIMIT:
        f0[c] = (f0[c] + 1) >> 1
        f1[c] = (f1[c] + 1) >> 1


@njit(cache=True, nogil=True)
def model_cost_bits(bits, offset, rows, cols, model):
    """Ideal code length (bits, float64) of one tensor's mask under ``model``: used only
    by the encoder to choose the model, never by the decoder."""
    n = rows * cols
    kept = np.int64(0)
    for k in range(n):
        kept += bits[offset + k]
    if kept == 0 or kept == n:
        return 0.0
    p16 = density_p16(kept, n)
    f0 = np.ones(N_CONTEXTS, np.int64)
    f1 = np.ones(N_CONTEXTS, np.int64)
    row_count = np.zeros(rows, np.int64)
    col_count = np.zeros(cols, np.int64)
    cost = 0.0
    left_n, left_k = n, kept
    for i in range(rows):
        left = np.int64(0)
        for j in range(cols):
            b = np.int64(bits[offset + i * cols + j])
            if 0 < left_k < left_n:
                c = _context(model, left, row_count[i], j, col_count[j], i, p16)
                f = f1[c] if b else f0[c]
                cost -= np.log2(f / (f0[c] + f1[c]))
                _update(f0, f1, c, b)
            left_n -= 1
            left_k -= b
            row_count[i] += b
            col_count[j] += b
            left = b
    return cost


@njit(cache=True, nogil=True)
def bound_bytes(n_members, n_bits):
    """Most bytes the masks of ``n_members`` tensors with ``n_bits`` bits in all can take:
    a header of at most 11 bytes per tensor, at most 17 bits per coded bit (a context's
    total stays <= 2**16 + 2, the coder loses < 2**-24 relative), the flush."""
    return 1 + 11 * n_members + (17 * n_bits + 7) // 8 + FLUSH_BYTES + 1


@njit(cache=True, nogil=True)
def encode_into(bits, rows, cols, models, buf, start):
    """Code the masks of every tensor (``bits`` their concatenated 0/1 bytes, tensor ``m``
    ``rows[m] × cols[m]`` with model ``models[m]``) into ``buf[start:]``; return the end.
    ``buf`` must hold :func:`bound_bytes`."""
    pos = start
    buf[pos] = FORMAT_VERSION
    pos += 1
    kept_of = np.zeros(rows.size, np.int64)
    offset = np.int64(0)
    for m in range(rows.size):
        n = rows[m] * cols[m]
        for k in range(n):
            kept_of[m] += bits[offset + k]
        pos = write_varint(buf, pos, kept_of[m])
        buf[pos] = models[m]
        pos += 1
        offset += n
    rc_start = pos
    low = np.int64(0)
    rng = RC_MASK
    f0 = np.empty(N_CONTEXTS, np.int64)
    f1 = np.empty(N_CONTEXTS, np.int64)
    offset = 0
    for m in range(rows.size):
        nr, nc, model = rows[m], cols[m], models[m]
        n = nr * nc
        kept = kept_of[m]
        p16 = density_p16(kept, max(n, np.int64(1)))
        f0[:] = 1
        f1[:] = 1
        row_count = np.zeros(nr, np.int64)
        col_count = np.zeros(nc, np.int64)
        left_n, left_k = n, kept
        for i in range(nr):
            left = np.int64(0)
            for j in range(nc):
                b = np.int64(bits[offset + i * nc + j])
                if 0 < left_k < left_n:  # otherwise the bit is certain
                    c = _context(model, left, row_count[i], j, col_count[j], i, p16)
                    r = rng // (f0[c] + f1[c])
                    if b:
                        pos, low, rng = range_encode(buf, rc_start, pos, low, rng, f0[c], f1[c], r)
                    else:
                        pos, low, rng = range_encode(buf, rc_start, pos, low, rng, 0, f0[c], r)
                    _update(f0, f1, c, b)
                left_n -= 1
                left_k -= b
                row_count[i] += b
                col_count[j] += b
                left = b
        offset += n
    for _ in range(FLUSH_BYTES):
        buf[pos] = (low >> (WINDOW_BITS - 8)) & 0xFF
        pos += 1
        low = (low << 8) & RC_MASK
    return pos


@njit(cache=True, nogil=True)
def decode_into(buf, start, end, rows, cols, out):
    """Decode the masks of tensors ``rows[m] × cols[m]`` from ``buf[start:end]`` into
    ``out`` (0/1 bytes, concatenated); return a status. The stream must end exactly."""
    pos = start
    if pos >= end:
        return TRUNCATED
    if buf[pos] != FORMAT_VERSION:
        return CORRUPT
    pos += 1
    n_members = rows.size
    kept_of = np.empty(n_members, np.int64)
    model_of = np.empty(n_members, np.int64)
    for m in range(n_members):
        kept, pos = read_varint(buf, pos, end)
        if pos < 0:
            return TRUNCATED if pos == -1 else CORRUPT
        if kept > rows[m] * cols[m]:
            return CORRUPT
        if pos >= end:
            return TRUNCATED
        model = np.int64(buf[pos])
        pos += 1
        if model != MODEL_ORDER0 and model != MODEL_ROW_COLUMN:
            return CORRUPT
        kept_of[m] = kept
        model_of[m] = model
    if end - pos < FLUSH_BYTES:
        return TRUNCATED
    code = np.int64(0)
    for _ in range(FLUSH_BYTES):
        code = (code << 8) | np.int64(buf[pos])
        pos += 1
    rng = RC_MASK
    f0 = np.empty(N_CONTEXTS, np.int64)
    f1 = np.empty(N_CONTEXTS, np.int64)
    offset = np.int64(0)
    for m in range(n_members):
        nr, nc, model, kept = rows[m], cols[m], model_of[m], kept_of[m]
        n = nr * nc
        p16 = density_p16(kept, max(n, np.int64(1)))
        f0[:] = 1
        f1[:] = 1
        row_count = np.zeros(nr, np.int64)
        col_count = np.zeros(nc, np.int64)
        left_n, left_k = n, kept
        for i in range(nr):
            left = np.int64(0)
            for j in range(nc):
                if left_k == 0:
                    b = np.int64(0)
                elif left_k == left_n:
                    b = np.int64(1)
                else:
                    c = _context(model, left, row_count[i], j, col_count[j], i, p16)
                    r = rng // (f0[c] + f1[c])
                    v = code // r
                    if v >= f0[c] + f1[c]:
                        return CORRUPT
                    if v < f0[c]:
                        b = np.int64(0)
                        rng = f0[c] * r
                    else:
                        b = np.int64(1)
                        code -= f0[c] * r
                        rng = f1[c] * r
                    while rng < RC_BOTTOM:
                        if pos >= end:
                            return TRUNCATED
                        code = ((code << 8) | np.int64(buf[pos])) & RC_MASK
                        pos += 1
                        rng <<= 8
                    _update(f0, f1, c, b)
                out[offset + i * nc + j] = b
                left_n -= 1
                left_k -= b
                row_count[i] += b
                col_count[j] += b
                left = b
        offset += n
    if pos != end:
        return CORRUPT
    return OK
