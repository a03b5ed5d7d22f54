"""An independent float64 oracle for the golden streams (issue 18, item 1).

It computes what a golden stream must decode to from the *input* and from the
bytes of docs/format.md, with code that shares nothing with the codec (no
import of ``codec``): its own SplitMix64 dither, its own header parser and a
brute-force nearest point instead of the Conway–Sloane rules. What it can
check, per quantizer:

* **lattices** (Z, D4, E8, with and without dither): the exact expected
  values. The dither is regenerated from docs/format.md §4 (SplitMix64 on
  Python integers, the basis sums in double in the documented order), reduced
  to the Voronoi cell by brute force, and each block's point is the nearest
  lattice point found by brute force over the box ``round(t) ± 1`` (the box is
  exhaustive: a point outside it is at squared distance ≥ 2.25, beyond the
  squared covering radius, 1 for D4 and E8). Exact ties (the golden input is
  on a half-integer grid) are broken by the documented rule, reimplemented
  here from the text, and the rule's choice must be one of the brute-force minimisers.
* **vector quantizers** (VQ, PQ, RVQ): the exact expected values. Codebooks
  are read from the header by this module's parser (§2, §4d) and each
  sub-vector goes to its nearest codeword by brute force, stage by stage,
  lowest index on ties (the encoder rule of §4d).
* **scalar codebooks**: levels read from the header (§4b); uniform and
  k-means cells are nearest-level, so those values are exact (either level for an
  element exactly halfway between two, where the encoder's side is not
  documented); an ECSQ's cells
  depend on code lengths the stream does not carry, so only the properties are
  checked (every value a level, cells ordered like the input).
* **TCQ**: the step is read from the header (§4c); values are checked to be
  ``step·j`` along a valid path of the documented trellis from state 0 in every
  chunk. Its entropy-constrained Viterbi depends on a Lagrangian and code
  lengths the stream does not carry, so the path itself is not predicted.

Limits: the oracle reads the quantizer's *parameters* (levels, codebooks,
step) from the stream, since they are designed from the data by an encoder
whose choices the format leaves free; it never decodes the entropy-coded
indices (they are predicted from the input, or only checked, as above).
"""

from __future__ import annotations

import functools
import itertools
import struct

import numpy as np

M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
FINITE_MAX = {
    "float16": 65504.0,
    "float32": 3.4028234663852886e38,
    "float64": 1.7976931348623157e308,
}


# ---------------------------------------------------------------------------
# docs/format.md §4: the dither generator
# ---------------------------------------------------------------------------
def mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def uniform01(seed: int, i: int) -> float:
    """``w(i)`` of docs/format.md §4: a double in [0, 1)."""
    key = mix((seed + GAMMA) & M64)
    return (mix((key + (i + 1) * GAMMA) & M64) >> 11) * 2.0**-53


def basis(name: str) -> list:
    """Rows of the generator matrix (docs/format.md §4)."""
    if name == "Z":
        return [[1.0]]
    n = 4 if name == "D4" else 8
    if name == "D4":
        rows = [[-1.0, -1.0] + [0.0] * (n - 2)]
        for i in range(1, n):
            rows.append([1.0 if j == i - 1 else -1.0 if j == i else 0.0 for j in range(n)])
        return rows
    rows = [[2.0] + [0.0] * 7]
    for i in range(1, 7):
        rows.append([1.0 if j == i else -1.0 if j == i - 1 else 0.0 for j in range(8)])
    rows.append([0.5] * 8)
    return rows


# ---------------------------------------------------------------------------
# nearest points: brute force, the documented tie rule only for exact ties
# ---------------------------------------------------------------------------
@functools.cache
def _box(n: int) -> np.ndarray:
    return np.array(list(itertools.product((-1, 0, 1), repeat=n)), np.float64)


def _members(name: str, t: np.ndarray) -> list:
    """Every lattice point in the box round(t) ± 1 (coset by coset for E8)."""
    steps = _box(t.size)
    if name == "Z":
        return list(np.floor(t + 0.5) + steps)
    cands = []
    shifts = (0.0,) if name == "D4" else (0.0, 0.5)
    for h in shifts:
        box = np.floor(t - h + 0.5) + steps  # integer vectors around t - h
        even = box[np.mod(box.sum(axis=1), 2) == 0]
        cands.extend(even + h)
    return cands


def nearest(name: str, t) -> tuple:
    """The nearest point of the unit-scale lattice to ``t`` (a tuple of floats)."""
    t = np.asarray(t, np.float64)
    cands = np.array(_members(name, t))
    d = ((cands - t) ** 2).sum(axis=1)
    best = cands[d == d.min()]
    if len(best) == 1:
        return tuple(float(v) for v in best[0])
    ruled = tuple(float(v) for v in documented_rule(name, [float(v) for v in t]))
    if ruled not in {tuple(float(v) for v in b) for b in best}:
        raise AssertionError(f"tie rule picked {ruled}, not one of the nearest {best.tolist()}")
    return ruled


def _round(v: float) -> float:
    return float(np.floor(v + 0.5))


def _d_n(t: list) -> list:
    f = [_round(v) for v in t]
    if int(sum(f)) % 2:
        k = max(range(len(t)), key=lambda j: (abs(t[j] - f[j]), -j))
        f[k] += 1.0 if t[k] >= f[k] else -1.0
    return f


def documented_rule(name: str, t: list) -> list:
    """docs/format.md §4's nearest-point rule, read from the text (used for ties only)."""
    if name == "Z":
        return [_round(t[0])]
    if name == "D4":
        return _d_n(t)
    a = _d_n(t)
    b = [v + 0.5 for v in _d_n([v - 0.5 for v in t])]
    da = sum((x - y) ** 2 for x, y in zip(t, a, strict=True))
    db = sum((x - y) ** 2 for x, y in zip(t, b, strict=True))
    return b if db < da else a


# ---------------------------------------------------------------------------
# expected reconstructions
# ---------------------------------------------------------------------------
def lattice_values(x, lattice: str, step: float, seed: int | None, dtype="float64") -> np.ndarray:
    """What a lattice stream of ``x`` must decode to (docs/format.md §3-§4)."""
    n = {"Z": 1, "D4": 4, "E8": 8}[lattice]
    rows = basis(lattice)
    flat = [float(v) for v in np.asarray(x, np.float64).reshape(-1)]
    padded = flat + [0.0] * (-len(flat) % n)
    inv = 1.0 / step
    out = []
    for b in range(len(padded) // n):
        v = [0.0] * n
        if seed is not None:
            u = []
            for j in range(n):
                s = 0.0
                for i in range(n):
                    s += (uniform01(seed, b * n + i) - 0.5) * rows[i][j]
                u.append(s)
            q = nearest(lattice, u)
            v = [u[j] - q[j] for j in range(n)]
        t = [padded[b * n + j] * inv + v[j] for j in range(n)]
        p = nearest(lattice, t)
        out.extend(step * (p[j] - v[j]) for j in range(n))
    return _cast(out[: len(flat)], dtype)


def _cast(values, dtype: str) -> np.ndarray:
    lim = FINITE_MAX[dtype]
    return np.array([min(max(v, -lim), lim) for v in values], np.float64).astype(dtype)


# ---------------------------------------------------------------------------
# docs/format.md §1-§2: just enough of the header to read a quantizer's parameters
# ---------------------------------------------------------------------------
class Header:
    """The common fields, the quantizer's fields and the extras of an array stream."""

    DTYPES = ("float16", "float32", "float64")

    def __init__(self, blob: bytes):
        if blob[:8] != b"\x89RDC\r\n\x1a\n" or blob[8] != 1:
            raise ValueError("not a version-1 rdcodec stream")
        (h,) = struct.unpack_from("<I", blob, 10)
        body = blob[14 : 14 + h]
        (j,) = struct.unpack_from("<I", body, 0)
        self.fields, self.extras, self.pos = body[4 : 4 + j], body[4 + j :], 0
        self.kind, self.dtype = self.byte(), self.DTYPES[self.byte()]
        self.shape = tuple(self.varint() for _ in range(self.varint()))
        self.chunk_elements, self.n_chunks = self.varint(), self.varint()

    def byte(self) -> int:
        self.pos += 1
        return self.fields[self.pos - 1]

    def varint(self) -> int:
        v = shift = 0
        while True:
            b = self.byte()
            v |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return v

    def f64(self) -> float:
        self.pos += 8
        return struct.unpack_from("<d", self.fields, self.pos - 8)[0]

    def table(self, count: int, code: int) -> np.ndarray:
        dt = np.dtype(("<f2", "<f4", "<f8")[code])
        if len(self.extras) != count * dt.itemsize:
            raise ValueError("extras do not hold the table the header announces")
        return np.frombuffer(self.extras, dt).astype(np.float64)


def scalar_levels(blob: bytes) -> np.ndarray:
    """The levels of a scalar-codebook stream (§4b)."""
    h = Header(blob)
    assert h.kind == 1, "not a scalar codebook stream"
    name_length = h.varint()
    h.pos += name_length  # the method name (informative)
    k = h.varint()
    return h.table(k, h.byte())


def check_nearest_level(x, values, blob: bytes) -> int:
    """Uniform / k-means streams: every element on its nearest level (§4b); where an
    element lies exactly halfway between two levels (the encoder's side is not
    documented) either one is accepted. Returns the number of such ties."""
    levels = scalar_levels(blob)
    h = Header(blob)
    flat = np.asarray(x, np.float64).reshape(-1)
    y = np.asarray(values, np.float64)
    d = (flat[:, None] - levels[None, :]) ** 2
    nearest_set = d == d.min(axis=1, keepdims=True)
    chosen = levels[None, :] == y[:, None]
    ok = (nearest_set & chosen).any(axis=1)
    assert ok.all(), f"elements {np.flatnonzero(~ok)[:5].tolist()} are not on a nearest level"
    assert np.array_equal(y, _cast(y.tolist(), h.dtype))
    return int((nearest_set.sum(axis=1) > 1).sum())


def vq_values(x, blob: bytes) -> np.ndarray:
    """VQ / PQ / RVQ: nearest codeword by brute force, stage by stage (§4d)."""
    h = Header(blob)
    assert h.kind == 3, "not a vector quantizer stream"
    d, m, s, k = (h.varint() for _ in range(4))
    cb = h.table(s * m * k * d, h.byte()).reshape(s, m, k, d)
    flat = [float(v) for v in np.asarray(x, np.float64).reshape(-1)]
    padded = flat + [0.0] * (-len(flat) % (m * d))
    out = []
    for b in range(len(padded) // (m * d)):
        for j in range(m):
            r = padded[b * m * d + j * d : b * m * d + (j + 1) * d]
            total = [0.0] * d
            for stage in range(s):
                words = cb[stage, j].tolist()
                dist = [sum((r[t] - w[t]) ** 2 for t in range(d)) for w in words]
                i = dist.index(min(dist))  # the lowest index on ties
                r = [r[t] - words[i][t] for t in range(d)]
                total = [total[t] + words[i][t] for t in range(d)]
            out.extend(total)
    return _cast(out[: len(flat)], h.dtype)


# ---------------------------------------------------------------------------
# property checks where the values cannot be predicted
# ---------------------------------------------------------------------------
def check_ecsq(x, values, blob: bytes) -> None:
    """Every value is a level of the header, and the cells keep the input's order."""
    levels = scalar_levels(blob)
    x = np.asarray(x, np.float64).reshape(-1)
    y = np.asarray(values, np.float64)
    assert np.isin(y, levels).all(), "a value that is not one of the header's levels"
    order = np.argsort(x, kind="stable")
    assert (np.diff(y[order]) >= 0).all(), "cells out of order: not a regular quantizer"


TRELLIS_MASKS = {4: (1, 2), 8: (2, 7), 16: (4, 13), 32: (3, 23), 64: (31, 41), 128: (41, 90),
                 256: (65, 215)}  # fmt: skip


def check_tcq(values, blob: bytes) -> None:
    """Values are ``step·j`` along a valid path of the documented trellis (§4c)."""
    h = Header(blob)
    assert h.kind == 2, "not a TCQ stream"
    states = 1 << h.byte()
    step = h.f64()
    h0, h1 = TRELLIS_MASKS[states]
    y = np.asarray(values, np.float64)
    j_all = y / step
    assert np.array_equal(j_all, np.round(j_all)), "a value is not on the step grid"
    for c in range(0, y.size, h.chunk_elements):
        s = 0
        for j in j_all[c : c + h.chunk_elements].astype(np.int64).tolist():
            u = bin(s & h0).count("1") % 2
            assert j % 2 == u, f"point {j} is not in the union of state {s}"
            i = (j - u) // 2
            b = (i & 1) ^ (bin(s & h1).count("1") % 2)
            s = ((s << 1) | b) % states
