"""Learned vector quantization kernels: k-means++ seeding, Lloyd, nearest codeword.

Vectors are the rows of a C-contiguous ``(n, d)`` float64 array; a codebook is
a ``(K, d)`` float64 array. Distances are plain squared Euclidean distances
summed over coordinates in increasing order, in IEEE double precision
without fused multiply-add (no ``fastmath``): the encoder and any decoder
or re-implementation find the same nearest codeword. Ties go to the lowest
index. A candidate's sum stops as soon as it reaches the best distance so
far (partial sums of squares only grow, so the result is the same).

Parallel loops run over fixed-size tasks of ``ROWS_PER_TASK`` vectors. Each
task writes only its own rows, and every floating-point sum over vectors is
formed per task in row order and then over tasks in task order, so no
result depends on the number of threads.
"""

import numpy as np
from numba import njit, prange

#: Vectors per parallel work item: fixed, so results never depend on threads.
ROWS_PER_TASK = 2048


@njit(cache=True, nogil=True)
def _sqdist(X, i, C, k):
    """``||X[i] - C[k]||^2``, coordinates summed in increasing order."""
    s = 0.0
    for t in range(X.shape[1]):
        diff = X[i, t] - C[k, t]
        s += diff * diff
    return s


@njit(cache=True, nogil=True)
def _nearest(X, i, C):
    """Index and squared distance of the codeword nearest ``X[i]`` (lowest index on ties)."""
    best = 0
    best_d = _sqdist(X, i, C, 0)
    d = X.shape[1]
    for k in range(1, C.shape[0]):
        # Partial sums only grow: stop once one reaches the best (exact, same result).
        dk = 0.0
        for t in range(d):
            diff = X[i, t] - C[k, t]
            dk += diff * diff
            if dk >= best_d:
                break
        if dk < best_d:
            best_d = dk
            best = k
    return best, best_d


@njit(cache=True, parallel=True)
def assign(X, C, w, idx, dist):
    """Nearest codeword of every row: ``idx[i]``, ``dist[i]``; returns ``Σ w_i dist_i``.

    ``w`` is the per-row weight (the sum is formed per task, then over tasks).
    """
    n = X.shape[0]
    ntasks = (n + ROWS_PER_TASK - 1) // ROWS_PER_TASK
    partial = np.zeros(ntasks, np.float64)
    for task in prange(ntasks):
        lo = task * ROWS_PER_TASK
        hi = min(n, lo + ROWS_PER_TASK)
        s = 0.0
        for i in range(lo, hi):
            k, dk = _nearest(X, i, C)
            idx[i] = k
            dist[i] = dk
            s += w[i] * dk
        partial[task] = s
    total = 0.0
    for task in range(ntasks):
        total += partial[task]
    return total


@njit(cache=True, parallel=True)
def _potential_with(X, w, dist, x_new, out_min):
    """``Σ_i w_i min(dist_i, ||X[i] - x_new||^2)``; ``out_min`` receives the minima."""
    n = X.shape[0]
    d = X.shape[1]
    ntasks = (n + ROWS_PER_TASK - 1) // ROWS_PER_TASK
    partial = np.zeros(ntasks, np.float64)
    for task in prange(ntasks):
        lo = task * ROWS_PER_TASK
        hi = min(n, lo + ROWS_PER_TASK)
        s = 0.0
        for i in range(lo, hi):
            dd = 0.0
            for t in range(d):
                diff = X[i, t] - x_new[t]
                dd += diff * diff
            m = dist[i] if dist[i] < dd else dd
            out_min[i] = m
            s += w[i] * m
        partial[task] = s
    total = 0.0
    for task in range(ntasks):
        total += partial[task]
    return total


@njit(cache=True)
def kmeanspp(X, w, K, n_trials, uniforms, centers):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007) of ``K`` rows of ``centers``.

    The first centre is the row drawn with probability ``∝ w``; each next one
    is the best (lowest potential) of ``n_trials`` rows drawn with
    probability ``∝ w·D²``, ``D`` the distance to the nearest chosen centre.
    ``uniforms`` holds ``1 + (K-1)·n_trials`` numbers in [0, 1) from the
    caller's seeded generator. When the potential is zero (fewer distinct
    rows than ``K``) seeding stops. Returns the number of centres chosen
    (``>= 1``; needs ``n >= 1``).
    """
    n = X.shape[0]
    d = X.shape[1]
    cum = np.empty(n, np.float64)
    s = 0.0
    for i in range(n):
        s += w[i]
        cum[i] = s
    if s > 0.0:
        r = np.searchsorted(cum, uniforms[0] * s, side="right")
    else:
        r = int(uniforms[0] * n)
    if r > n - 1:
        r = n - 1
    for t in range(d):
        centers[0, t] = X[r, t]
    dist = np.empty(n, np.float64)
    trial_min = np.empty(n, np.float64)
    best_min = np.empty(n, np.float64)
    pot = _potential_with(X, w, np.full(n, np.inf), centers[0], dist)
    ui = 1
    nc = 1
    for _ in range(1, K):
        if not pot > 0.0:
            break
        s = 0.0
        for i in range(n):
            s += w[i] * dist[i]
            cum[i] = s
        best_pot = np.inf
        best_r = -1
        for _t in range(n_trials):
            r = np.searchsorted(cum, uniforms[ui] * s, side="right")
            ui += 1
            if r > n - 1:
                r = n - 1
            p = _potential_with(X, w, dist, X[r], trial_min)
            if p < best_pot:
                best_pot = p
                best_r = r
                best_min[:] = trial_min
        for t in range(d):
            centers[nc, t] = X[best_r, t]
        dist[:] = best_min
        pot = best_pot
        nc += 1
    return nc


@njit(cache=True)
def lloyd(X, w, C, max_iter, tol, history, idx, dist):
    """Weighted Lloyd iteration in place on the codebook ``C`` (``K`` rows).

    Each pass assigns every row to its nearest codeword (``history[it]`` =
    ``Σ w_i ||X[i] - C[idx_i]||²`` for the codebook of that pass), stops if the
    assignment repeats or the relative decrease falls to ``tol``, else moves
    every codeword to the ``w``-weighted mean of its cell (a cell of zero
    weight keeps its codeword; an empty cell's codeword moves to the row
    farthest from its own codeword, a different row for each). Neither step
    can raise the weighted distortion, so ``history`` never increases (up to
    rounding of the means). On return ``C``, ``idx`` and ``dist`` belong to
    the last recorded pass. Returns the number of passes.
    """
    n = X.shape[0]
    d = X.shape[1]
    K = C.shape[0]
    sums = np.zeros((K, d), np.float64)
    wsum = np.zeros(K, np.float64)
    count = np.zeros(K, np.int64)
    prev_idx = np.full(n, -1, np.int64)
    taken = np.zeros(n, np.bool_)
    it = 0
    while it < max_iter:
        D = assign(X, C, w, idx, dist)
        history[it] = D
        it += 1
        if not D > 0.0:
            break  # nothing left to improve (and means could only add rounding)
        if it > 1:
            same = True
            for i in range(n):
                if idx[i] != prev_idx[i]:
                    same = False
                    break
            if same or history[it - 2] - D <= tol * D:
                break
        if it == max_iter:
            break
        prev_idx[:] = idx
        sums[:, :] = 0.0
        wsum[:] = 0.0
        count[:] = 0
        for i in range(n):
            k = idx[i]
            count[k] += 1
            wi = w[i]
            wsum[k] += wi
            for t in range(d):
                sums[k, t] += wi * X[i, t]
        for k in range(K):
            if wsum[k] > 0.0:
                for t in range(d):
                    C[k, t] = sums[k, t] / wsum[k]
        taken[:] = False
        for k in range(K):
            if count[k] > 0:
                continue
            far = -1
            far_d = -1.0
            for i in range(n):
                if not taken[i] and dist[i] > far_d:
                    far_d = dist[i]
                    far = i
            if far < 0 or far_d <= 0.0:
                continue
            taken[far] = True
            for t in range(d):
                C[k, t] = X[far, t]
    return it


@njit(cache=True, parallel=True)
def encode_blocks(x, codebooks, points):
    """Greedy residual encoding of the padded flat array ``x``.

    ``codebooks`` has shape ``(S, M, K, d)``: ``S`` stages, ``M`` sub-spaces.
    Block ``b`` is ``x[b·M·d : (b+1)·M·d]``; its sub-vector ``j`` (elements
    ``j·d .. j·d + d − 1`` of the block) is coded by stage 0's codebook ``j``,
    its residual by stage 1's, and so on. ``points[(b·S + s)·M + j]`` receives
    the index of stage ``s``, sub-space ``j``.
    """
    S = codebooks.shape[0]
    M = codebooks.shape[1]
    K = codebooks.shape[2]
    d = codebooks.shape[3]
    B = M * d
    nb = x.shape[0] // B
    ntasks = (nb + ROWS_PER_TASK - 1) // ROWS_PER_TASK
    for task in prange(ntasks):
        r = np.empty(d, np.float64)
        lo = task * ROWS_PER_TASK
        hi = min(nb, lo + ROWS_PER_TASK)
        for b in range(lo, hi):
            for j in range(M):
                base = b * B + j * d
                for t in range(d):
                    r[t] = x[base + t]
                for s in range(S):
                    best = 0
                    best_d = np.inf
                    for k in range(K):
                        dd = 0.0
                        for t in range(d):
                            diff = r[t] - codebooks[s, j, k, t]
                            dd += diff * diff
                            if dd >= best_d:
                                break
                        if dd < best_d:
                            best_d = dd
                            best = k
                    points[(b * S + s) * M + j] = best
                    for t in range(d):
                        r[t] = r[t] - codebooks[s, j, best, t]


@njit(cache=True, parallel=True)
def decode_blocks(points, codebooks, out):
    """Reconstruction of :func:`encode_blocks`' indices: per sub-vector, the sum over
    stages (in stage order, from 0.0) of the chosen codewords. Returns the index of
    the first block holding an index outside ``[0, K)``, or -1."""
    S = codebooks.shape[0]
    M = codebooks.shape[1]
    K = codebooks.shape[2]
    d = codebooks.shape[3]
    B = M * d
    nb = out.shape[0] // B
    ntasks = (nb + ROWS_PER_TASK - 1) // ROWS_PER_TASK
    bad = np.full(ntasks, -1, np.int64)
    for task in prange(ntasks):
        lo = task * ROWS_PER_TASK
        hi = min(nb, lo + ROWS_PER_TASK)
        for b in range(lo, hi):
            for j in range(M):
                base = b * B + j * d
                for t in range(d):
                    out[base + t] = 0.0
                for s in range(S):
                    k = points[(b * S + s) * M + j]
                    if k < 0 or k >= K:
                        if bad[task] < 0:
                            bad[task] = b
                        continue
                    for t in range(d):
                        out[base + t] += codebooks[s, j, k, t]
    for task in range(ntasks):
        if bad[task] >= 0:
            return bad[task]
    return -1
