"""Encode/decode speed of TCQ (elements per second) on Gaussian data.

``python benchmarks/tcq_speed.py [log2_n] [states,...]`` prints one line per state
count: encode (tcq_quantize, default passes and sampling), streams (points ->
streams) and decode (streams -> points) in M elements/s with the current
numba thread count. Not run in CI.
"""

import sys
import time

import numba
import numpy as np

from codec.quantizers.tcq import tcq_from_streams, tcq_quantize, tcq_to_streams


def best_of(repeat, fn, *args):
    """``(seconds of the fastest of repeat calls, result)`` of ``fn(*args)``."""
    best = np.inf
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    n = 1 << (int(argv[0]) if argv else 22)
    states_list = [int(s) for s in argv[1].split(",")] if len(argv) > 1 else [8, 256]
    x = np.random.default_rng(0).normal(size=n)
    step = 2 ** (0.5 * np.log2(2 * np.pi * np.e) - 4.0) / 2  # about 4 bit/element
    results = {}
    for states in states_list:
        tcq_quantize(x[:5000], step, states)  # compile
        t_enc, pts = best_of(2, tcq_quantize, x, step, states)
        t_str, (s, o) = best_of(3, tcq_to_streams, pts, states)
        t_dec, back = best_of(3, tcq_from_streams, s, o, states, n)
        assert np.array_equal(back, pts)
        results[states] = (n / t_enc / 1e6, n / t_str / 1e6, n / t_dec / 1e6)
        print(
            f"states {states:3d}  n 2^{n.bit_length() - 1}  threads {numba.get_num_threads()}  "
            f"encode {results[states][0]:7.2f} M/s  to_streams {results[states][1]:7.1f} M/s  "
            f"decode {results[states][2]:7.1f} M/s",
            flush=True,
        )
    return results


if __name__ == "__main__":
    main()
