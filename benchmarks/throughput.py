"""Encode/decode throughput of codec.encode on 2**24 float32 elements, against peers.

Run: ``make bench`` or ``.venv/bin/python benchmarks/throughput.py [--log2n 24]``.
For Z, D4 and E8 at 4 bit/element (step found once by rate control, untimed),
reports MB/s of float32 input for encode and decode, as ratios against
``np.copyto`` of the same array and against zstandard level 3 on its raw bytes,
measured in the same run, plus bits per element and MSE.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_time, write_results  # noqa: E402

import codec  # noqa: E402


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--log2n", type=int, default=24)
    p.add_argument("--rate", type=float, default=4.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    args = p.parse_args(argv)
    import zstandard

    x = np.random.default_rng(0).standard_normal(1 << args.log2n).astype(np.float32)
    mb = x.nbytes / 1e6
    dst = np.empty_like(x)
    copy_s = best_time(lambda: np.copyto(dst, x), args.repeats)
    raw = x.tobytes()
    cctx, dctx = zstandard.ZstdCompressor(level=3), zstandard.ZstdDecompressor()
    zblob = cctx.compress(raw)
    zc_s = best_time(lambda: cctx.compress(raw), args.repeats)
    zd_s = best_time(lambda: dctx.decompress(zblob), args.repeats)
    import numba

    results = {
        "n_elements": int(x.size),
        "numba_threads": numba.get_num_threads(),
        "copyto_MBps": mb / copy_s,
        "zstd3": {
            "encode_MBps": mb / zc_s,
            "decode_MBps": mb / zd_s,
            "bits_per_element": 8 * len(zblob) / x.size,
        },
        "codec": {},
    }
    for lattice in ("Z", "D4", "E8"):
        probe = codec.encode(x, lattice=lattice, rate=args.rate, seed=1)
        step = codec.inspect(probe).step
        blob = codec.encode(x, lattice=lattice, step=step, seed=1)
        enc_s = best_time(
            lambda lat=lattice, s=step: codec.encode(x, lattice=lat, step=s, seed=1), args.repeats
        )
        dec_s = best_time(lambda b=blob: codec.decode(b), args.repeats)
        y = codec.decode(blob)
        results["codec"][lattice] = {
            "step": step,
            "bits_per_element": 8 * len(blob) / x.size,
            "mse": float(np.mean((y.astype(np.float64) - x) ** 2)),
            "encode_MBps": mb / enc_s,
            "decode_MBps": mb / dec_s,
            "encode_vs_zstd3": zc_s / enc_s,
            "decode_vs_zstd3": zd_s / dec_s,
            "encode_vs_copyto": copy_s / enc_s,
            "decode_vs_copyto": copy_s / dec_s,
        }
    path = write_results(
        "throughput",
        f"codec.encode/decode of 2**{args.log2n} float32 N(0,1) at {args.rate} bit/element "
        "vs np.copyto and zstandard level 3 (same run)",
        results,
    )
    print(
        f"{'':10} {'bits/elt':>9} {'MSE':>10} {'enc MB/s':>9} {'dec MB/s':>9} "
        f"{'enc/zstd3':>9} {'dec/zstd3':>9}"
    )
    z = results["zstd3"]
    print(
        f"{'zstd-3':10} {z['bits_per_element']:9.3f} {0:10.3e} {z['encode_MBps']:9.1f} "
        f"{z['decode_MBps']:9.1f} {1:9.3f} {1:9.3f}"
    )
    for k, r in results["codec"].items():
        print(
            f"{k:10} {r['bits_per_element']:9.3f} {r['mse']:10.3e} {r['encode_MBps']:9.1f} "
            f"{r['decode_MBps']:9.1f} {r['encode_vs_zstd3']:9.3f} {r['decode_vs_zstd3']:9.3f}"
        )
    print(f"np.copyto: {results['copyto_MBps']:.0f} MB/s; written {path}")
    if args.markdown:
        args.markdown.write_text(markdown_table(results, args) + "\n")
    return results


def markdown_table(results: dict, args) -> str:
    """The results as the Markdown table of docs/benchmarks.md."""
    z = results["zstd3"]
    lines = [
        f"2**{args.log2n} float32 N(0,1) elements at {args.rate} bit/element, numba threads: "
        f"{results.get('numba_threads', '')}; np.copyto ran at {results['copyto_MBps']:.0f} MB/s, "
        f"zstd-3 at {z['encode_MBps']:.1f} MB/s encode / {z['decode_MBps']:.1f} MB/s decode "
        f"({z['bits_per_element']:.2f} bits/element).",
        "",
        "| lattice | bits/element | MSE | encode MB/s | decode MB/s | encode / zstd-3 "
        "| decode / zstd-3 | encode / copyto | decode / copyto |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k, r in results["codec"].items():
        lines.append(
            f"| {k} | {r['bits_per_element']:.4f} | {r['mse']:.3e} | {r['encode_MBps']:.1f} "
            f"| {r['decode_MBps']:.1f} | {r['encode_vs_zstd3']:.3f} | {r['decode_vs_zstd3']:.3f} "
            f"| {r['encode_vs_copyto']:.4f} | {r['decode_vs_copyto']:.4f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
