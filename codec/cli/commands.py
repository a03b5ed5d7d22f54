"""The subcommands: compress, decompress, info, rd, bench (and the .npy encode/decode/inspect)."""

from __future__ import annotations

import fnmatch
import json
import math
import sys
import warnings
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
from .formats import InputError, atomic_file, atomic_files, emit, open_source


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


TARGETS = ("step", "rate", "distortion", "snr")


class Settings:
    """The codec options of every tensor: the global ones, then ``--set GLOB:KEY=VALUE``.

    ``for_tensor(name)`` gives ``(encode keywords, target)``; a ``--set`` of a
    target key (step, rate, distortion, snr) replaces the target, any other key
    is a ``codec.encode`` option; later ``--set`` win.
    """

    def __init__(self, opts: dict, target, overrides: list):
        self.opts, self.target, self.overrides = opts, target, overrides

    def for_tensor(self, name: str):
        opts, target = dict(self.opts), self.target
        for glob, key, value in self.overrides:
            if fnmatch.fnmatchcase(name, glob):
                if key in TARGETS:
                    target = (key, value)
                else:
                    opts[key] = value
        return opts, target

    def describe(self) -> dict:
        return {**self.opts, "target": list(self.target) if self.target else None,
                "set": [f"{g}:{k}={v}" for g, k, v in self.overrides]}  # fmt: skip


def _parse_value(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value


def encode_options(args) -> Settings:
    """The codec options of the command line, each combination checked once (a dry run)."""
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
        opts[key] = _parse_value(value)
    target = None
    for name in TARGETS:
        value = getattr(args, name)
        if value is not None:
            target = (name, value)
    overrides = []
    for item in getattr(args, "set", None) or ():
        glob, sep, rest = item.rpartition(":")
        key, sep2, value = rest.partition("=")
        if not sep or not sep2 or not glob or not key:
            raise UsageError(f"--set takes GLOB:KEY=VALUE, got {item!r}")
        value = _parse_value(value)
        if key in TARGETS and not isinstance(value, int | float):
            raise UsageError(f"--set {item!r}: {key} takes a number")
        overrides.append((glob, key, value))
    settings = Settings(opts, target, overrides)
    # one dry run per combination on a small array: a bad option is a usage error,
    # not a failed tensor halfway through a file
    probe = np.linspace(-1.0, 1.0, 256, dtype=np.float32)
    combos = [(opts, target)] + [settings.for_tensor(g) for g, _, _ in overrides]
    for o, t in combos:
        if t is not None and t[0] == "snr" and not math.isfinite(t[1]):
            raise UsageError("snr must be a finite number of dB")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. a rate a tiny probe cannot reach
                api.encode(probe, **o, **target_kwargs(t, probe))
        except (ValueError, TypeError) as exc:
            raise UsageError(str(exc)) from None
    return settings


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
        "design": opts.get("quantizer") or "lattice",
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
    q = stats.get("design") or stats.get("quantizer", "?")
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
    settings = encode_options(args)
    src = _open(args.input)
    with src:
        out = args.output
        header = {
            "format": src.format,
            "source": src.path.name,
            "created_by": f"rdcodec {__version__}",
            "options": {
                **settings.describe(),
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
                    _compress_one(w, entry, args, settings, src.path)
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
    emit(line)
    return 0


def _compress_one(w, entry, args, settings, path):
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
    opts, target = settings.for_tensor(entry.name)
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
        suffix_fmt = formats.SUFFIXES.get(args.output.suffix.lower())
        if suffix_fmt == "pt" and args.output.suffix.lower() == ".bin":
            suffix_fmt = None  # .bin says nothing
        fmt = args.format or suffix_fmt or reader.header.get("format")
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
    emit(f"{args.output}: {len(specs)} tensors, {fmt}{note}")
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
        emit(json.dumps({"file": str(path), "format_version": version, "header": header,
                          "tensors": rows, "total": total}, indent=1))  # fmt: skip
        return 0
    opts = header.get("options", {})
    emit(f"{path}: rdcodec checkpoint {version}, from {header.get('format')} "
          f"({header.get('source')}), {header.get('created_by')}")  # fmt: skip
    emit(f"options: {json.dumps(opts, separators=(',', ':'))}")
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
    emit(
        f"total: {total['tensors']} tensors ({total['coded']} coded), "
        f"{_fmt_bytes(total['original_bytes'])} -> {_fmt_bytes(total['file_bytes'])} "
        f"({total['ratio']:.2f}x)" + (f", SNR of the coded tensors {snr:.1f} dB" if snr else "")
    )
    return 0


def _info_other(path, magic, args) -> int:
    """info on a single stream (.rdc) or an archive of codec.save."""
    from .. import archive, container

    if magic not in (archive.ARCHIVE_MAGIC, container.MAGIC):
        raise Failure(f"{path}: not a file written by rdcodec (compress, encode or codec.save)")
    data = path.read_bytes()
    try:
        if magic == archive.ARCHIVE_MAGIC:
            records, _ = archive.read_index(data)
            out = {"archive": [{"name": r["name"], **r.get("stats", {})} for r in records]}
        else:
            out = api.inspect(data).to_dict()
    except api_errors() as exc:
        raise Failure(f"{path}: {exc}") from exc
    emit(json.dumps(out, indent=1, default=str))
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
        emit("  ".join(cells).rstrip())


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
