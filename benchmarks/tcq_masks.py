"""Search the TCQ trellis masks (h0, h1) by granular gain.

``python benchmarks/tcq_masks.py [nu_max] [log2_samples]`` evaluates every mask
pair with bit ν−1 clear in h0 and set in h1 (the structure the encoder relies
on) for ν = 2 .. nu_max, by ``G = MSE/(2·step)²`` of a plain Viterbi search on a
fine uniform input, and prints the best five per ν beside the format's masks.
Exhaustive, so only practical up to ν ≈ 5; not run in CI.
"""

import sys

import numpy as np

from codec._kernels import trellis as K
from codec.quantizers.tcq import TRELLIS_MASKS


def granular_g(nu, h0, h1, x, step=1.0):
    z = np.zeros(2, np.int64)
    zf = np.zeros(2)
    pts = np.empty(x.size, np.int64)
    K.quantize_chunks(x, np.zeros(0), step, nu, h0, h1, z, z, z, np.zeros(0), zf, zf, x.size, pts)
    return float(np.mean((x - step * pts) ** 2) / (2 * step) ** 2)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    nu_max = int(argv[0]) if argv else 4
    n = 1 << (int(argv[1]) if len(argv) > 1 else 15)
    x = np.random.default_rng(0).uniform(-1000, 1000, n)
    out = {}
    for nu in range(2, nu_max + 1):
        S = 1 << nu
        top = 1 << (nu - 1)
        scores = []
        for h0 in range(1, top):
            for h1 in range(top, S):
                scores.append((granular_g(nu, h0, h1, x), h0, h1))
        scores.sort()
        fmt = TRELLIS_MASKS[S]
        print(
            f"S={S:3d} format {fmt} G={granular_g(nu, *fmt, x):.5f}  best:",
            ", ".join(f"({a},{b}) {g:.5f}" for g, a, b in scores[:5]),
            flush=True,
        )
        out[S] = scores[:5]
    return out


if __name__ == "__main__":
    main()
