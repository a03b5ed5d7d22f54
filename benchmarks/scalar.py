"""Scalar quantizer design: exact DP, Lloyd and CLG against scipy and scikit-learn k-means.

Run: ``.venv/bin/python benchmarks/scalar.py [--quick] [--markdown docs/benchmarks_scalar.md]``.

For each size ``n`` (default 10**6 and 10**7 samples, Gaussian or Laplacian)
and each number of levels ``K`` (16, 256), on the same float64 data:

* fixed-rate k-means with ``K`` levels: ``design_kmeans(method="dp")`` (exact
  optimum, binned to <= 65536 bins beyond that many distinct values),
  ``design_kmeans(method="lloyd")`` (k-means++ then Lloyd on all distinct
  values), ``scipy.cluster.vq.kmeans2`` (``minit="points"``, its default 10
  iterations; ``minit="++"`` took 343 s for n=10**6, K=256 here) and
  ``sklearn.cluster.KMeans(n_init=1)`` (its defaults otherwise). MSE, index
  entropy and wall seconds of the design.
* ECSQ at about the entropy of the K-level k-means design (λ from the
  high-rate formula λ = 1.97·σ²·4^(-H), at most 4K levels): the exact DP and
  the Chou–Lookabaugh–Gray iteration, with MSE, entropy and ``D + λR``.

The peers run in a subprocess with a time limit (``--peer-timeout``); a peer
that runs out of time is recorded with ``null`` values. Both sides are timed
warm: rdcodec's Numba kernels are compiled, and each peer imported and run
once on a small sample in its subprocess, before any timing. Results go to
``benchmarks/results/scalar.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_results  # noqa: E402

from codec.quantizers.scalar import design_ecsq, design_kmeans  # noqa: E402

NAME = "scalar"
DESCRIPTION = (
    "Scalar quantizer design on n Gaussian/Laplacian samples: MSE, index entropy "
    "(bits/element) and wall seconds for the exact DP, Lloyd, scipy kmeans2 and "
    "scikit-learn KMeans (n_init=1) with K levels; ECSQ (exact DP and CLG) at about "
    "the same entropy."
)


def make_data(dist: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dist == "gaussian":
        return rng.standard_normal(n)
    return rng.laplace(scale=1.0 / math.sqrt(2.0), size=n)  # unit variance


def entropy_bits(labels: np.ndarray) -> float:
    p = np.bincount(labels) / labels.size
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


def fit_peer(peer: str, x: np.ndarray, k: int, seed: int):
    """(centres, labels or None, iterations) of one peer's k-means on ``x``."""
    if peer == "sklearn":
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(x[:, None])
        return km.cluster_centers_[:, 0], km.labels_, int(km.n_iter_)
    from scipy.cluster.vq import kmeans2

    centers2, _ = kmeans2(x[:, None], k, minit="points", seed=seed)
    return centers2[:, 0], None, 10


def run_peer(peer: str, dist: str, n: int, seed: int, k: int) -> dict:
    """Fit one peer on regenerated data; runs in a child process.

    The peer is timed warm, the way rdcodec is (its kernels are compiled before any
    timing): its import and one fit on a small sample happen before the timer starts,
    so the seconds are the fit's, not the child's first import (about a second for
    scikit-learn).
    """
    x = make_data(dist, n, seed)
    fit_peer(peer, make_data(dist, 5000, 1), 8, seed)  # warm-up: import, first call
    t0, c0 = time.perf_counter(), time.process_time()
    centers, labels, iters = fit_peer(peer, x, k, seed)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if labels is None:  # encode with the final centres (nearest centre)
        from scipy.cluster.vq import vq

        labels, _ = vq(x[:, None], centers[:, None])
    mse = float(np.mean((x - centers[labels]) ** 2))
    return {"mse": mse, "rate": entropy_bits(np.asarray(labels)), "seconds": wall,
            "cpu_seconds": cpu, "iterations": iters}


def peer_in_subprocess(peer, dist, n, seed, k, timeout) -> dict | None:
    spec = json.dumps({"peer": peer, "dist": dist, "n": n, "seed": seed, "k": k})
    try:
        out = subprocess.run([sys.executable, __file__, "--_peer", spec], capture_output=True,
                             text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(fn, *args, **kwargs):
    t0, c0 = time.perf_counter(), time.process_time()
    cb = fn(*args, **kwargs)
    return cb, time.perf_counter() - t0, time.process_time() - c0


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10**6, 10**7])
    p.add_argument("--levels", type=int, nargs="+", default=[16, 256])
    p.add_argument("--dist", choices=["gaussian", "laplace"], default="gaussian")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--peers", nargs="*", default=["scipy", "sklearn"],
                   choices=["scipy", "sklearn"])
    p.add_argument("--peer-timeout", type=float, default=300.0)
    p.add_argument("--quick", action="store_true", help="sizes 10**5 and 10**6")
    p.add_argument("--markdown", type=Path, help="also write the table to this file")
    p.add_argument("--no-write", action="store_true", help="do not write the JSON file")
    p.add_argument("--_peer", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._peer:
        spec = json.loads(args._peer)
        print(json.dumps(run_peer(spec["peer"], spec["dist"], spec["n"], spec["seed"],
                                  spec["k"])))
        return {}
    sizes = [10**5, 10**6] if args.quick else args.sizes

    # compile every kernel before timing anything
    warm = make_data(args.dist, 5000, 1)
    for m in ("dp", "lloyd"):
        design_kmeans(warm, 8, method=m)
    for m in ("dp", "clg"):
        design_ecsq(warm, lam=0.01, method=m, max_levels=64)

    cols = ("n", "levels", "family", "method", "mse", "rate", "objective", "lam", "seconds",
            "cpu_seconds", "iterations")
    res: dict[str, list] = {c: [] for c in cols}

    def add(**row):
        for c in cols:
            res[c].append(row.get(c))
        shown = {c: row.get(c) for c in ("n", "levels", "method", "mse", "rate", "seconds")}
        print(json.dumps(shown), flush=True)

    load0 = os.getloadavg()
    t_start = time.perf_counter()
    for n in sizes:
        x = make_data(args.dist, n, args.seed)
        var = float(np.var(x))
        for k in args.levels:
            ref = None
            for method in ("dp", "lloyd"):
                cb, wall, cpu = timed(design_kmeans, x, k, method=method, seed=args.seed)
                ref = cb if method == "dp" else ref
                add(n=n, levels=k, family="kmeans", method=f"rdcodec {method}",
                    mse=cb.distortion, rate=cb.rate, seconds=wall, cpu_seconds=cpu,
                    iterations=cb.n_iter)
            for peer in args.peers:
                r = peer_in_subprocess(peer, args.dist, n, args.seed, k, args.peer_timeout)
                name = "scipy kmeans2" if peer == "scipy" else "sklearn KMeans"
                if r is None:
                    add(n=n, levels=k, family="kmeans", method=name,
                        seconds=f">{args.peer_timeout:g}")
                else:
                    add(n=n, levels=k, family="kmeans", method=name, **r)
            lam = 1.97 * var * 4.0 ** (-ref.rate)
            for method in ("dp", "clg"):
                cb, wall, cpu = timed(design_ecsq, x, lam=lam, method=method,
                                      max_levels=4 * k)
                add(n=n, levels=k, family="ecsq", method=f"rdcodec ecsq-{method}",
                    mse=cb.distortion, rate=cb.rate, objective=cb.objective, lam=lam,
                    seconds=wall, cpu_seconds=cpu, iterations=cb.n_iter)
    total = time.perf_counter() - t_start
    res["meta"] = {  # type: ignore[assignment]
        "dist": args.dist, "seed": args.seed, "total_seconds": total, "peers_timed_warm": True,
        "loadavg_at_start": list(load0), "loadavg_at_end": list(os.getloadavg()),
        "command": "benchmarks/scalar.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    if not args.no_write:
        path = write_results(NAME, DESCRIPTION, res)
        print(f"wrote {path}")
    table = markdown_table(res)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return res


def _fmt(v, spec):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    return format(v, spec)


def markdown_table(res: dict) -> str:
    lines = [
        "| n | K | method | MSE | entropy (bit) | D + λR | seconds (wall) | CPU s | iters |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for i in range(len(res["n"])):
        lines.append(
            f"| {res['n'][i]:.0e} | {res['levels'][i]} | {res['method'][i]} | "
            f"{_fmt(res['mse'][i], '.5g')} | {_fmt(res['rate'][i], '.4f')} | "
            f"{_fmt(res['objective'][i], '.5g')} | {_fmt(res['seconds'][i], '.2f')} | "
            f"{_fmt(res['cpu_seconds'][i], '.2f')} | {_fmt(res['iterations'][i], 'd')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
