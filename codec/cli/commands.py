"""The subcommands: compress, decompress, info, rd, bench (and the .npy encode/decode/inspect)."""

from __future__ import annotations

import fnmatch
import importlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from .. import __version__, api
from ..checkpoint import (
    FLOAT_DTYPES,
    MAGIC,
    CheckpointReader,
    CheckpointWriter,
    cast_to,
    float_values,
)
from . import formats
from .formats import InputError, atomic_file, atomic_files, open_source


class Failure(Exception):
    """A failed operation: one line for stderr, exit status 1."""


class UsageError(Exception):
    """Bad options (found after argparse): exit status 2."""


# ---------------------------------------------------------------------------
# shared pieces
# ---------------------------------------------------------------------------
def progress(total: int, desc: str, quiet: bool):
    """A tqdm bar over bytes on stderr; a no-op without a TTY, with --quiet or without tqdm."""
    if quiet or not sys.stderr.isatty():
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False, file=sys.stderr)


class _NoBar:
    def update(self, n):
        pass

    def set_postfix_str(self, s):
        pass

    def close(self):
        pass


def encode_options(args) -> tuple[dict, tuple | None]:
    """``codec.encode`` keywords from the command line, and the target ``(name, value)``."""
    opts: dict = {"coder": args.coder, "seed": args.seed}
    if args.quantizer is not None:
        opts["quantizer"] = args.quantizer
    if args.lattice is not None:
        if opts.get("quantizer", "lattice") != "lattice":
            raise UsageError(f"--lattice applies to the lattice quantizer, not {args.quantizer!r}")
        opts["lattice"] = args.lattice
    if args.no_dither:
        opts["dither"] = False
    if args.levels is not None:
        opts["levels"] = args.levels
    for item in args.option or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--option takes KEY=VALUE, got {item!r}")
        try:
            opts[key] = json.loads(value)
        except ValueError:
            opts[key] = value
    target = None
    for name in ("step", "rate", "distortion", "snr"):
        value = getattr(args, name)
        if value is not None:
            target = (name, value)
    if target is not None and target[0] == "snr" and not math.isfinite(target[1]):
        raise UsageError("--snr must be a finite number of dB")
    # one dry run on a small array: a bad option is a usage error, not a failed tensor
    probe = np.linspace(-1.0, 1.0, 256, dtype=np.float32)
    try:
        api.encode(probe, **opts, **target_kwargs(target, probe))
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    return opts, target


def target_kwargs(target, values) -> dict:
    """The rate-control keyword of one tensor: ``--snr`` becomes a distortion per tensor.

    .. math:: D = \\operatorname{Var}(x)\\, 10^{-\\mathrm{SNR}/10}
    """
    if target is None:
        return {}
    name, value = target
    if name != "snr":
        return {name: value}
    var = float(np.var(values, dtype=np.float64)) if values.size else 0.0
    return {"distortion": var * 10.0 ** (-value / 10.0)} if var > 0 else {}


def prune_smallest(values: np.ndarray, fraction: float) -> np.ndarray:
    """Zero the ``fraction`` of entries smallest in magnitude (per tensor)."""
    k = int(round(fraction * values.size))
    if k <= 0:
        return values
    out = np.array(values, copy=True).reshape(-1)
    out[np.argpartition(np.abs(out), k - 1)[:k]] = 0
    return out.reshape(values.shape)


def selection(entry, args) -> str | None:
    """Why a tensor is stored losslessly (``None``: it is coded)."""
    if entry.dtype not in FLOAT_DTYPES:
        return "not float"
    if args.include and not any(fnmatch.fnmatchcase(entry.name, g) for g in args.include):
        return "not included"
    if args.exclude and any(fnmatch.fnmatchcase(entry.name, g) for g in args.exclude):
        return "excluded"
    if entry.size < args.min_size:
        return "small"
    return None


def code_tensor(values, dtype: str, opts: dict, target, prune: float):
    """Quantize and code one float tensor; returns ``(blob, stats)``.

    The stats measure the reconstruction as it will be written back (rounded
    to bfloat16 for a bfloat16 tensor) against the original values.
    """
    x = prune_smallest(values, prune) if prune else values
    q = api.quantize(x, **opts, **target_kwargs(target, values))
    blob = q.to_bytes()
    recon = float_values(cast_to(q.reconstruct(), dtype), dtype)
    x64 = values.astype(np.float64)
    mse = float(np.mean((recon.astype(np.float64) - x64) ** 2)) if values.size else 0.0
    var = float(np.var(x64)) if values.size else 0.0
    info = api.inspect(blob)
    stats = {
        "bytes": len(blob),
        "bits_per_element": 8.0 * len(blob) / values.size if values.size else None,
        "mse": mse,
        "variance": var,
        "snr_db": _snr(var, mse),
        "quantizer": info.quantizer,
        "lattice": info.lattice,
        "step": info.step,
        "coder": info.coder,
    }
    if prune:
        stats["pruned"] = prune
    return blob, stats


def _snr(var: float, mse: float):
    if mse <= 0:
        return None  # lossless (JSON has no inf)
    return 10.0 * math.log10(var / mse) if var > 0 else None


def describe_quantizer(stats: dict) -> str:
    if stats.get("storage") == "raw":
        return f"lossless ({stats.get('reason', 'raw')})"
    q = stats.get("quantizer", "?")
    if stats.get("lattice"):
        q = f"{q} {stats['lattice']}"
    return f"{q}/{stats.get('coder', '?')}"


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} GB"


def _open(path: Path):
    try:
        return open_source(path)
    except (InputError, OSError) as exc:
        raise Failure(f"{path}: {_msg(exc)}") from exc


def _msg(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


# ---------------------------------------------------------------------------
# compress
# ---------------------------------------------------------------------------
def compress(args) -> int:
    if not 0.0 <= args.prune < 1.0:
        raise UsageError("--prune takes a fraction in [0, 1)")
    opts, target = encode_options(args)
    src = _open(args.input)
    with src:
        out = args.output
        header = {
            "format": src.format,
            "source": src.path.name,
            "created_by": f"rdcodec {__version__}",
            "options": {
                **{k: v for k, v in opts.items()},
                "target": list(target) if target else None,
                "prune": args.prune,
                "min_size": args.min_size,
            },
            **src.metadata,
        }
        total_in = sum(t.nbytes for t in src.tensors)
        bar = progress(total_in, "compress", args.quiet)
        try:
            with atomic_file(out, force=args.force) as f:
                w = CheckpointWriter(f, header=header)
                for entry in src.tensors:
                    bar.set_postfix_str(entry.name[-40:])
                    _compress_one(w, entry, args, opts, target, src.path)
                    bar.update(entry.nbytes)
                w.close()
        finally:
            bar.close()
        tensors = w.tensors
    total_out = out.stat().st_size
    coded = [t for t in tensors if t["storage"] == "codec"]
    line = (
        f"{args.input.name}: {len(tensors)} tensors ({len(coded)} coded, "
        f"{len(tensors) - len(coded)} lossless), {_fmt_bytes(total_in)} -> "
        f"{_fmt_bytes(total_out)} ({total_in / max(total_out, 1):.2f}x)"
    )
    snr = _aggregate_snr(coded)
    if snr is not None:
        line += f", SNR of the coded tensors {snr:.1f} dB"
    print(line)
    return 0


def _compress_one(w, entry, args, opts, target, path):
    try:
        array = entry.load()
    except (formats.CorruptStreamError, formats.TruncatedStreamError, OSError) as exc:
        raise Failure(f"{path}: {_msg(exc)}") from exc
    extra = {"shard": entry.shard} if entry.shard else None
    reason = selection(entry, args)
    if reason is None:
        values = float_values(array, entry.dtype)
        if not np.all(np.isfinite(values)):
            reason = "not finite"
    if reason is not None:
        stats = {"bytes": entry.nbytes, "reason": reason}
        w.add_raw(entry.name, array, dtype=entry.dtype, stats=stats, extra=extra)
        return
    try:
        blob, stats = code_tensor(values, entry.dtype, opts, target, args.prune)
    except (ValueError, TypeError) as exc:
        raise Failure(f"{path}: tensor {entry.name!r}: {exc}") from exc
    w.add_codec(entry.name, entry.dtype, entry.shape, blob, stats=stats, extra=extra)


def _aggregate_snr(records) -> float | None:
    """10·log10(Σ n·var / Σ n·mse) over coded tensors (their total signal over total noise)."""
    sig = noise = 0.0
    for t in records:
        n = int(np.prod(t["shape"], dtype=np.int64))
        sig += n * t["stats"].get("variance", 0.0)
        noise += n * t["stats"].get("mse", 0.0)
    return 10.0 * math.log10(sig / noise) if noise > 0 and sig > 0 else None


# ---------------------------------------------------------------------------
# decompress
# ---------------------------------------------------------------------------
def _read_checkpoint(path: Path) -> CheckpointReader:
    try:
        return CheckpointReader(path)
    except OSError as exc:
        raise Failure(f"{path}: {_msg(exc)}") from exc
    except api_errors() as exc:
        raise Failure(f"{path}: {exc}") from exc


def api_errors():
    from ..errors import CodecError

    return CodecError


def decompress(args) -> int:
    reader = _read_checkpoint(args.input)
    with reader:
        fmt = args.format or reader.header.get("format")
        if fmt not in formats.FORMATS:
            raise Failure(f"{args.input}: unknown original format {fmt!r}; give --format")
        specs = [(t["name"], t["dtype"], tuple(t["shape"])) for t in reader.tensors]
        if fmt in ("npz", "npy"):
            specs = [(n, "float32" if d == "bfloat16" else d, s) for n, d, s in specs]
            bad = [n for n, d, _ in specs if d.startswith("float8")]
            if bad:
                raise Failure(f"{args.input}: {fmt} cannot hold float8 tensor {bad[0]!r}")
        total = sum(t["length"] for t in reader.tensors)
        bar = progress(total, "decompress", args.quiet)

        def get(name):
            t = reader.record(name)
            bar.set_postfix_str(name[-40:])
            try:
                a = reader.read(name)
            except api_errors() as exc:
                raise Failure(f"{args.input}: tensor {name!r}: {exc}") from exc
            bar.update(t["length"])
            if t["dtype"] == "bfloat16" and fmt in ("npz", "npy"):
                return float_values(a, "bfloat16")
            return a

        try:
            shards = reader.header.get("shards")
            if fmt == "safetensors" and shards and _is_folder_output(args.output):
                _write_sharded(args, reader, specs, get, shards)
            else:
                with atomic_file(args.output, force=args.force) as f:
                    _write_one(fmt, f, specs, get, reader.header)
        finally:
            bar.close()
    n_bf16 = sum(t["dtype"] == "bfloat16" for t in reader.tensors)
    note = f" (bfloat16 written as float32: {fmt} has no bfloat16)" if n_bf16 and fmt in (
        "npz", "npy") else ""  # fmt: skip
    print(f"{args.output}: {len(specs)} tensors, {fmt}{note}")
    return 0


def _is_folder_output(path: Path) -> bool:
    return path.is_dir() or path.suffix == "" or str(path).endswith(("/", ".index.json"))


def _write_one(fmt, f, specs, get, header):
    if fmt == "safetensors":
        meta = header.get("safetensors_metadata")
        if meta is None and header.get("shards"):
            meta = next(iter(header["shards"]["metadata"].values()), None)
        formats.write_safetensors(f, specs, get, meta)
    elif fmt == "npz":
        formats.write_npz(f, specs, get)
    elif fmt == "npy":
        formats.write_npy(f, specs, get)
    else:
        formats.write_pt(f, specs, get, header)


def _write_sharded(args, reader, specs, get, shards):
    out = args.output
    if str(out).endswith(".index.json"):
        folder, index_name = out.parent, out.name
    else:
        folder = out
        index_name = (shards.get("index") or {}).get("name")
    folder.mkdir(parents=True, exist_ok=True)
    by_shard: dict = {}
    for spec in specs:
        by_shard.setdefault(reader.record(spec[0]).get("shard"), []).append(spec)
    paths = [folder / s for s in by_shard]
    if index_name:
        paths.append(folder / index_name)
    with atomic_files(paths, force=args.force) as open_for:
        for shard, shard_specs in by_shard.items():
            meta = shards["metadata"].get(shard)
            formats.write_safetensors(open_for(folder / shard), shard_specs, get, meta)
        if index_name:
            index = {"metadata": (shards.get("index") or {}).get("metadata", {}),
                     "weight_map": {n: reader.record(n)["shard"] for n, _, _ in specs}}  # fmt: skip
            open_for(folder / index_name).write(json.dumps(index, indent=2).encode())


# ---------------------------------------------------------------------------
# info
# ---------------------------------------------------------------------------
def info(args) -> int:
    path = args.input
    try:
        with open(path, "rb") as f:
            magic = f.read(8)
    except OSError as exc:
        raise Failure(f"{path}: {_msg(exc)}") from exc
    if magic != MAGIC:
        return _info_other(path, magic, args)
    reader = _read_checkpoint(path)
    with reader:
        rows = []
        for t in reader.tensors:
            st = dict(t["stats"])
            st["storage"] = t["storage"]
            n = int(np.prod(t["shape"], dtype=np.int64))
            orig = n * formats.DTYPE_SIZES[t["dtype"]]
            rows.append(
                {
                    "name": t["name"],
                    "dtype": t["dtype"],
                    "shape": t["shape"],
                    "storage": t["storage"],
                    "quantizer": describe_quantizer(st),
                    "bytes": t["length"],
                    "bits_per_element": 8.0 * t["length"] / n if n else None,
                    "ratio": orig / t["length"] if t["length"] else None,
                    "snr_db": st.get("snr_db") if t["storage"] == "codec" else None,
                    "mse": st.get("mse", 0.0),
                    "stats": t["stats"],
                }
            )
        size = path.stat().st_size
        orig = sum(
            int(np.prod(t["shape"], dtype=np.int64)) * formats.DTYPE_SIZES[t["dtype"]]
            for t in reader.tensors
        )
        total = {
            "tensors": len(rows),
            "coded": sum(r["storage"] == "codec" for r in rows),
            "original_bytes": orig,
            "file_bytes": size,
            "ratio": orig / size if size else None,
            "snr_db": _aggregate_snr([t for t in reader.tensors if t["storage"] == "codec"]),
        }
        header = reader.header
        version = "{}.{}".format(*reader.version)
    if args.json:
        print(json.dumps({"file": str(path), "format_version": version, "header": header,
                          "tensors": rows, "total": total}, indent=1))  # fmt: skip
        return 0
    opts = header.get("options", {})
    print(f"{path}: rdcodec checkpoint {version}, from {header.get('format')} "
          f"({header.get('source')}), {header.get('created_by')}")  # fmt: skip
    print(f"options: {json.dumps(opts, separators=(',', ':'))}")
    _print_table(
        ["name", "dtype", "shape", "quantizer", "bits/el", "ratio", "SNR dB"],
        [
            [
                r["name"],
                r["dtype"],
                "x".join(map(str, r["shape"])) or "()",
                r["quantizer"],
                _num(r["bits_per_element"], 3),
                _num(r["ratio"], 2),
                _num(r["snr_db"], 1) if r["storage"] == "codec" else "lossless",
            ]
            for r in rows
        ],
    )
    snr = total["snr_db"]
    print(
        f"total: {total['tensors']} tensors ({total['coded']} coded), "
        f"{_fmt_bytes(total['original_bytes'])} -> {_fmt_bytes(total['file_bytes'])} "
        f"({total['ratio']:.2f}x)" + (f", SNR of the coded tensors {snr:.1f} dB" if snr else "")
    )
    return 0


def _info_other(path, magic, args) -> int:
    """info on a single stream (.rdc) or an archive of codec.save."""
    from .. import archive

    data = path.read_bytes()
    try:
        if magic == archive.ARCHIVE_MAGIC:
            records, _ = archive.read_index(data)
            out = {"archive": [{"name": r["name"], **r.get("stats", {})} for r in records]}
        else:
            out = api.inspect(data).to_dict()
    except api_errors() as exc:
        raise Failure(f"{path}: {exc}") from exc
    print(json.dumps(out, indent=1, default=str))
    return 0


def _num(v, digits):
    return "-" if v is None else f"{v:.{digits}f}"


def _print_table(head, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    right = [False, False, False, False, True, True, True, True, True, True]
    for row in [head, *rows]:
        cells = [
            str(c).rjust(w) if right[i] else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=False))
        ]
        print("  ".join(cells).rstrip())


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
    theory = importlib.import_module("theory")
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
        print(json.dumps(result, indent=1, default=_json_default))
    else:
        sample = f" (a random sample of {values.size:,})" if values.size < n_all else ""
        print(f"{args.input}: tensor {entry.name!r}, {n_all:,} elements{sample}, "
              f"variance {var:.4g}" + (f", h = {h:.3f} bit" if h is not None else ""))  # fmt: skip
        print("rates: bits per element of the real bytes; reference: the Shannon lower bound "
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
        print(f"plot: {plot}" if wrote else "plot: skipped (matplotlib is not installed)")
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
    opts0, target = encode_options(args)
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
                for n, cfg in configs.items():
                    a = acc[n]
                    if a["error"]:
                        continue
                    try:
                        t0 = time.perf_counter()
                        blob = api.encode(values, **cfg, **target_kwargs(target, values))
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
        print(json.dumps({"file": str(args.input), "target": target, "results": rows}, indent=1))
        return 0
    tgt = "library default (MSE = var/256)" if target is None else f"{target[0]} {target[1]:g}"
    print(f"{args.input}: {_fmt_bytes(orig_bytes)}, {_fmt_bytes(raw_bytes)} stored losslessly; "
          f"target {tgt}; ratio counts every byte, bits/el and SNR the coded tensors")  # fmt: skip  # noqa: E501
    _print_table(
        ["config", "ratio", "bits/el", "SNR dB", "encode s", "decode s"],
        [
            [r["config"], _num(r["ratio"], 2), _num(r["bits_per_element"], 3),
             _num(r["snr_db"], 2), f"{r['encode_seconds']:.2f}", f"{r['decode_seconds']:.2f}"]
            if not r["error"] else [r["config"], "failed: " + r["error"][:70], "", "", "", ""]
            for r in rows
        ],  # fmt: skip
    )
    return 0


def _default_configs() -> list:
    from ..quantizers.base import designer_names

    return ["E8", "D4", "Z"] + [n for n in designer_names() if n != "lattice"]


# ---------------------------------------------------------------------------
# the original one-array commands (kept as they were)
# ---------------------------------------------------------------------------
def legacy_encode(args) -> int:
    x = np.load(args.input, allow_pickle=False)
    blob = api.encode(
        x,
        lattice=args.lattice,
        step=args.step,
        rate=args.rate,
        distortion=args.distortion,
        coder=args.coder,
        seed=args.seed,
        dither=not args.no_dither,
    )
    with atomic_file(args.output, force=True) as f:
        f.write(blob)
    bpe = api.inspect(blob).bits_per_element
    sys.stdout.write(f"{x.size} elements -> {len(blob)} bytes ({bpe:.4f} bits/element)\n")
    return 0


def legacy_decode(args) -> int:
    y = api.decode(args.input.read_bytes(), max_elements=args.max_elements)
    with atomic_file(args.output, force=True) as f:
        np.save(f, y)
    return 0


def legacy_inspect(args) -> int:
    info = api.inspect(args.input.read_bytes())
    sys.stdout.write(json.dumps(info.to_dict(), indent=1, default=str) + "\n")
    return 0
