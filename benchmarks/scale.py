"""Scaling measurements (issue 16): per-core throughput, streaming memory, Dask workers,
rate targets from a sample, and the projection for a 70B-parameter checkpoint.

Run (the full measurement, on a quiet machine; about 10 minutes on 2 cores):
``.venv/bin/python benchmarks/scale.py --markdown docs/scaling.md``.
``--quick`` runs tiny sizes (a smoke test); ``--from-json`` only regenerates
the docs block from benchmarks/results/scale.json.

Parts (``--parts``):

* ``throughput`` — M elements/s of :func:`codec.encode` / :func:`codec.decode` on
  one core (``numba.set_num_threads(1)``), float32 Gaussian input, per quantizer.
* ``rss`` — in a fresh process: a ``2^log2n``-element float32 ``np.memmap``
  (2^28: 1 GiB) encoded by :class:`codec.Encoder` and decoded by
  :class:`codec.Decoder` into another memmap; peak resident memory (VmHWM,
  reset after the kernels are compiled) above the baseline. Target: 300 MB.
* ``dask`` — :func:`codec.dask.encode` / ``decode`` on a ``distributed.LocalCluster``
  of 1 and then 2 worker processes (1 thread each, Numba limited to 1 thread):
  throughput and the 1 → 2 worker ratio.
* ``rate`` — :func:`codec.dask.choose_step` on 4 of the chunks, then the rate of
  the whole store, for a stationary and a non-stationary array.
* ``projection`` — from the measured per-core E8 throughput and the measured
  worker efficiency: time and network volume for 70e9 bf16 parameters.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, best_time, replace_block, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BLOCK = "scale"

QUANTIZERS = {
    "E8 step=0.2": {"lattice": "E8", "step": 0.2},
    "D4 step=0.2": {"lattice": "D4", "step": 0.2},
    "Z step=0.25": {"lattice": "Z", "step": 0.25},
    "Z step=0.25, Huffman": {"lattice": "Z", "step": 0.25, "coder": "huffman"},
    "uniform step=0.25": {"quantizer": "uniform", "step": 0.25},
    "ECSQ lam=0.05 (CLG)": {"quantizer": "ecsq", "lam": 0.05, "method": "clg"},
    "k-means 16 (Lloyd)": {"quantizer": "kmeans", "levels": 16, "method": "lloyd"},
    "TCQ-8 step=0.1": {"quantizer": "tcq", "step": 0.1},
}

# ---------------------------------------------------------------------------
# per-core throughput
# ---------------------------------------------------------------------------


def throughput(log2n: int, names, repeats: int) -> dict:
    import numba

    import codec

    numba.set_num_threads(1)
    x = np.random.default_rng(0).standard_normal(1 << log2n, dtype=np.float32)
    out = {}
    for name in names:
        opts = QUANTIZERS[name]
        blob = codec.encode(x, **opts)
        enc = best_time(lambda o=opts: codec.encode(x, **o), repeats)
        dec = best_time(lambda b=blob: codec.decode(b), repeats)
        out[name] = {
            "options": opts,
            "encode_M_per_s": x.size / enc / 1e6,
            "decode_M_per_s": x.size / dec / 1e6,
            "bits_per_element": 8 * len(blob) / x.size,
        }
        print(f"  {name:<24} enc {x.size / enc / 1e6:7.2f} M/s  dec {x.size / dec / 1e6:7.2f} M/s")
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return {"n": x.size, "threads": 1, "quantizers": out}


# ---------------------------------------------------------------------------
# streaming memory, in a fresh process
# ---------------------------------------------------------------------------

_RSS_CHILD = r"""
import json, os, sys, time
import numpy as np
import codec

def status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024

log2n, opts, d = int(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
n = 1 << log2n
rng = np.random.default_rng(0)
with open(f"{d}/x.f32", "wb") as f:  # written, not mapped: the input is not resident
    for a in range(0, n, 1 << 22):
        f.write(rng.standard_normal(min(1 << 22, n - a), dtype=np.float32).tobytes())
small = rng.standard_normal(1 << 20, dtype=np.float32)  # compile the kernels first
with codec.Encoder(f"{d}/s.rdc", design=small, **opts) as enc:
    enc.write(small)
codec.Decoder(f"{d}/s.rdc").read_into(small)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # VmHWM := VmRSS
base = status_mb("VmRSS")
x = np.memmap(f"{d}/x.f32", np.float32, "r", shape=(n,))
t = time.perf_counter()
with codec.Encoder(f"{d}/x.rdc", design=x, **opts) as enc:
    enc.write(x)
t_enc = time.perf_counter() - t
peak_enc = status_mb("VmHWM")
y = np.memmap(f"{d}/y.f32", np.float32, "w+", shape=(n,))
t = time.perf_counter()
codec.Decoder(f"{d}/x.rdc").read_into(y)
t_dec = time.perf_counter() - t
peak = status_mb("VmHWM")
err = 0.0  # checked after the peak is read, group by group, pages handed back
for a in range(0, n, 1 << 22):
    err = max(err, float(np.abs(y[a:a + (1 << 22)] - x[a:a + (1 << 22)]).max()))
    codec.pages.release_pages(y[a:a + (1 << 22)]); codec.pages.release_pages(x[a:a + (1 << 22)])
print(json.dumps({"baseline_MB": base, "peak_above_MB": peak - base,
                  "encode_peak_above_MB": peak_enc - base, "encode_s": t_enc, "decode_s": t_dec,
                  "bits_per_element": 8 * os.path.getsize(f"{d}/x.rdc") / n,
                  "max_abs_error": err}))
"""


def rss_round_trip(log2n: int, opts: dict) -> dict:
    with tempfile.TemporaryDirectory(dir=os.environ.get("SCALE_TMP")) as d:
        out = subprocess.run(
            [sys.executable, "-c", _RSS_CHILD, str(log2n), json.dumps(opts), d],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r.update(n=1 << log2n, log2n=log2n, options=opts, target_MB=300)
    r["met"] = r["peak_above_MB"] <= 300
    print(f"  2^{log2n} memmap: peak {r['peak_above_MB']:.0f} MB above the baseline")
    return r


# ---------------------------------------------------------------------------
# Dask: 1 vs 2 workers
# ---------------------------------------------------------------------------


def _dask_run(n_workers: int, log2n: int, log2chunk: int, opts: dict, repeats: int) -> dict:
    import distributed

    import codec.dask

    with (
        distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env={"NUMBA_NUM_THREADS": "1"},
        ) as cluster,
        distributed.Client(cluster),
        tempfile.TemporaryDirectory(dir=os.environ.get("SCALE_TMP")) as d,
    ):
        import dask.array as da

        x = da.random.default_rng(1).standard_normal(
            1 << log2n, chunks=1 << log2chunk, dtype=np.float32
        )
        x = x.persist()  # generated on the workers, before the clock starts
        distributed.wait(x)
        runs = iter(range(10**6))

        def encode():
            codec.dask.encode(x, f"{d}/{next(runs)}.zarr", **opts)

        t_enc = best_time(encode, repeats)
        path = f"{d}/0.zarr"
        t_dec = best_time(lambda: codec.dask.decode(path).sum().compute(), repeats)
    n = 1 << log2n
    return {"encode_M_per_s": n / t_enc / 1e6, "decode_M_per_s": n / t_dec / 1e6}


def dask_workers(log2n: int, log2chunk: int, repeats: int) -> dict:
    opts = {"lattice": "E8", "step": 0.2}
    one = _dask_run(1, log2n, log2chunk, opts, repeats)
    two = _dask_run(2, log2n, log2chunk, opts, repeats)
    r = {
        "n": 1 << log2n,
        "chunk": 1 << log2chunk,
        "options": opts,
        "workers_1": one,
        "workers_2": two,
        "encode_speedup": two["encode_M_per_s"] / one["encode_M_per_s"],
        "decode_speedup": two["decode_M_per_s"] / one["decode_M_per_s"],
    }
    print(f"  1 -> 2 workers: encode x{r['encode_speedup']:.2f}, decode x{r['decode_speedup']:.2f}")
    return r


# ---------------------------------------------------------------------------
# rate target from a sample of chunks
# ---------------------------------------------------------------------------


def _store_bits(path: Path, n: int) -> float:
    chunks = [p for p in path.rglob("*") if p.is_file() and p.name != "zarr.json"]
    return 8 * sum(p.stat().st_size for p in chunks) / n


def rate_landing(log2n: int, log2chunk: int, rates) -> dict:
    import dask
    import dask.array as da

    import codec.dask

    n_chunks = 1 << (log2n - log2chunk)
    # a checkpoint-like array: each chunk its own scale (a decade apart end to end) and
    # shape (Gaussian and Laplacian alternate), so 4 sampled chunks are not the array
    scales = da.from_array(np.logspace(-1, 0, n_chunks), chunks=1)
    rng = da.random.default_rng(2)
    gauss = rng.standard_normal(1 << log2n, chunks=1 << log2chunk, dtype=np.float32)
    laplace = rng.laplace(size=1 << log2n, chunks=1 << log2chunk).astype(np.float32)
    parity = da.from_array(np.arange(n_chunks) % 2, chunks=1)
    rep = 1 << log2chunk
    mixed = (da.where(da.repeat(parity, rep) == 1, laplace, gauss) * da.repeat(scales, rep)).astype(
        np.float32
    )
    arrays = {"Gaussian, stationary": gauss, "scaled Gaussian/Laplacian chunks": mixed}
    out = {}
    with (
        dask.config.set(scheduler="threads"),
        tempfile.TemporaryDirectory() as d,
        warnings.catch_warnings(),
    ):
        # the smallest chunks of the scaled array meet steps near their spread (a warning
        # per chunk that the MSE nears the variance): expected here, not news
        warnings.simplefilter("ignore", UserWarning)
        for name, x in arrays.items():
            x = x.persist()
            rows = []
            for rate in rates:
                path = Path(d) / f"{len(out)}-{rate}.zarr"
                t = time.perf_counter()
                step = codec.dask.choose_step(x, rate, lattice="E8")
                t_choose = time.perf_counter() - t
                codec.dask.encode(x, str(path), step=step, lattice="E8")
                got = _store_bits(path, x.size)
                rows.append({"target": rate, "step": step, "bits": got, "choose_s": t_choose})
                print(f"  {name}: target {rate} -> {got:.4f} bits/element")
            out[name] = rows
    return {
        "n": 1 << log2n,
        "chunk": 1 << log2chunk,
        "sample_chunks": codec.dask.DEFAULT_SAMPLE_CHUNKS,
        "arrays": out,
    }


# ---------------------------------------------------------------------------
# projection: 70e9 bf16 parameters
# ---------------------------------------------------------------------------

PROJECTION = {
    "parameters": 70e9,
    "bytes_in": 140e9,  # bf16
    "cores_per_machine": 32,
    "machines": [1, 8, 64],
    "nic_GB_per_s": 1.25,  # 10 Gbit/s per machine
    "quantizer": "E8 step=0.2",
    "chunk_elements": 1 << 22,  # a 16 MiB float32 Zarr chunk: one Dask task each
    "task_overhead_s": 1e-3,  # Dask's documented scheduler cost per task
}


def projection(per_core: dict, speedup: float | None) -> dict:
    """Time and network volume, from measured numbers and the stated assumptions."""
    p = dict(PROJECTION)
    q = per_core["quantizers"][p["quantizer"]]
    # parallel efficiency per added worker, from the 1 -> 2 worker measurement, applied to
    # all cores of all machines (an assumption: memory bandwidth and the store keep up)
    eff = min(speedup / 2, 1.0) if speedup else 1.0
    bits = q["bits_per_element"]
    bytes_out = p["parameters"] * bits / 8
    tasks = math.ceil(p["parameters"] / p["chunk_elements"])
    # one scheduler hands out every task, whatever the number of machines
    scheduler_s = tasks * p["task_overhead_s"]
    rows = []
    for m in p["machines"]:
        cores = m * p["cores_per_machine"]
        enc_s = p["parameters"] / (q["encode_M_per_s"] * 1e6 * cores * eff)
        dec_s = p["parameters"] / (q["decode_M_per_s"] * 1e6 * cores * eff)
        # every machine reads its share of the checkpoint from, and writes its chunks to,
        # shared storage; one machine with local disks moves nothing over the network
        net_total = 0.0 if m == 1 else p["bytes_in"] + bytes_out
        net_s = net_total / m / (p["nic_GB_per_s"] * 1e9)
        rows.append(
            {
                "machines": m,
                "cores": cores,
                "encode_compute_s": enc_s,
                "decode_compute_s": dec_s,
                "network_GB_total": net_total / 1e9,
                "network_GB_per_machine": net_total / m / 1e9,
                "network_s": net_s,
                "scheduler_s": 0.0 if m == 1 else scheduler_s,
                "encode_s": max(enc_s, net_s, 0.0 if m == 1 else scheduler_s),
            }
        )
    p.update(
        tasks=tasks,
        bits_per_element=bits,
        bytes_out=bytes_out,
        efficiency=eff,
        encode_M_per_s_per_core=q["encode_M_per_s"],
        decode_M_per_s_per_core=q["decode_M_per_s"],
        rows=rows,
    )
    return p


# ---------------------------------------------------------------------------
# docs block
# ---------------------------------------------------------------------------


def _duration(s: float) -> str:
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.1f} s"


def markdown(doc: dict) -> str:
    res, env = doc["results"], doc["environment"]
    lines = [
        f"Measured by `benchmarks/scale.py` ({res['mode']}), {res['date']}, on "
        f"{env['cpus']} CPUs, load average {res['load_before']:.1f} before and "
        f"{res['load_after']:.1f} after (a loaded machine inflates every time below).",
        "",
    ]
    if "throughput" in res:
        t = res["throughput"]
        lines += [
            f"**Per core** (1 thread, 2^{int(math.log2(t['n']))} float32 Gaussian values):",
            "",
            "| quantizer | bits/element | encode M/s | decode M/s |",
            "|---|---|---|---|",
        ]
        order = [n for n in QUANTIZERS if n in t["quantizers"]]
        for name in order + sorted(set(t["quantizers"]) - set(order)):
            q = t["quantizers"][name]
            lines.append(
                f"| {name} | {q['bits_per_element']:.2f} | {q['encode_M_per_s']:.2f} | "
                f"{q['decode_M_per_s']:.2f} |"
            )
        lines.append("")
    if "rss" in res:
        r = res["rss"]
        lines += [
            f"**Streaming** a 2^{r['log2n']} float32 `np.memmap` ({r['n'] * 4 / 2**30:.2f} GiB, "
            f"E8 step={r['options']['step']}, {r['bits_per_element']:.2f} bits/element) "
            f"through `codec.Encoder` and `codec.Decoder` into another memmap: peak RSS "
            f"**{r['peak_above_MB']:.0f} MB** above the baseline "
            f"(encode {r['encode_peak_above_MB']:.0f} MB; target ≤ {r['target_MB']} MB: "
            f"{'met' if r['met'] else 'NOT met'}); encode {r['encode_s']:.1f} s, "
            f"decode {r['decode_s']:.1f} s; max |error| {r['max_abs_error']:.3f}.",
            "",
        ]
    if "dask" in res:
        d = res["dask"]
        lines += [
            f"**Dask** `LocalCluster`, worker processes of 1 thread, 2^{int(math.log2(d['n']))} "
            f"elements in chunks of 2^{int(math.log2(d['chunk']))}, E8 step=0.2:",
            "",
            "| workers | encode M/s | decode M/s |",
            "|---|---|---|",
            f"| 1 | {d['workers_1']['encode_M_per_s']:.2f} | "
            f"{d['workers_1']['decode_M_per_s']:.2f} |",
            f"| 2 | {d['workers_2']['encode_M_per_s']:.2f} | "
            f"{d['workers_2']['decode_M_per_s']:.2f} |",
            f"| speedup | ×{d['encode_speedup']:.2f} | ×{d['decode_speedup']:.2f} |",
            "",
        ]
    if "rate" in res:
        r = res["rate"]
        lines += [
            f"**Rate target for a whole array** (`codec.dask.choose_step` on "
            f"{r['sample_chunks']} chunks of 2^{int(math.log2(r['chunk']))} = "
            f"{r['sample_chunks'] * r['chunk']:,} elements, evenly spaced; array of "
            f"2^{int(math.log2(r['n']))} elements; E8):",
            "",
            "| array | target bits | store bits | off by | choose s |",
            "|---|---|---|---|---|",
        ]
        for name, rows in r["arrays"].items():
            for row in rows:
                lines.append(
                    f"| {name} | {row['target']:.1f} | {row['bits']:.4f} | "
                    f"{row['bits'] - row['target']:+.4f} | {row['choose_s']:.1f} |"
                )
        lines.append("")
    if "projection" in res:
        p = res["projection"]
        lines += [
            f"**Projection: {p['parameters'] / 1e9:.0f}e9 bf16 parameters "
            f"({p['bytes_in'] / 1e9:.0f} GB)**, {p['quantizer']} "
            f"({p['bits_per_element']:.2f} bits/element → {p['bytes_out'] / 1e9:.1f} GB), "
            f"{p['cores_per_machine']} cores per machine:",
            "",
            "| machines | cores | encode compute | decode compute | network total | "
            "per machine | network time | scheduler | encode time |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in p["rows"]:
            lines.append(
                f"| {row['machines']} | {row['cores']} | {_duration(row['encode_compute_s'])} | "
                f"{_duration(row['decode_compute_s'])} | {row['network_GB_total']:.0f} GB | "
                f"{row['network_GB_per_machine']:.1f} GB | {_duration(row['network_s'])} | "
                f"{_duration(row['scheduler_s'])} | {_duration(row['encode_s'])} |"
            )
        lines += [
            "",
            f"Assumptions: {p['encode_M_per_s_per_core']:.2f} M/s encode and "
            f"{p['decode_M_per_s_per_core']:.2f} M/s decode per core (the table above); "
            f"every core at the measured 1 → 2 worker efficiency "
            f"({p['efficiency']:.2f} per worker); bf16 cast to float32 exactly before "
            f"coding (rdcodec codes float16/32/64); one machine reads and writes local "
            f"disks (no network); several machines read their share of the checkpoint from "
            f"shared storage and write their chunks back ({p['nic_GB_per_s']} GB/s, "
            f"10 Gbit/s, per machine; the storage keeps up); on a cluster, one Dask "
            f"scheduler hands out {p['tasks']:,} tasks (chunks of "
            f"2^{int(math.log2(p['chunk_elements']))} elements) at "
            f"{p['task_overhead_s'] * 1e3:.0f} ms each; encode time = the largest of "
            f"compute, network and scheduler; the rate search's sample (4 chunks) is "
            f"negligible. Decoding moves the same bytes the other way.",
        ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--parts", default="throughput,rss,dask,rate,projection")
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the script runs")
    p.add_argument("--markdown", type=Path, help="rewrite the scale block of this file")
    p.add_argument("--from-json", action="store_true", help="only regenerate --markdown")
    p.add_argument("--no-json", action="store_true", help="do not write results/scale.json")
    p.add_argument("--log2n-rss", type=int, default=28)
    args = p.parse_args(argv)
    if args.from_json:
        path = RESULTS / "scale.json"
        doc = json.loads(path.read_text())
        res = doc["results"]
        if "throughput" in res:  # a derivation, not a measurement: redone from the numbers
            speedup = res.get("dask", {}).get("encode_speedup")
            res["projection"] = projection(res["throughput"], speedup)
            if not args.no_json:
                path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        if args.markdown:
            replace_block(args.markdown, markdown(doc), BLOCK)
        return doc["results"]
    parts = set(args.parts.split(","))
    q = args.quick
    res = {
        "mode": "--quick" if q else "full",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": os.getloadavg()[0],
    }
    if "throughput" in parts or "projection" in parts:
        print("per-core throughput")
        names = ["E8 step=0.2", "Z step=0.25"] if q else list(QUANTIZERS)
        res["throughput"] = throughput(16 if q else 22, names, 1 if q else 3)
    if "rss" in parts:
        print("streaming memory")
        res["rss"] = rss_round_trip(20 if q else args.log2n_rss, {"lattice": "E8", "step": 0.2})
    if "dask" in parts:
        print("dask workers")
        res["dask"] = dask_workers(18 if q else 25, 15 if q else 21, 1 if q else 2)
    if "rate" in parts:
        print("rate target from a sample")
        res["rate"] = rate_landing(18 if q else 24, 14 if q else 20, [3.0] if q else [2.0, 4.0])
    if "projection" in parts:
        speedup = res.get("dask", {}).get("encode_speedup")
        if speedup is None and (RESULTS / "scale.json").exists():
            old = json.loads((RESULTS / "scale.json").read_text())["results"]
            speedup = old.get("dask", {}).get("encode_speedup")
        res["projection"] = projection(res["throughput"], speedup)
    res["load_after"] = os.getloadavg()[0]
    description = "per-core throughput, streaming memory, Dask workers, rate from a sample"
    if not args.no_json:
        write_results("scale", description, res)
    from common import environment

    doc = {"name": "scale", "description": description, "environment": environment()}
    doc["results"] = res
    if args.markdown:
        replace_block(args.markdown, markdown(doc), BLOCK)
    return res


if __name__ == "__main__":
    main()
