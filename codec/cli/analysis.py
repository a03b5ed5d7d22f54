"""The analysis subcommands: ``rd`` (a tensor against rate–distortion theory) and ``bench``."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from .. import api
from ..checkpoint import FLOAT_DTYPES, float_values
from .commands import (
    Failure,
    UsageError,
    _fmt_bytes,
    _num,
    _open,
    _print_table,
    encode_options,
    progress,
    selection,
    target_kwargs,
)
from .formats import atomic_file, emit

# ---------------------------------------------------------------------------
# rd: a tensor's rate–distortion curve against theory
# ---------------------------------------------------------------------------
CONFIG_HELP = "E8, D4, Z (lattices) or a quantizer name (uniform, ecsq, kmeans, ...)"


def config_from_name(name: str) -> dict:
    from ..quantizers.base import designer_names

    upper = name.upper()
    if upper in ("Z", "CUBIC", "E8") or (upper.startswith("D") and upper[1:].isdigit()):
        return {"lattice": upper}
    if name.lower() in designer_names():
        return {"quantizer": name.lower()}
    raise UsageError(f"unknown configuration {name!r}: use {CONFIG_HELP}")


def _pick_tensor(src, name, path):
    floats = [t for t in src.tensors if t.dtype in FLOAT_DTYPES and t.size > 1]
    if name is not None:
        found = [t for t in src.tensors if t.name == name]
        if not found:
            raise Failure(f"{path}: no tensor named {name!r}")
        if found[0] not in floats:
            raise Failure(f"{path}: tensor {name!r} is not a float tensor")
        return found[0]
    if not floats:
        raise Failure(f"{path}: no float tensor")
    return max(floats, key=lambda t: t.size)


def rd(args) -> int:
    # theory is an application-level dependency of this one command (same distribution):
    # the codec library itself never imports it (docs/architecture.md).
    import theory

    rates = _floats(args.rates, "--rates")
    configs = {n: config_from_name(n) for n in args.configs.split(",") if n}
    src = _open(args.input)
    with src:
        entry = _pick_tensor(src, args.tensor, args.input)
        values = float_values(entry.load(), entry.dtype).reshape(-1)
    n_all = values.size
    if args.sample and n_all > args.sample:
        idx = np.sort(np.random.default_rng(0).choice(n_all, args.sample, replace=False))
        values = values[idx]
    values = values.astype(np.float32, copy=False)
    try:
        records = theory.rd_sweep(values, configs, rates, seed=args.seed)
    except (ValueError, TypeError) as exc:
        raise Failure(f"{args.input}: tensor {entry.name!r}: {exc}") from exc
    x64 = values.astype(np.float64)
    var = float(np.var(x64))
    try:
        h = float(theory.differential_entropy_estimate(x64))
    except ValueError:
        h = None  # an atom (e.g. pruned zeros): no Shannon lower bound
    for r in records:
        r["gaussian_rate"] = float(theory.gaussian_rate_distortion(r["mse"], var)) if var else None
    result = {
        "file": str(args.input),
        "tensor": entry.name,
        "elements": n_all,
        "sampled": int(values.size),
        "variance": var,
        "differential_entropy_bits": h,
        "records": records,
    }
    if args.json:
        emit(json.dumps(result, indent=1, default=_json_default))
    else:
        sample = f" (a random sample of {values.size:,})" if values.size < n_all else ""
        emit(f"{args.input}: tensor {entry.name!r}, {n_all:,} elements{sample}, "
              f"variance {var:.4g}" + (f", h = {h:.3f} bit" if h is not None else ""))  # fmt: skip
        emit("rates: bits per element of the real bytes; reference: the Shannon lower bound "
              "of the data at the measured MSE; Gaussian: R(D) of a Gaussian of that variance")  # fmt: skip  # noqa: E501
        _print_table(
            ["config", "target", "bits/el", "SNR dB", "reference", "gap bits", "Gaussian", "s"],
            [
                [
                    r["name"],
                    _num(r["target_rate"], 2),
                    _num(r["bits_per_element"], 3),
                    _num(r["snr_db"], 2),
                    _num(_finite(r["reference_rate"]), 3),
                    _num(_finite(r["gap_bits"]), 3),
                    _num(r["gaussian_rate"], 3),
                    _num(r["seconds"], 2),
                ]
                for r in records
            ],
        )
    if not args.no_plot:
        plot = args.plot or Path(f"{args.input.name.split('.')[0]}.rd.png")
        wrote = _rd_plot(plot, result, args.force)
        emit(f"plot: {plot}" if wrote else "plot: skipped (matplotlib is not installed)")
    return 0


def _finite(v):
    return v if v is not None and math.isfinite(v) else None


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    return str(o)


def _floats(text: str, what: str) -> list:
    try:
        vals = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{what} takes comma-separated numbers, got {text!r}") from None
    if not vals or any(v <= 0 for v in vals):
        raise UsageError(f"{what} takes positive numbers")
    return vals


def _rd_plot(path: Path, result: dict, force: bool) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    records, var, h = result["records"], result["variance"], result["differential_entropy_bits"]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name in dict.fromkeys(r["name"] for r in records):
        pts = sorted((r["bits_per_element"], r["snr_db"]) for r in records if r["name"] == name)
        ax.plot(*zip(*pts, strict=True), "o-", label=name)
    top = max(r["bits_per_element"] for r in records) * 1.05
    rr = np.linspace(0.0, top, 100)
    ax.plot(rr, 20 * np.log10(2) * rr, "k--", lw=1, label="Gaussian R(D) (same variance)")
    if h is not None and var > 0:
        # SLB: R = h - ½log2(2πeD)  ⇒  D = 2^(2(h-R)) / (2πe)
        d = 2.0 ** (2 * (h - rr)) / (2 * math.pi * math.e)
        ax.plot(rr, 10 * np.log10(var / d), "k:", lw=1, label="Shannon lower bound")
    ax.set_xlabel("bits per element")
    ax.set_ylabel("SNR (dB)")
    ax.set_title(f"{result['tensor']}"[-60:], fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_file(path, force=force) as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------
# bench: the quantizers side by side on one file
# ---------------------------------------------------------------------------
def bench(args) -> int:
    settings = encode_options(args)
    opts0, target = settings.opts, settings.target
    names = args.configs.split(",") if args.configs else _default_configs()
    configs = {}
    for n in names:
        cfg = {**opts0, **config_from_name(n)}
        if "quantizer" in cfg and cfg["quantizer"] != "lattice":
            cfg.pop("lattice", None)
            cfg.pop("dither", None)
        configs[n] = cfg
    acc = {n: {"bytes": 0, "sig": 0.0, "noise": 0.0, "enc": 0.0, "dec": 0.0, "n": 0,
               "error": None} for n in configs}  # fmt: skip
    raw_bytes = orig_bytes = 0
    src = _open(args.input)
    with src:
        bar = progress(sum(t.nbytes for t in src.tensors), "bench", args.quiet)
        try:
            for entry in src.tensors:
                orig_bytes += entry.nbytes
                bar.set_postfix_str(entry.name[-40:])
                if selection(entry, args) is not None:
                    raw_bytes += entry.nbytes
                    bar.update(entry.nbytes)
                    continue
                values = float_values(entry.load(), entry.dtype)
                var = float(np.var(values, dtype=np.float64))
                opts_t, target_t = settings.for_tensor(entry.name)
                changed = {k: v for k, v in opts_t.items() if opts0.get(k) != v}
                for n, cfg in configs.items():
                    a = acc[n]
                    if a["error"]:
                        continue
                    try:
                        t0 = time.perf_counter()
                        kw = {**cfg, **changed, **target_kwargs(target_t, values)}
                        blob = api.encode(values, **kw)
                        t1 = time.perf_counter()
                        y = api.decode(blob, max_elements=None)
                        t2 = time.perf_counter()
                    except (ValueError, TypeError) as exc:
                        a["error"] = f"{entry.name}: {exc}"
                        continue
                    err = y.astype(np.float64) - values.astype(np.float64)
                    a["bytes"] += len(blob)
                    a["sig"] += var * values.size
                    a["noise"] += float(np.sum(err * err))
                    a["enc"] += t1 - t0
                    a["dec"] += t2 - t1
                    a["n"] += values.size
                bar.update(entry.nbytes)
        finally:
            bar.close()
    rows = []
    for n, a in acc.items():
        total = a["bytes"] + raw_bytes
        rows.append(
            {
                "config": n,
                "options": configs[n],
                "error": a["error"],
                "coded_elements": a["n"],
                "bytes": total,
                "ratio": orig_bytes / total if total and not a["error"] else None,
                "bits_per_element": 8.0 * a["bytes"] / a["n"] if a["n"] else None,
                "snr_db": 10 * math.log10(a["sig"] / a["noise"]) if a["noise"] > 0 else None,
                "encode_seconds": a["enc"],
                "decode_seconds": a["dec"],
            }
        )
    if args.json:
        emit(json.dumps({"file": str(args.input), "target": target, "results": rows}, indent=1))
        return 0
    tgt = "library default (MSE = var/256)" if target is None else f"{target[0]} {target[1]:g}"
    emit(f"{args.input}: {_fmt_bytes(orig_bytes)}, {_fmt_bytes(raw_bytes)} stored losslessly; "
          f"target {tgt}; ratio counts every byte, bits/el and SNR the coded tensors")  # fmt: skip  # noqa: E501
    _print_table(
        ["config", "ratio", "bits/el", "SNR dB", "encode s", "decode s"],
        [
            [
                r["config"],
                _num(r["ratio"], 2),
                _num(r["bits_per_element"], 3),
                _num(r["snr_db"], 2),
                f"{r['encode_seconds']:.2f}",
                f"{r['decode_seconds']:.2f}",
            ]
            if not r["error"]
            else [r["config"], "failed: " + r["error"][:70], "", "", "", ""]
            for r in rows
        ],  # fmt: skip
    )
    return 0


def _default_configs() -> list:
    from ..quantizers.base import designer_names

    return ["E8", "D4", "Z"] + [n for n in designer_names() if n != "lattice"]
