"""Scalar-quantizer design kernels: runs and bins, exact 1-D DPs, Lloyd, CLG.

Every kernel works on *sorted* data summarised by prefix sums over ``m``
consecutive groups (distinct values, or bins of them). With ``z`` the centred
and scaled value and ``w`` the weight of each element, the prefix arrays have
length ``m + 1`` and start at 0:

* ``Pn``  — element counts (float64, exact below 2**53),
* ``Pw``  — weights ``Σ w``,
* ``Ps1`` — ``Σ w·z``,
* ``Ps2`` — ``Σ w·z²``,

so the weighted squared error of the groups ``[i, j)`` about their weighted
mean is ``(Ps2[j]-Ps2[i]) - (Ps1[j]-Ps1[i])**2 / (Pw[j]-Pw[i])`` in O(1).

A cell ``[i, j)`` of an ECSQ costs ``SSE(i, j)/W + lam·φ(n_ij/N)`` with
``φ(p) = -p·log2 p`` (the cell's share of the index entropy); a k-means cell
costs ``SSE(i, j)``. Cells are half-open ranges of group indices.

Conventions: module-level ``@njit(cache=True)`` functions over contiguous
arrays, no fastmath, no threads; ties are broken by a fixed scan order, so
every result is deterministic.
"""

import numpy as np
from numba import njit

# --------------------------------------------------------------------------
# Sorted data -> runs of equal values -> bins
# --------------------------------------------------------------------------


@njit(cache=True)
def sorted_runs(xs, ws):
    """Collapse sorted ``xs`` into runs of equal values.

    ``ws`` holds one weight per element, or is empty for unit weights.
    Returns ``(values, counts, weights)`` trimmed to the number of runs.
    """
    n = xs.shape[0]
    values = np.empty(n, np.float64)
    counts = np.empty(n, np.float64)
    weights = np.empty(n, np.float64)
    unit = ws.shape[0] == 0
    m = 0
    i = 0
    while i < n:
        v = xs[i]
        c = 0.0
        w = 0.0
        while i < n and xs[i] == v:
            c += 1.0
            w += 1.0 if unit else ws[i]
            i += 1
        values[m] = v
        counts[m] = c
        weights[m] = w
        m += 1
    return values[:m].copy(), counts[:m].copy(), weights[:m].copy()


@njit(cache=True)
def bin_runs(values, counts, weights, mu, inv_scale, cap_n, cap_w, cap_span):
    """Merge consecutive runs into bins and return per-bin sufficient statistics.

    A bin is closed before the next run when adding it would make the bin's
    count exceed ``cap_n``, its weight exceed ``cap_w`` or its span
    ``hi - lo`` (original units) exceed ``cap_span``; a negative ``cap_n``
    keeps every run in its own bin. Returns ``(lo, hi, n, w, s1, s2)``, with
    ``s1 = Σ w·z`` and ``s2 = Σ w·z²`` for ``z = (value - mu)·inv_scale``.
    """
    m = values.shape[0]
    lo = np.empty(m, np.float64)
    hi = np.empty(m, np.float64)
    bn = np.empty(m, np.float64)
    bw = np.empty(m, np.float64)
    b1 = np.empty(m, np.float64)
    b2 = np.empty(m, np.float64)
    nb = -1
    merge = cap_n >= 0.0
    for r in range(m):
        v = values[r]
        z = (v - mu) * inv_scale
        c = counts[r]
        w = weights[r]
        new_bin = nb < 0
        if not new_bin:
            if not merge:
                new_bin = True
            elif bn[nb] + c > cap_n or bw[nb] + w > cap_w or v - lo[nb] > cap_span:
                new_bin = True
        if new_bin:
            nb += 1
            lo[nb] = v
            bn[nb] = 0.0
            bw[nb] = 0.0
            b1[nb] = 0.0
            b2[nb] = 0.0
        hi[nb] = v
        bn[nb] += c
        bw[nb] += w
        b1[nb] += w * z
        b2[nb] += w * z * z
    nb += 1
    return (
        lo[:nb].copy(),
        hi[:nb].copy(),
        bn[:nb].copy(),
        bw[:nb].copy(),
        b1[:nb].copy(),
        b2[:nb].copy(),
    )


# --------------------------------------------------------------------------
# Cell costs
# --------------------------------------------------------------------------


@njit(cache=True)
def _sse(Pw, Ps1, Ps2, i, j):
    """Weighted SSE of groups [i, j) about their weighted mean (0 if weightless)."""
    w = Pw[j] - Pw[i]
    if w <= 0.0:
        return 0.0
    s1 = Ps1[j] - Ps1[i]
    v = (Ps2[j] - Ps2[i]) - s1 * s1 / w
    if v > 0.0:
        return v
    return 0.0


@njit(cache=True)
def _phi(p):
    """-p·log2(p), with phi(0) = 0."""
    if p <= 0.0:
        return 0.0
    return -p * np.log2(p)


@njit(cache=True)
def _range_cost(Pw, Ps1, Ps2, i, j, c):
    """Weighted SSE of groups [i, j) about the point ``c``."""
    if j <= i:
        return 0.0
    v = (Ps2[j] - Ps2[i]) - 2.0 * c * (Ps1[j] - Ps1[i]) + c * c * (Pw[j] - Pw[i])
    if v > 0.0:
        return v
    return 0.0


# --------------------------------------------------------------------------
# Exact weighted k-means: layered DP with divide-and-conquer split search
# --------------------------------------------------------------------------


@njit(cache=True)
def kmeans_dp(Pw, Ps1, Ps2, K):
    """Exact partition of ``m`` sorted groups into ``K`` contiguous cells.

    Minimises the total weighted SSE. The cost ``SSE(i, j)`` satisfies the
    quadrangle inequality, so within a layer the optimal last split is
    monotone in ``j`` and each layer is solved by divide and conquer in
    O(m log m). Requires ``1 <= K <= m``. Returns ``(cost, bounds)`` with
    ``bounds`` the ``K + 1`` cell edges (group indices, 0 and m included).
    """
    m = Pw.shape[0] - 1
    prev = np.empty(m + 1, np.float64)
    cur = np.empty(m + 1, np.float64)
    back = np.zeros((K, m + 1), np.int32)
    for j in range(m + 1):
        prev[j] = _sse(Pw, Ps1, Ps2, 0, j)
    stack = np.empty((256, 4), np.int64)
    for k in range(2, K + 1):
        for j in range(m + 1):
            cur[j] = np.inf
        jlo = k
        jhi = m - (K - k)
        top = 0
        stack[0, 0] = jlo
        stack[0, 1] = jhi
        stack[0, 2] = k - 1
        stack[0, 3] = jhi - 1
        top = 1
        while top > 0:
            top -= 1
            lo = stack[top, 0]
            hi = stack[top, 1]
            olo = stack[top, 2]
            ohi = stack[top, 3]
            if lo > hi:
                continue
            mid = (lo + hi) // 2
            last = mid - 1
            if ohi < last:
                last = ohi
            best = np.inf
            bi = olo
            for i in range(olo, last + 1):
                v = prev[i] + _sse(Pw, Ps1, Ps2, i, mid)
                if v < best:
                    best = v
                    bi = i
            cur[mid] = best
            back[k - 1, mid] = bi
            # right half first so the left half is processed next (depth-first)
            stack[top, 0] = mid + 1
            stack[top, 1] = hi
            stack[top, 2] = bi
            stack[top, 3] = ohi
            top += 1
            stack[top, 0] = lo
            stack[top, 1] = mid - 1
            stack[top, 2] = olo
            stack[top, 3] = bi
            top += 1
        tmp = prev
        prev = cur
        cur = tmp
    bounds = np.empty(K + 1, np.int64)
    bounds[K] = m
    j = m
    for k in range(K, 0, -1):
        i = back[k - 1, j] if k > 1 else 0
        bounds[k - 1] = i
        j = i
    return prev[m], bounds


# --------------------------------------------------------------------------
# Exact ECSQ: DP over contiguous partitions with a provable pruning bound
# --------------------------------------------------------------------------


@njit(cache=True)
def _ecsq_layer(Pn, Pw, Ps1, Ps2, lam, mu, inv_w, prev, cur, back_row, prune):
    """One DP layer: cur[j] = min_i prev[i] + cost(i, j) + mu, scanning i downwards.

    ``prev`` is the previous layer (at most k-1 cells, prev[0] = 0) or, for the
    uncapped DP, ``cur`` itself; ``mu`` is a price per cell.

    With ``prune`` two exact shortcuts apply (without it: the plain O(m²) scan).

    * Stop (checked at the start of each block of 8 candidates): for every
      i' <= i < j,

          prev[i'] + cost(i', j) + mu >= cur[i] + SSE(i, j)/W + lam·(φ(P) - φ(P - q)),

      with q = n_ij/N and P = n_0j/N, because cur[i] <= prev[i'] + cost(i', i)
      + mu, SSE obeys the quadrangle inequality and φ is concave (its increment
      over a length q is smallest at the right end). Once the right side
      exceeds the best value found, no smaller i can win.
    * Skip: within a block, φ(q) is at least its chord between the block's
      ends (concavity), so a candidate whose chord value cannot beat the best
      needs no logarithm.
    """
    m = Pn.shape[0] - 1
    inv_n = 1.0 / Pn[m]
    cur[0] = 0.0
    for j in range(1, m + 1):
        best = np.inf
        bi = j - 1
        pnj = Pn[j]
        if not prune:
            for i in range(j - 1, -1, -1):
                q = (pnj - Pn[i]) * inv_n
                v = prev[i] + _sse(Pw, Ps1, Ps2, i, j) * inv_w + lam * _phi(q) + mu
                if v < best:
                    best = v
                    bi = i
            cur[j] = best
            back_row[j] = bi
            continue
        pj = pnj * inv_n
        phi_pj = _phi(pj)
        i = j - 1
        while i >= 0:
            i_end = i - 7
            if i_end < 0:
                i_end = 0
            qa = (pnj - Pn[i]) * inv_n
            d = _sse(Pw, Ps1, Ps2, i, j) * inv_w
            rest = pj - qa
            if rest < 0.0:
                rest = 0.0
            if cur[i] + d + lam * (phi_pj - _phi(rest)) > best + 1e-12 * abs(best):
                break
            qb = (pnj - Pn[i_end]) * inv_n
            fa = _phi(qa)
            slope = (_phi(qb) - fa) / (qb - qa) if qb > qa else 0.0
            for ii in range(i, i_end - 1, -1):
                q = (pnj - Pn[ii]) * inv_n
                base = prev[ii] + _sse(Pw, Ps1, Ps2, ii, j) * inv_w + mu
                if base + lam * (fa + slope * (q - qa)) <= best + 1e-12 * abs(best):
                    v = base + lam * _phi(q)
                    if v < best:
                        best = v
                        bi = ii
            i = i_end - 1
        cur[j] = best
        back_row[j] = bi


@njit(cache=True)
def _bounds_from_back(back, m):
    count = 0
    j = m
    while j > 0:
        j = back[j]
        count += 1
    bounds = np.empty(count + 1, np.int64)
    bounds[count] = m
    j = m
    c = count
    while j > 0:
        j = back[j]
        c -= 1
        bounds[c] = j
    return bounds


@njit(cache=True)
def ecsq_dp(Pn, Pw, Ps1, Ps2, lam, mu, prune):
    """Exact ECSQ over contiguous partitions, any number of cells.

    Minimises ``Σ_cells (SSE/W + lam·φ(n_cell/N) + mu)`` over all partitions
    of the ``m`` sorted groups (``mu`` >= 0 a price per cell, used to enforce
    a cap on the number of cells by Lagrangian relaxation). O(m·w) with
    pruning, ``w`` the scanned window (a few cells wide); O(m²) without.
    Returns ``(cost, bounds)`` with ``bounds`` the cell edges (0 ... m).
    """
    m = Pn.shape[0] - 1
    inv_w = 1.0 / Pw[m]
    F = np.empty(m + 1, np.float64)
    back = np.zeros(m + 1, np.int64)
    _ecsq_layer(Pn, Pw, Ps1, Ps2, lam, mu, inv_w, F, F, back, prune)
    return F[m], _bounds_from_back(back, m)


@njit(cache=True)
def ecsq_dp_capped(Pn, Pw, Ps1, Ps2, lam, K, prune):
    """Exact ECSQ with at most ``K`` cells: ``K`` layers of :func:`_ecsq_layer`.

    Layer ``k`` holds the best cost of each prefix with at most ``k`` cells,
    so the pruning bound of the uncapped DP holds within each layer. Stops
    early once a layer no longer improves on the previous one. O(K·m·w).
    Returns ``(cost, bounds)``.
    """
    m = Pn.shape[0] - 1
    inv_w = 1.0 / Pw[m]
    inv_n = 1.0 / Pn[m]
    back = np.zeros((K, m + 1), np.int32)
    prev = np.empty(m + 1, np.float64)
    cur = np.empty(m + 1, np.float64)
    prev[0] = 0.0
    for j in range(1, m + 1):
        prev[j] = _sse(Pw, Ps1, Ps2, 0, j) * inv_w + lam * _phi(Pn[j] * inv_n)
    layers = 1
    row = np.zeros(m + 1, np.int64)
    for k in range(2, K + 1):
        _ecsq_layer(Pn, Pw, Ps1, Ps2, lam, 0.0, inv_w, prev, cur, row, prune)
        same = True
        for j in range(m + 1):
            back[k - 1, j] = row[j]
            if cur[j] < prev[j]:
                same = False
        tmp = prev
        prev = cur
        cur = tmp
        layers = k
        if same:
            break
    # backtrack: layer k's pointer gives the start of the last cell
    count = 0
    j = m
    k = layers
    while j > 0:
        j = back[k - 1, j] if k > 1 else 0
        k -= 1
        count += 1
    bounds = np.empty(count + 1, np.int64)
    bounds[count] = m
    j = m
    k = layers
    c = count
    while j > 0:
        j = back[k - 1, j] if k > 1 else 0
        k -= 1
        c -= 1
        bounds[c] = j
    return prev[m], bounds


# --------------------------------------------------------------------------
# Entropy-constrained assignment: lower envelope of the cell cost parabolas
# --------------------------------------------------------------------------


@njit(cache=True)
def ecsq_envelope(c, ell, lam):
    """Cells of the rule ``x -> argmin_i (x - c_i)² + lam·ell_i`` (``c`` sorted).

    Each cell is an interval; levels whose cell is empty are dropped. The
    boundary between consecutive kept levels a < b is where their costs meet:

        t = (c_a + c_b)/2 + lam·(ell_b - ell_a) / (2·(c_b - c_a)).

    Returns ``(active, thresholds)``: indices into ``c`` of the kept levels
    (increasing) and the ``len(active) - 1`` increasing thresholds. On a tie
    the lower level keeps the threshold point's left side.
    """
    K = c.shape[0]
    act = np.empty(K, np.int64)
    thr = np.empty(K, np.float64)
    top = 0
    for j in range(K):
        if top > 0 and c[act[top - 1]] == c[j]:
            # same level twice: keep the cheaper code
            if ell[j] < ell[act[top - 1]]:
                top -= 1
            else:
                continue
        while top > 0:
            a = act[top - 1]
            t = 0.5 * (c[a] + c[j]) + lam * (ell[j] - ell[a]) / (2.0 * (c[j] - c[a]))
            if top >= 2 and t <= thr[top - 2]:
                top -= 1
            else:
                thr[top - 1] = t
                break
        act[top] = j
        top += 1
    return act[:top].copy(), thr[: top - 1].copy()


@njit(cache=True)
def _cell_bounds(zv, thresholds):
    """Group-index edges of the cells ``[t_{r-1}, t_r)`` on sorted ``zv``."""
    m = zv.shape[0]
    K = thresholds.shape[0] + 1
    b = np.empty(K + 1, np.int64)
    b[0] = 0
    b[K] = m
    for r in range(K - 1):
        b[r + 1] = np.searchsorted(zv, thresholds[r])
    return b


@njit(cache=True)
def ecsq_clg(zv, Pn, Pw, Ps1, Ps2, centers0, lam, max_iter, tol):
    """Chou–Lookabaugh–Gray ECSQ iteration on sorted groups.

    Alternates (a) the assignment of :func:`ecsq_envelope` and (b)
    ``c_i`` = weighted mean of cell i, ``ell_i = -log2(n_i/N)``, dropping
    empty cells. The first assignment uses equal code lengths (nearest
    level). Stops when the cells repeat, when the relative decrease of
    ``J = SSE/W + lam·H`` falls to ``tol`` or after ``max_iter`` passes.
    Returns ``(centers, code_lengths, iterations)`` of the last pass.
    """
    m = zv.shape[0]
    N = Pn[m]
    W = Pw[m]
    c = centers0.copy()
    ell = np.zeros(c.shape[0], np.float64)
    prev_b = np.empty(0, np.int64)
    prev_j = np.inf
    it = 0
    while it < max_iter:
        it += 1
        act, t = ecsq_envelope(c, ell, lam)
        b = _cell_bounds(zv, t)
        K = act.shape[0]
        nc = np.empty(K, np.float64)
        nl = np.empty(K, np.float64)
        kk = 0
        sse = 0.0
        rate = 0.0
        for r in range(K):
            i = b[r]
            j = b[r + 1]
            if j <= i:
                continue
            w = Pw[j] - Pw[i]
            if w > 0.0:
                ci = (Ps1[j] - Ps1[i]) / w
            else:
                ci = 0.5 * (zv[i] + zv[j - 1])
            p = (Pn[j] - Pn[i]) / N
            nc[kk] = ci
            nl[kk] = -np.log2(p)
            sse += _range_cost(Pw, Ps1, Ps2, i, j, ci)
            rate += _phi(p)
            kk += 1
        c = nc[:kk].copy()
        ell = nl[:kk].copy()
        J = sse / W + lam * rate
        unchanged = b.shape[0] == prev_b.shape[0]
        if unchanged:
            for r in range(b.shape[0]):
                if b[r] != prev_b[r]:
                    unchanged = False
                    break
        if unchanged or (prev_j - J) <= tol * abs(J):
            break
        prev_b = b
        prev_j = J
    return c, ell, it


# --------------------------------------------------------------------------
# Lloyd's algorithm (weighted) and greedy k-means++ seeding, on sorted groups
# --------------------------------------------------------------------------


@njit(cache=True)
def _region_cost(zv, Pw, Ps1, Ps2, a, b, has_a, has_b):
    """Cost of the groups in [a, b) assigned to the nearer of a and b.

    ``has_a`` / ``has_b`` false mean the region is open on that side
    (-inf / +inf) and everything goes to the other centre.
    """
    m = zv.shape[0]
    ia = np.searchsorted(zv, a) if has_a else 0
    ib = np.searchsorted(zv, b) if has_b else m
    if has_a and has_b:
        im = np.searchsorted(zv, 0.5 * (a + b))
        return _range_cost(Pw, Ps1, Ps2, ia, im, a) + _range_cost(Pw, Ps1, Ps2, im, ib, b)
    if has_a:
        return _range_cost(Pw, Ps1, Ps2, ia, ib, a)
    return _range_cost(Pw, Ps1, Ps2, ia, ib, b)


@njit(cache=True)
def _sample_in_range(Pw, Ps1, Ps2, i, j, c, u):
    """Smallest group r in [i, j) whose cumulative cost about c exceeds u (or -1)."""
    if j <= i or _range_cost(Pw, Ps1, Ps2, i, j, c) <= u:
        return -1
    lo = i
    hi = j - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _range_cost(Pw, Ps1, Ps2, i, mid + 1, c) > u:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def kmeanspp_seed(zv, Pw, Ps1, Ps2, K, n_trials, uniforms):
    """Greedy k-means++ (Arthur & Vassilvitskii 2007) on sorted weighted groups.

    The first centre is drawn with probability proportional to weight, each
    next one as the best of ``n_trials`` candidates drawn proportionally to
    ``w·d²`` (d the distance to the nearest chosen centre). In 1-D the
    potential splits into regions between consecutive centres, each evaluated
    in O(log m) from the prefix sums. ``uniforms`` (from the caller's seeded
    generator) must hold ``1 + (K - 1)·n_trials`` numbers in [0, 1).
    Returns the ``K`` centres, sorted.
    """
    m = zv.shape[0]
    W = Pw[m]
    centers = np.empty(K, np.float64)
    # region r lies between centers[r-1] and centers[r]; K+1 regions at most
    rcost = np.zeros(K + 1, np.float64)
    target = uniforms[0] * W
    r0 = np.searchsorted(Pw, target, side="right") - 1
    if r0 < 0:
        r0 = 0
    if r0 > m - 1:
        r0 = m - 1
    centers[0] = zv[r0]
    nc = 1
    rcost[0] = _region_cost(zv, Pw, Ps1, Ps2, 0.0, centers[0], False, True)
    rcost[1] = _region_cost(zv, Pw, Ps1, Ps2, centers[0], 0.0, True, False)
    ui = 1
    for _ in range(1, K):
        total = 0.0
        for r in range(nc + 1):
            total += rcost[r]
        best_z = 0.0
        best_delta = np.inf
        best_left = 0.0
        best_right = 0.0
        best_r = 0
        for _t in range(n_trials):
            u = uniforms[ui]
            ui += 1
            z = np.nan
            if total > 0.0:
                rem = u * total
                for r in range(nc + 1):
                    if rem < rcost[r] or r == nc:
                        # sample inside region r
                        has_a = r > 0
                        has_b = r < nc
                        a = centers[r - 1] if has_a else 0.0
                        b = centers[r] if has_b else 0.0
                        ia = np.searchsorted(zv, a) if has_a else 0
                        ib = np.searchsorted(zv, b) if has_b else m
                        if has_a and has_b:
                            im = np.searchsorted(zv, 0.5 * (a + b))
                        elif has_a:
                            im = ib
                        else:
                            im = ia
                        left = _range_cost(Pw, Ps1, Ps2, ia, im, a) if has_a else 0.0
                        if rem < left:
                            g = _sample_in_range(Pw, Ps1, Ps2, ia, im, a, rem)
                        else:
                            g = _sample_in_range(Pw, Ps1, Ps2, im, ib, b, rem - left)
                        if g < 0:
                            g = ib - 1 if ib > ia else ia
                        if g > m - 1:
                            g = m - 1
                        z = zv[g]
                        break
                    rem -= rcost[r]
            else:
                g = int(u * m)
                if g > m - 1:
                    g = m - 1
                z = zv[g]
            # region containing z and the change of potential if z is added
            r = np.searchsorted(centers[:nc], z, side="right")
            has_a = r > 0
            has_b = r < nc
            a = centers[r - 1] if has_a else 0.0
            b = centers[r] if has_b else 0.0
            left = _region_cost(zv, Pw, Ps1, Ps2, a, z, has_a, True)
            right = _region_cost(zv, Pw, Ps1, Ps2, z, b, True, has_b)
            delta = left + right - rcost[r]
            if delta < best_delta:
                best_delta = delta
                best_z = z
                best_left = left
                best_right = right
                best_r = r
        # insert best_z at position best_r; region best_r splits in two
        for q in range(nc, best_r, -1):
            centers[q] = centers[q - 1]
        for q in range(nc + 1, best_r + 1, -1):
            rcost[q] = rcost[q - 1]
        centers[best_r] = best_z
        rcost[best_r] = best_left
        rcost[best_r + 1] = best_right
        nc += 1
    return centers


@njit(cache=True)
def lloyd(zv, Pw, Ps1, Ps2, centers0, max_iter, tol):
    """Weighted Lloyd iteration on sorted groups (exact: every group is used).

    Each pass assigns groups to the nearest centre (thresholds at midpoints,
    O(K log m) with prefix sums) and moves each centre to its cell's weighted
    mean. An empty cell's centre is moved to the group farthest from the
    centre of the cell of largest error (a group at one of its ends). Stops
    when the cells repeat, when the relative decrease of the SSE falls to
    ``tol`` or after ``max_iter`` passes. Needs ``K <= m``.
    Returns ``(centers, iterations)``.
    """
    c = np.sort(centers0)
    K = c.shape[0]
    t = np.empty(K - 1, np.float64)
    lo = np.empty(K, np.int64)
    hi = np.empty(K, np.int64)
    err = np.empty(K, np.float64)
    prev_b = np.full(K + 1, -1, np.int64)
    prev_sse = np.inf
    it = 0
    while it < max_iter:
        it += 1
        for r in range(K - 1):
            t[r] = 0.5 * (c[r] + c[r + 1])
        b = _cell_bounds(zv, t)
        sse = 0.0
        empty = 0
        for r in range(K):
            i = b[r]
            j = b[r + 1]
            lo[r] = i
            hi[r] = j
            if j <= i:
                empty += 1
                err[r] = 0.0
                continue
            w = Pw[j] - Pw[i]
            if w > 0.0:
                c[r] = (Ps1[j] - Ps1[i]) / w
            else:
                c[r] = 0.5 * (zv[i] + zv[j - 1])
            err[r] = _range_cost(Pw, Ps1, Ps2, i, j, c[r])
            sse += err[r]
        if empty > 0:
            for r in range(K):
                if hi[r] > lo[r]:
                    continue
                wr = -1
                worst = -1.0
                for q in range(K):
                    if hi[q] - lo[q] >= 2 and err[q] > worst:
                        worst = err[q]
                        wr = q
                if wr < 0:
                    break  # no cell holds two groups: nothing left to split
                i = lo[wr]
                j = hi[wr]
                if abs(zv[i] - c[wr]) >= abs(zv[j - 1] - c[wr]):
                    c[r] = zv[i]
                    lo[wr] = i + 1
                else:
                    c[r] = zv[j - 1]
                    hi[wr] = j - 1
                err[wr] = _range_cost(Pw, Ps1, Ps2, lo[wr], hi[wr], c[wr])
                lo[r] = 0
                hi[r] = 1  # now holds one group
                err[r] = 0.0
            c = np.sort(c)
            prev_b[:] = -1
            prev_sse = np.inf
            continue
        unchanged = True
        for r in range(K + 1):
            if b[r] != prev_b[r]:
                unchanged = False
                break
        if unchanged or (prev_sse - sse) <= tol * abs(sse):
            break
        prev_b[:] = b
        prev_sse = sse
    return c, it
