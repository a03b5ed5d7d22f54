"""`make demo`: an end-to-end run of the codec on Gaussian data against R(D).

(The PyTorch network demo replaces this once the binding lands.)
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import codec


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1 << 20, help="number of samples")
    parser.add_argument("--out", default="demo.rdc", help="compressed file to write")
    args = parser.parse_args(argv)

    x = np.random.default_rng(0).standard_normal(args.n).astype(np.float32)
    print(f"{args.n} Gaussian samples, rate targets measured on the real bytes\n")
    print(f"{'lattice':8} {'target':>6} {'bits/elt':>9} {'MSE':>10} {'R(D)':>7} {'gap':>7} {'s':>6}")
    for rate in (2.0, 4.0, 6.0):
        for lattice in ("Z", "D4", "E8"):
            t = time.perf_counter()
            blob = codec.encode(x, lattice=lattice, rate=rate, seed=1)
            y = codec.decode(blob)
            secs = time.perf_counter() - t
            bits = 8 * len(blob) / x.size
            mse = float(np.mean((y.astype(np.float64) - x) ** 2))
            rd = 0.5 * math.log2(1.0 / mse)
            print(
                f"{lattice:8} {rate:6.1f} {bits:9.4f} {mse:10.3e} {rd:7.4f} {bits - rd:7.4f} "
                f"{secs:6.2f}"
            )
    codec.save(args.out, {"gaussian": x}, lattice="E8", rate=4.0)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
