"""Trellis-coded quantization kernels: entropy-constrained Viterbi and index streams.

The trellis (normative: docs/format.md, TCQ section) has ``S = 2**nu`` states
and two branches per state. Reproduction points are ``step·j`` (``j`` an
integer); subset ``D_d = {j ≡ d mod 4}``. State ``s`` draws from the union
``u(s) = parity(s & h0)`` (A0 = D0 ∪ D2, A1 = D1 ∪ D3); branch bit ``b`` uses
subset ``d = 2·(b XOR parity(s & h1)) + u(s)`` and leads to the state
``((s << 1) | b) mod S``. Every chunk starts in state 0.

Only the index inside the union is coded, ``i = (j − u) / 2``; since
``i & 1`` selects the subset, ``b = (i & 1) XOR parity(s & h1)`` and the
decoder follows the trellis from the ``i`` sequence alone. Each chunk has two
symbol streams: the ``i`` of the elements met in union-0 states and those met
in union-1 states, each in element order.

Chunks are processed by one thread each (``prange`` over chunks of a fixed
size), so every output is independent of the thread count. No ``fastmath``.
"""

import numpy as np
from numba import njit, prange

# |x| / step above this cannot be rounded exactly in float64 (checked by the caller).
MAX_ABS_INDEX = 2.0**52
# Decoded union indices beyond this would overflow j = 2 i + u.
MAX_UNION_INDEX = 1 << 60
# Cost renormalisation period (samples) of the Viterbi search.
RENORM_PERIOD = 1024


@njit(cache=True, parallel=True)
def finite_max_abs(x, bad):
    """``max |x|``; ``bad[0]`` = index of the first NaN/Inf or −1 (parallel over fixed blocks)."""
    n_blocks = (x.size + 65535) // 65536
    mx = np.zeros(n_blocks, np.float64)
    first = np.full(n_blocks, -1, np.int64)
    for c in prange(n_blocks):
        a = c * 65536
        m = 0.0
        for k in range(a, min(a + 65536, x.size)):
            v = abs(x[k])
            if not v <= 1.7976931348623157e308:
                first[c] = k
                break
            if v > m:
                m = v
        mx[c] = m
    bad[0] = -1
    out = 0.0
    for c in range(n_blocks):
        if first[c] >= 0:
            bad[0] = first[c]
            break
        out = max(out, mx[c])
    return out


@njit(cache=True, nogil=True)
def parity(v):
    """Parity (popcount mod 2) of a non-negative int64."""
    p = 0
    while v:
        p ^= v & 1
        v >>= 1
    return p


@njit(cache=True, nogil=True)
def rate_cost(i, u, rate_lo, rate_len, rate_start, rate_table, rate_esc, rate_slope):
    """Rate term of union index ``i`` in union ``u``: a table inside
    ``[rate_lo[u], rate_lo[u] + rate_len[u])``, outside it ``esc + slope·distance``."""
    k = i - rate_lo[u]
    if k < 0:
        return rate_esc[u] + rate_slope[u] * (-k)
    n = rate_len[u]
    if k >= n:
        return rate_esc[u] + rate_slope[u] * (k - n + 1)
    return rate_table[rate_start[u] + k]


@njit(cache=True, nogil=True)
def best_in_subset(
    xk, wk, t, step, d, use_rate, rate_lo, rate_len, rate_start, rate_table, rate_esc, rate_slope
):
    """Best point ``j`` of subset ``D_d`` for value ``xk`` (``t = xk / step``): the nearest
    one, and with a rate term also its neighbours ``±4`` — the points of ``D_d`` in
    ``(t − 6, t + 6]``. Returns ``(cost, j)`` with cost ``wk·(xk − step·j)² + rate(i | u)``;
    ties go to the smaller ``j``."""
    if not use_rate:
        j0 = 4 * np.int64(np.floor((t - d) * 0.25 + 0.5)) + d
        e = xk - step * j0
        return wk * e * e, j0
    u = d & 1
    first = np.int64(np.floor(t)) - 5
    j = first + ((d - first) & 3)
    best = np.inf
    best_j = j
    for _ in range(3):
        e = xk - step * j
        c = wk * e * e + rate_cost(
            (j - u) >> 1, u, rate_lo, rate_len, rate_start, rate_table, rate_esc, rate_slope
        )
        if c < best:
            best = c
            best_j = j
        j += 4
    return best, best_j


@njit(cache=True, nogil=True)
def branch_metrics(
    xk,
    wk,
    t,
    step,
    use_rate,
    rate_lo,
    rate_len,
    rate_start,
    rate_table,
    rate_esc,
    rate_slope,
    bc,
):
    """``bc[d]`` = the cost of :func:`best_in_subset` for d = 0..3, in one sweep over the
    twelve integers of ``(t − 6, t + 6]`` with a rate term."""
    if not use_rate:
        for d in range(4):
            j0 = 4 * np.int64(np.floor((t - d) * 0.25 + 0.5)) + d
            e = xk - step * j0
            bc[d] = wk * e * e
        return
    for d in range(4):
        bc[d] = np.inf
    j = np.int64(np.floor(t)) - 5
    for _ in range(12):
        d = j & 3
        u = j & 1
        e = xk - step * j
        c = wk * e * e + rate_cost(
            (j - u) >> 1, u, rate_lo, rate_len, rate_start, rate_table, rate_esc, rate_slope
        )
        if c < bc[d]:
            bc[d] = c
        j += 1


@njit(cache=True, nogil=True)
def viterbi_chunk(
    x,
    w,
    step,
    nu,
    h0,
    h1,
    rate_lo,
    rate_len,
    rate_start,
    rate_table,
    rate_esc,
    rate_slope,
    points,
):
    """Minimise ``Σ w_k (x_k − step·j_k)² + rate(i_k | u_k)`` over trellis paths from state 0.

    ``w`` is empty for unit weights. Writes the points ``j`` of the best path
    into ``points`` and returns its cost. Survivors take one bit per state and
    sample (``len(x)·max(S, 64)/8`` bytes).

    The masks must clear bit ``nu−1`` of ``h0`` and set it in ``h1`` (all
    the format's masks do): the two predecessors ``p`` and ``p + S/2`` of the
    states ``2p`` and ``2p+1`` then share their union and swap their subsets,
    so each butterfly needs only ``D = 2·f(p) + u(p)`` and ``D' = D XOR 2``.
    Ties between the two predecessors go to ``p``; ties at the end to the
    lowest state.
    """
    S = 1 << nu
    half = S >> 1
    nw = max(1, S >> 6)
    top = min(64, S)
    n = x.size
    uu = np.empty(half, np.bool_)
    ff = np.empty(half, np.bool_)
    for p in range(half):
        uu[p] = parity(p & h0) == 1
        ff[p] = parity(p & h1) == 1
    use_rate = (rate_len[0] + rate_len[1]) > 0 or rate_esc[0] != 0.0 or rate_esc[1] != 0.0
    unit = w.size == 0
    cost = np.empty(S, np.float64)
    new = np.empty(S, np.float64)
    cost[:] = np.inf
    cost[0] = 0.0
    al = np.empty(half, np.float64)
    be = np.empty(half, np.float64)
    dec = np.empty(S, np.uint64)
    bc = np.empty(4, np.float64)
    surv = np.empty(n * nw, np.uint64)
    for k in range(n):
        xk = x[k]
        wk = 1.0 if unit else w[k]
        t = xk / step
        branch_metrics(
            xk,
            wk,
            t,
            step,
            use_rate,
            rate_lo,
            rate_len,
            rate_start,
            rate_table,
            rate_esc,
            rate_slope,
            bc,
        )
        b0 = bc[0]
        b1 = bc[1]
        b2 = bc[2]
        b3 = bc[3]
        for p in range(half):
            lo = b1 if uu[p] else b0
            hi = b3 if uu[p] else b2
            al[p] = hi if ff[p] else lo
            be[p] = lo if ff[p] else hi
        for p in range(half):
            a = cost[p]
            b = cost[p + half]
            x0 = a + al[p]
            y0 = b + be[p]
            x1 = a + be[p]
            y1 = b + al[p]
            s0 = y0 < x0
            s1 = y1 < x1
            new[2 * p] = y0 if s0 else x0
            new[2 * p + 1] = y1 if s1 else x1
            dec[2 * p] = s0
            dec[2 * p + 1] = s1
        row = k * nw
        for q in range(nw):
            word = np.uint64(0)
            for r in range(top):
                word |= dec[q * 64 + r] << np.uint64(r)
            surv[row + q] = word
        tmp = cost
        cost = new
        new = tmp
        if (k + 1) % RENORM_PERIOD == 0:
            m = cost[0]
            for s in range(1, S):
                if cost[s] < m:
                    m = cost[s]
            for s in range(S):
                cost[s] -= m
    if n == 0:
        return 0.0
    s = 0
    m = cost[0]
    for q in range(1, S):
        if cost[q] < m:
            m = cost[q]
            s = q
    for k in range(n - 1, -1, -1):
        ns = s
        p = ns >> 1
        bit = np.int64((surv[k * nw + (ns >> 6)] >> np.uint64(ns & 63)) & np.uint64(1))
        s = p + bit * half
        d = 2 * ((1 if ff[p] else 0) ^ (ns & 1) ^ bit) + (1 if uu[p] else 0)
        wk = 1.0 if unit else w[k]
        points[k] = best_in_subset(
            x[k],
            wk,
            x[k] / step,
            step,
            d,
            use_rate,
            rate_lo,
            rate_len,
            rate_start,
            rate_table,
            rate_esc,
            rate_slope,
        )[1]
    return m


@njit(cache=True, parallel=True)
def quantize_chunks(
    x,
    w,
    step,
    nu,
    h0,
    h1,
    rate_lo,
    rate_len,
    rate_start,
    rate_table,
    rate_esc,
    rate_slope,
    chunk_elements,
    points,
):
    """:func:`viterbi_chunk` on every chunk of ``chunk_elements`` values (parallel over chunks)."""
    n_chunks = (x.size + chunk_elements - 1) // chunk_elements
    for c in prange(n_chunks):
        a = c * chunk_elements
        m = min(chunk_elements, x.size - a)
        wc = w if w.size == 0 else w[a : a + m]
        viterbi_chunk(
            x[a : a + m],
            wc,
            step,
            nu,
            h0,
            h1,
            rate_lo,
            rate_len,
            rate_start,
            rate_table,
            rate_esc,
            rate_slope,
            points[a : a + m],
        )


@njit(cache=True, nogil=True)
def union_flip_tables(nu, h0, h1):
    """``(union, flip)``: ``parity(s & h0)`` and ``parity(s & h1)`` for every state."""
    S = 1 << nu
    union = np.empty(S, np.int64)
    flip = np.empty(S, np.int64)
    for s in range(S):
        union[s] = parity(s & h0)
        flip[s] = parity(s & h1)
    return union, flip


@njit(cache=True, nogil=True)
def _union_walk_chunk(points, nu, union, flip, lo, hi, counts):
    """Walk one chunk's path: index bounds per union into ``lo``/``hi`` and the
    number of elements per union into ``counts``. Returns False if a point
    does not lie in its state's union (not a trellis path)."""
    mask = (1 << nu) - 1
    big = np.iinfo(np.int64).max
    lo0 = lo1 = big
    hi0 = hi1 = -big - 1
    n1 = 0
    s = 0
    for k in range(points.size):
        u = union[s]
        v = points[k] - u
        if v & 1:
            return False
        i = v >> 1
        if u:
            n1 += 1
            lo1 = min(lo1, i)
            hi1 = max(hi1, i)
        else:
            lo0 = min(lo0, i)
            hi0 = max(hi0, i)
        s = ((s << 1) | ((i & 1) ^ flip[s])) & mask
    lo[0], lo[1], hi[0], hi[1] = lo0, lo1, hi0, hi1
    counts[0], counts[1] = points.size - n1, n1
    return True


@njit(cache=True, parallel=True)
def union_stats(points, nu, h0, h1, chunk_elements, lo, hi, counts, ok):
    """Per chunk c: index bounds ``lo[c, u]``, ``hi[c, u]`` and sizes ``counts[c, u]`` of the
    two streams; ``ok[c] = 0`` where the points are not a trellis path from state 0."""
    n_chunks = (points.size + chunk_elements - 1) // chunk_elements
    union, flip = union_flip_tables(nu, h0, h1)
    for c in prange(n_chunks):
        a = c * chunk_elements
        m = min(chunk_elements, points.size - a)
        ok[c] = _union_walk_chunk(points[a : a + m], nu, union, flip, lo[c], hi[c], counts[c])


@njit(cache=True, nogil=True)
def union_histograms(points, nu, h0, h1, chunk_elements, lo, size, hist):
    """Add the histogram of the union index ``i`` per union to ``hist[u, i - lo[u]]``
    (``size[u]`` bins; indices outside are ignored). Sequential: integer counts."""
    union, flip = union_flip_tables(nu, h0, h1)
    mask = (1 << nu) - 1
    s = 0
    for k in range(points.size):
        if k % chunk_elements == 0:
            s = 0
        u = union[s]
        i = (points[k] - u) >> 1
        q = i - lo[u]
        if q >= 0 and q < size[u]:
            hist[u, q] += 1
        s = ((s << 1) | ((i & 1) ^ flip[s])) & mask


@njit(cache=True, parallel=True)
def points_to_stream_buffer(points, nu, h0, h1, chunk_elements, offsets, symbols, ok):
    """Write chunk c's union-0 / union-1 streams to ``symbols`` at ``offsets[2c]`` /
    ``offsets[2c+1]`` (sizes from :func:`union_stats`); ``ok[c] = 0`` where they do not fit."""
    n_chunks = (points.size + chunk_elements - 1) // chunk_elements
    mask = (1 << nu) - 1
    union, flip = union_flip_tables(nu, h0, h1)
    for c in prange(n_chunks):
        a = c * chunk_elements
        m = min(chunk_elements, points.size - a)
        p0 = offsets[2 * c]
        e0 = offsets[2 * c + 1]
        p1 = e0
        e1 = offsets[2 * c + 2]
        s = 0
        good = 1
        for k in range(a, a + m):
            u = union[s]
            v = points[k] - u
            if v & 1:
                good = 0
                break
            i = v >> 1
            if u == 0:
                if p0 >= e0:
                    good = 0
                    break
                symbols[p0] = i
                p0 += 1
            else:
                if p1 >= e1:
                    good = 0
                    break
                symbols[p1] = i
                p1 += 1
            s = ((s << 1) | ((i & 1) ^ flip[s])) & mask
        if p0 != e0 or p1 != e1:
            good = 0
        ok[c] = good


@njit(cache=True, nogil=True)
def streams_to_points_chunk(nu, h0, h1, stream0, stream1, union, flip, points):
    """Decode one chunk: follow the trellis from state 0, taking each element's union
    index from its state's stream. Returns False if a stream runs out, holds an
    index beyond ±2**60, or is not used up exactly.

    Branch-free walk: the next index of each stream is read ahead and the state's
    union selects one, so the loop-carried path is two table loads and a few
    integer operations (a branch on the union would mispredict half the time).
    An exhausted stream is read at its last index (or a zero) and flagged by the
    final count check instead, so nothing is read out of bounds.
    """
    mask = (1 << nu) - 1
    n0 = stream0.size
    n1 = stream1.size
    if n0 + n1 != points.size:
        return False
    pad = np.zeros(1, np.int64)
    s0 = stream0 if n0 else pad
    s1 = stream1 if n1 else pad
    last0 = max(n0 - 1, 0)
    last1 = max(n1 - 1, 0)
    p0 = 0
    p1 = 0
    a = s0[0]
    b = s1[0]
    s = 0
    for k in range(points.size):
        u = union[s]
        i = b if u else a
        if i > MAX_UNION_INDEX or i < -MAX_UNION_INDEX:
            return False
        points[k] = 2 * i + u
        p0 += 1 - u
        p1 += u
        a = s0[min(p0, last0)]
        b = s1[min(p1, last1)]
        s = ((s << 1) | ((i & 1) ^ flip[s])) & mask
    return p0 == n0 and p1 == n1


@njit(cache=True, parallel=True)
def stream_buffer_to_points(symbols, offsets, nu, h0, h1, chunk_elements, points, ok):
    """Inverse of :func:`points_to_stream_buffer`; ``ok[c] = 0`` where chunk c is inconsistent
    (offsets out of order or beyond the buffer, a stream too short or too long)."""
    n_chunks = (points.size + chunk_elements - 1) // chunk_elements
    union, flip = union_flip_tables(nu, h0, h1)
    for c in prange(n_chunks):
        a = c * chunk_elements
        m = min(chunk_elements, points.size - a)
        ok[c] = 0
        if offsets.size < 2 * n_chunks + 1:
            continue
        o0 = offsets[2 * c]
        o1 = offsets[2 * c + 1]
        o2 = offsets[2 * c + 2]
        if o0 < 0 or o1 < o0 or o2 < o1 or o2 > symbols.size:
            continue
        if streams_to_points_chunk(
            nu, h0, h1, symbols[o0:o1], symbols[o1:o2], union, flip, points[a : a + m]
        ):
            ok[c] = 1
