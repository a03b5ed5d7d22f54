"""Lattice kernels: counter-based dither, nearest lattice point, index mapping.

Lattices are handled at unit scale (the codec multiplies by ``step``):

* ``Z``   (LATTICE_Z):  Z^n, points are integer vectors.
* ``D_n`` (LATTICE_D):  integer vectors with an even coordinate sum.
* ``E8``  (LATTICE_E8): D8 ∪ (D8 + ½·1). Points are carried as *doubled*
  coordinates ``P = 2p`` (all even or all odd), so everything stays integer.

Nearest points follow Conway & Sloane (1982), "Fast quantizing and decoding
algorithms for lattice quantizers and codes". Rounding is ``floor(t + 1/2)``
(ties up), identical in every implementation.

Dither (normative: docs/format.md §4): element ``i`` of the padded flat array
draws ``w_i = uniform(seed, i)`` from SplitMix64; block ``b`` (elements
``b*n .. b*n+n-1``) gets the unit-scale dither ``v = (w - 1/2) · B`` with ``B``
the lattice's generator matrix (rows are basis vectors). ``v`` is uniform over
a fundamental parallelepiped of the lattice — the property subtractive dither
needs — which the cube [-1/2, 1/2)^n is for Z^n only.
"""

import numpy as np
from numba import njit, prange

LATTICE_Z = 0
LATTICE_D = 1
LATTICE_E8 = 2

GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53

# Blocks per parallel work item: fixed, so results never depend on threads.
BLOCKS_PER_TASK = 8192


@njit(cache=True, nogil=True)
def splitmix64_mix(z):
    """The SplitMix64 output function (Steele, Lea & Flood 2014) on a uint64."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def dither_key(seed):
    """Per-stream key: the first SplitMix64 output for ``seed`` (a uint64)."""
    return splitmix64_mix(np.uint64(seed) + GOLDEN_GAMMA)


@njit(cache=True, nogil=True)
def uniform01(key, index):
    """``w = uniform(seed, index)`` in [0, 1): 53 high bits of mix(key + (index+1)·γ)."""
    # Explicit uint64 casts: numba would turn int64 + uint64 into float64.
    z = splitmix64_mix(np.uint64(key) + (np.uint64(index) + np.uint64(1)) * GOLDEN_GAMMA)
    return np.float64(z >> np.uint64(11)) * _TWO_M53


@njit(cache=True, nogil=True)
def _dither_block(key, first_index, basis, w, v):
    """Unit-scale dither of one block: ``v = (w - 1/2) · basis``."""
    n = v.size
    for j in range(n):
        w[j] = uniform01(key, first_index + j) - 0.5
    for j in range(n):
        v[j] = 0.0
    for i in range(n):
        wi = w[i]
        for j in range(n):
            v[j] += wi * basis[i, j]


@njit(cache=True, nogil=True)
def _dither_e8(key, first_index, w, v):
    """:func:`_dither_block` for E8's generator matrix, skipping its zeros.

    The non-zero terms are added in the same order as the generic sum, so the
    result is bit-identical (adding ±0.0 never changes a non-zero sum).
    """
    for j in range(8):
        w[j] = uniform01(key, first_index + j) - 0.5
    h = w[7] * 0.5
    v[0] = (w[0] * 2.0 - w[1]) + h
    for j in range(1, 6):
        v[j] = (w[j] - w[j + 1]) + h
    v[6] = w[6] + h
    v[7] = h


@njit(cache=True, nogil=True)
def _round(t):
    return np.floor(t + 0.5)


@njit(cache=True, nogil=True)
def nearest_dn(t, out):
    """Nearest point of D_n to ``t`` (Conway & Sloane): round, fix the parity.

    Writes integer coordinates (as float64) to ``out``; returns the squared distance.
    """
    n = t.size
    s = 0.0
    worst = 0
    worst_err = -1.0
    for k in range(n):
        f = _round(t[k])
        out[k] = f
        s += f
        e = abs(t[k] - f)
        if e > worst_err:
            worst_err = e
            worst = k
    if np.fmod(s, 2.0) != 0.0:
        # Re-round the coordinate that was rounded furthest, the other way.
        if t[worst] >= out[worst]:
            out[worst] += 1.0
        else:
            out[worst] -= 1.0
    d = 0.0
    for k in range(n):
        e = t[k] - out[k]
        d += e * e
    return d


@njit(cache=True, nogil=True)
def nearest_e8_doubled(t, a, b, shifted, out2):
    """Nearest E8 point to ``t``; writes doubled coordinates ``2p`` to ``out2`` (int64).

    E8 = D8 ∪ (D8 + 1/2): decode in both cosets, keep the closer (the integer
    coset on ties). ``a``, ``b``, ``shifted`` are scratch arrays of length 8.
    This is :func:`nearest_dn` on ``t`` and on ``t - 1/2`` fused into one pass,
    with the same floating-point operations (so the same decisions).
    """
    sa = np.int64(0)
    sb = np.int64(0)
    wa = 0
    wb = 0
    ea_max = -1.0
    eb_max = -1.0
    for k in range(8):
        tk = t[k]
        fa = _round(tk)
        a[k] = fa
        sa += np.int64(fa)
        ea = abs(tk - fa)
        if ea > ea_max:
            ea_max = ea
            wa = k
        sk = tk - 0.5
        shifted[k] = sk
        fb = _round(sk)
        b[k] = fb
        sb += np.int64(fb)
        eb = abs(sk - fb)
        if eb > eb_max:
            eb_max = eb
            wb = k
    if sa & 1:
        a[wa] += 1.0 if t[wa] >= a[wa] else -1.0
    if sb & 1:
        b[wb] += 1.0 if shifted[wb] >= b[wb] else -1.0
    da = 0.0
    db = 0.0
    for k in range(8):
        e = t[k] - a[k]
        da += e * e
        e = shifted[k] - b[k]
        db += e * e
    if db < da:
        for k in range(8):
            out2[k] = np.int64(2.0 * b[k]) + 1
    else:
        for k in range(8):
            out2[k] = np.int64(2.0 * a[k])


@njit(cache=True, nogil=True)
def reduce_to_voronoi(lattice, v, a, b, sh, p2):
    """``v <- v - Q(v)``: move a dither vector into the Voronoi cell of 0 (Z: no-op)."""
    n = v.size
    if lattice == LATTICE_D:
        nearest_dn(v, a)
        for j in range(n):
            v[j] -= a[j]
    elif lattice == LATTICE_E8:
        nearest_e8_doubled(v, a, b, sh, p2)
        for j in range(n):
            v[j] -= 0.5 * np.float64(p2[j])


@njit(cache=True, parallel=True)
def quantize_blocks(x, inv_step, lattice, n, basis, key, use_dither, first, points):
    """Quantize ``x`` (float64, length a multiple of ``n``) to lattice points.

    ``t = x/step + v`` (``v`` the block's dither, or 0) and ``points`` gets the
    nearest point of ``t`` (E8: doubled coordinates). ``x[0]`` is element
    ``first`` of the padded array (a multiple of ``n``): the dither of element
    ``i`` is drawn at index ``first + i``. Parallel over fixed groups of
    blocks; each block depends only on its own inputs.
    """
    nblocks = x.size // n
    ntasks = (nblocks + BLOCKS_PER_TASK - 1) // BLOCKS_PER_TASK
    for task in prange(ntasks):
        t = np.empty(n, np.float64)
        v = np.zeros(n, np.float64)
        w = np.empty(n, np.float64)
        a = np.empty(n, np.float64)
        b = np.empty(n, np.float64)
        sh = np.empty(n, np.float64)
        p2 = np.empty(n, np.int64)
        b0 = task * BLOCKS_PER_TASK
        b1 = min(nblocks, b0 + BLOCKS_PER_TASK)
        if lattice == LATTICE_Z:
            # Fast path, same arithmetic: v = (w - 1/2)·1 per element.
            for i in range(b0 * n, b1 * n):
                vi = uniform01(key, first + i) - 0.5 if use_dither else 0.0
                points[i] = np.int64(_round(x[i] * inv_step + vi))
            continue
        for blk in range(b0, b1):
            base = blk * n
            if use_dither:
                if lattice == LATTICE_E8:
                    _dither_e8(key, first + base, w, v)
                else:
                    _dither_block(key, first + base, basis, w, v)
                reduce_to_voronoi(lattice, v, a, b, sh, p2)
            for j in range(n):
                t[j] = x[base + j] * inv_step + v[j]
            if lattice == LATTICE_D:
                nearest_dn(t, a)
                for j in range(n):
                    points[base + j] = np.int64(a[j])
            else:
                nearest_e8_doubled(t, a, b, sh, p2)
                for j in range(n):
                    points[base + j] = p2[j]


@njit(cache=True, parallel=True)
def dequantize_blocks(points, step, lattice, n, basis, key, use_dither, first, out):
    """Reconstruct ``out = step * (p - v)`` (E8: ``p = points / 2``); ``points[0]`` is
    element ``first`` of the padded array (as in :func:`quantize_blocks`)."""
    nblocks = points.size // n
    ntasks = (nblocks + BLOCKS_PER_TASK - 1) // BLOCKS_PER_TASK
    scale = 0.5 if lattice == LATTICE_E8 else 1.0
    for task in prange(ntasks):
        v = np.zeros(n, np.float64)
        w = np.empty(n, np.float64)
        a = np.empty(n, np.float64)
        b = np.empty(n, np.float64)
        sh = np.empty(n, np.float64)
        p2 = np.empty(n, np.int64)
        b0 = task * BLOCKS_PER_TASK
        b1 = min(nblocks, b0 + BLOCKS_PER_TASK)
        if lattice == LATTICE_Z:
            for i in range(b0 * n, b1 * n):
                vi = uniform01(key, first + i) - 0.5 if use_dither else 0.0
                out[i] = step * (np.float64(points[i]) - vi)
            continue
        for blk in range(b0, b1):
            base = blk * n
            if use_dither:
                if lattice == LATTICE_E8:
                    _dither_e8(key, first + base, w, v)
                else:
                    _dither_block(key, first + base, basis, w, v)
                reduce_to_voronoi(lattice, v, a, b, sh, p2)
            for j in range(n):
                out[base + j] = step * (np.float64(points[base + j]) * scale - v[j])


# ---------------------------------------------------------------------------
# Index mapping: lattice points <-> integer symbol streams (docs/format.md §6)
# ---------------------------------------------------------------------------
# Z:   one stream, the coordinates.
# D_n: stream 0 = coordinates 0..n-2 of every block; stream 1 = the last
#      coordinate halved: (p_{n-1} - par) / 2 with par = (p_0+...+p_{n-2}) mod 2,
#      since the even coordinate sum fixes its parity.
# E8:  stream 0 = coset bit c (1 for D8 + 1/2); with q = (P - c)/2 ∈ D8,
#      stream 1/2 = q_0..q_6 of the c=0 / c=1 blocks, stream 3/4 = halved q_7
#      of the c=0 / c=1 blocks (parity as for D_n).


@njit(cache=True, nogil=True)
def _parity_of_prefix(points, base, m):
    s = np.int64(0)
    for j in range(m):
        s += points[base + j]
    return s & 1


@njit(cache=True, nogil=True)
def points_to_streams_dn(points, n, head, last):
    """D_n: split points into ``head`` ((n-1) per block) and ``last`` (1 per block)."""
    nblocks = points.size // n
    for blk in range(nblocks):
        base = blk * n
        for j in range(n - 1):
            head[blk * (n - 1) + j] = points[base + j]
        par = _parity_of_prefix(points, base, n - 1)
        last[blk] = (points[base + n - 1] - par) >> 1


@njit(cache=True, nogil=True)
def streams_to_points_dn(head, last, n, points):
    nblocks = points.size // n
    for blk in range(nblocks):
        base = blk * n
        for j in range(n - 1):
            points[base + j] = head[blk * (n - 1) + j]
        par = _parity_of_prefix(points, base, n - 1)
        points[base + n - 1] = 2 * last[blk] + par


@njit(cache=True, nogil=True)
def count_e8_odd_cosets(points2):
    """Number of blocks of doubled E8 points that lie in the coset D8 + 1/2."""
    c = 0
    for blk in range(points2.size // 8):
        c += points2[blk * 8] & 1
    return c


@njit(cache=True, nogil=True)
def points_to_streams_e8(points2, coset, head0, head1, last0, last1):
    """E8 (doubled coordinates) -> the five streams described above."""
    i0 = 0
    i1 = 0
    for blk in range(points2.size // 8):
        base = blk * 8
        c = points2[base] & 1
        coset[blk] = c
        par = np.int64(0)
        for j in range(7):
            q = (points2[base + j] - c) >> 1
            par += q
            if c == 0:
                head0[i0 * 7 + j] = q
            else:
                head1[i1 * 7 + j] = q
        q7 = (points2[base + 7] - c) >> 1
        if c == 0:
            last0[i0] = (q7 - (par & 1)) >> 1
            i0 += 1
        else:
            last1[i1] = (q7 - (par & 1)) >> 1
            i1 += 1


@njit(cache=True, nogil=True)
def streams_to_points_e8(coset, head0, head1, last0, last1, points2):
    """Inverse of :func:`points_to_streams_e8`. Returns False on an invalid coset bit."""
    i0 = 0
    i1 = 0
    for blk in range(coset.size):
        base = blk * 8
        c = coset[blk]
        if c != 0 and c != 1:
            return False
        par = np.int64(0)
        for j in range(7):
            q = head0[i0 * 7 + j] if c == 0 else head1[i1 * 7 + j]
            par += q
            points2[base + j] = 2 * q + c
        if c == 0:
            q7 = 2 * last0[i0] + (par & 1)
            i0 += 1
        else:
            q7 = 2 * last1[i1] + (par & 1)
            i1 += 1
        points2[base + 7] = 2 * q7 + c
    return True


# ---------------------------------------------------------------------------
# Whole-array stream buffers: chunk-major, stream s of chunk c is stream c*S+s
# ---------------------------------------------------------------------------
@njit(cache=True, parallel=True)
def stream_sizes(points, lattice, n, chunk_elements, sizes):
    """Symbol count of every stream (``sizes`` has C*S entries)."""
    n_chunks = (points.size + chunk_elements - 1) // chunk_elements
    for c in prange(n_chunks):
        a = c * chunk_elements
        m = min(chunk_elements, points.size - a)
        nb = m // n
        if lattice == LATTICE_Z:
            sizes[c] = m
        elif lattice == LATTICE_D:
            sizes[2 * c] = nb * (n - 1)
            sizes[2 * c + 1] = nb
        else:
            odd = count_e8_odd_cosets(points[a : a + m])
            even = nb - odd
            sizes[5 * c] = nb
            sizes[5 * c + 1] = 7 * even
            sizes[5 * c + 2] = 7 * odd
            sizes[5 * c + 3] = even
            sizes[5 * c + 4] = odd


@njit(cache=True, parallel=True)
def points_to_stream_buffer(points, lattice, n, chunk_elements, offsets, symbols):
    """Write every chunk's streams into ``symbols`` at ``offsets`` (parallel over chunks)."""
    n_chunks = (points.size + chunk_elements - 1) // chunk_elements
    for c in prange(n_chunks):
        a = c * chunk_elements
        m = min(chunk_elements, points.size - a)
        chunk = points[a : a + m]
        if lattice == LATTICE_Z:
            symbols[offsets[c] : offsets[c + 1]] = chunk
        elif lattice == LATTICE_D:
            k = 2 * c
            points_to_streams_dn(
                chunk,
                n,
                symbols[offsets[k] : offsets[k + 1]],
                symbols[offsets[k + 1] : offsets[k + 2]],
            )
        else:
            k = 5 * c
            points_to_streams_e8(
                chunk,
                symbols[offsets[k] : offsets[k + 1]],
                symbols[offsets[k + 1] : offsets[k + 2]],
                symbols[offsets[k + 2] : offsets[k + 3]],
                symbols[offsets[k + 3] : offsets[k + 4]],
                symbols[offsets[k + 4] : offsets[k + 5]],
            )


@njit(cache=True, parallel=True)
def stream_buffer_to_points(symbols, offsets, lattice, n, chunk_elements, points, ok):
    """Inverse of :func:`points_to_stream_buffer`; ``ok[c]`` = 0 where chunk c is inconsistent."""
    n_chunks = (points.size + chunk_elements - 1) // chunk_elements
    for c in prange(n_chunks):
        a = c * chunk_elements
        m = min(chunk_elements, points.size - a)
        chunk = points[a : a + m]
        ok[c] = 1
        if lattice == LATTICE_Z:
            chunk[:] = symbols[offsets[c] : offsets[c + 1]]
        elif lattice == LATTICE_D:
            k = 2 * c
            streams_to_points_dn(
                symbols[offsets[k] : offsets[k + 1]],
                symbols[offsets[k + 1] : offsets[k + 2]],
                n,
                chunk,
            )
        else:
            k = 5 * c
            coset = symbols[offsets[k] : offsets[k + 1]]
            odd = 0
            for b in coset:
                odd += b
            if odd != offsets[k + 5] - offsets[k + 4]:
                ok[c] = 0
            elif not streams_to_points_e8(
                coset,
                symbols[offsets[k + 1] : offsets[k + 2]],
                symbols[offsets[k + 2] : offsets[k + 3]],
                symbols[offsets[k + 3] : offsets[k + 4]],
                symbols[offsets[k + 4] : offsets[k + 5]],
                chunk,
            ):
                ok[c] = 0
