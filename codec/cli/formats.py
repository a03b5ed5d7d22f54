"""Checkpoint files in and out: .npy, .npz, .safetensors (single or sharded), .pt/.pth.

Readers list a file's tensors (name, dtype, shape, in file order) and load
each one on demand, so a command holds about one tensor at a time. Tensors
are held in their *memory form* (:func:`codec.checkpoint.bits_dtype`):
numpy's dtype, or the unsigned-integer bits for ``bfloat16`` and float8.
Writers take the same names, dtypes and shapes and a function that gives
each array, and write a file the original's loader reads.

safetensors files are parsed and written here (the format is a u64 header
length, a JSON header and the raw bytes: docs/cli.md), which keeps bfloat16
and the original order of tensors; the ``safetensors`` package is what the
tests load the results with. torch is imported only to read or write .pt
files, with ``torch.load(weights_only=True)``: nothing is unpickled but
tensors and plain containers.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..checkpoint import DTYPE_SIZES, bits_dtype
from ..errors import CorruptStreamError, TruncatedStreamError

FORMATS = ("safetensors", "pt", "npz", "npy")
SUFFIXES = {".safetensors": "safetensors", ".pt": "pt", ".pth": "pt", ".bin": "pt",
            ".npz": "npz", ".npy": "npy"}  # fmt: skip

# safetensors dtype codes <-> checkpoint dtype names
_ST_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8",
    "U64": "uint64", "U32": "uint32", "U16": "uint16", "U8": "uint8", "BOOL": "bool",
    "C64": "complex64",
}  # fmt: skip
_ST_CODES = {v: k for k, v in _ST_DTYPES.items()}
MAX_ST_HEADER = 100 << 20


def emit(text: str) -> None:
    """Write one line of the command's output to standard output (its report, not a log)."""
    sys.stdout.write(text + "\n")


class InputError(Exception):
    """A file that cannot be read as what it claims to be (exit status 1)."""


@dataclass
class TensorEntry:
    """One tensor of a source file, loaded on demand."""

    name: str
    dtype: str
    shape: tuple
    load: Callable[[], np.ndarray]
    shard: str | None = None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * DTYPE_SIZES[self.dtype]


@dataclass
class Source:
    """An opened input: its format, tensors in file order, and format metadata."""

    format: str
    path: Path
    tensors: list
    metadata: dict = field(default_factory=dict)
    _closers: list = field(default_factory=list)

    def close(self) -> None:
        for c in self._closers:
            c()
        self._closers.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def detect_format(path: Path) -> str:
    """The format of an input path from its suffix (a folder or ``*.index.json``: sharded)."""
    if path.is_dir() or path.name.endswith(".index.json"):
        return "safetensors"
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"unknown input type {path.suffix or '(no suffix)'!r}; "
            "expected .safetensors, .pt/.pth, .npz, .npy, a *.index.json or a folder"
        )
    return fmt


def open_source(path) -> Source:
    """Open a checkpoint file for reading (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder")
    fmt = detect_format(path)
    if fmt == "safetensors":
        if path.is_dir() or path.name.endswith(".index.json"):
            return _open_sharded(path)
        src = Source("safetensors", path, [])
        f = open(path, "rb")  # noqa: SIM115 (closed by Source.close)
        src._closers.append(f.close)
        src.tensors, src.metadata = _read_safetensors_header(f, path.name)
        return src
    if fmt == "npz":
        return _open_npz(path)
    if fmt == "npy":
        return _open_npy(path)
    return _open_pt(path)


# ---------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------
def _read_safetensors_header(f, shard: str | None):
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(0)
    if size < 8:
        raise TruncatedStreamError("safetensors file ends inside its 8-byte header length")
    (n,) = struct.unpack("<Q", f.read(8))
    if n > MAX_ST_HEADER:
        raise CorruptStreamError(f"invalid safetensors header length {n}")
    if 8 + n > size:
        raise TruncatedStreamError("safetensors file ends inside its JSON header")
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CorruptStreamError("safetensors header is not valid JSON") from None
    if not isinstance(header, dict):
        raise CorruptStreamError("safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    base, data_bytes = 8 + n, size - 8 - n
    entries = []
    for name, spec in header.items():
        try:
            dtype = _ST_DTYPES[spec["dtype"]]
            shape = tuple(int(s) for s in spec["shape"])
            begin, end = (int(v) for v in spec["data_offsets"])
        except KeyError as exc:
            if isinstance(spec, dict) and exc.args == (spec.get("dtype"),):
                raise InputError(f"tensor {name!r}: unsupported dtype {spec['dtype']}") from None
            raise CorruptStreamError(f"safetensors entry {name!r} is invalid") from None
        except (TypeError, ValueError):
            raise CorruptStreamError(f"safetensors entry {name!r} is invalid") from None
        want = int(np.prod(shape, dtype=np.int64)) * DTYPE_SIZES[dtype]
        if min(shape, default=0) < 0 or begin < 0 or end - begin != want:
            raise CorruptStreamError(f"safetensors entry {name!r}: offsets do not match its shape")
        if end > data_bytes:
            raise TruncatedStreamError(f"safetensors file ends inside tensor {name!r}")
        entries.append((begin, name, dtype, shape, base + begin, want))
    entries.sort()

    def loader(offset, nbytes, dtype, shape):
        def load():
            f.seek(offset)
            data = f.read(nbytes)
            if len(data) != nbytes:
                raise TruncatedStreamError("safetensors file ends inside a tensor")
            dt = bits_dtype(dtype).newbyteorder("<")
            return np.frombuffer(data, dt).astype(dt.newbyteorder("=")).reshape(shape)

        return load

    tensors = [
        TensorEntry(name, dtype, shape, loader(off, nb, dtype, shape), shard)
        for _, name, dtype, shape, off, nb in entries
    ]
    return tensors, {"safetensors_metadata": metadata}


def _open_sharded(path: Path) -> Source:
    if path.is_dir():
        indexes = sorted(path.glob("*.safetensors.index.json"))
        if len(indexes) > 1:
            raise InputError(f"several *.index.json files in the folder: {indexes[0].name}, ...")
        folder = path
        index_path = indexes[0] if indexes else None
    else:
        folder, index_path = path.parent, path
    index_meta = None
    if index_path is not None:
        try:
            index = json.loads(index_path.read_text())
            weight_map = index["weight_map"]
            shards = list(dict.fromkeys(weight_map[k] for k in weight_map))
            index_meta = {"name": index_path.name, "metadata": index.get("metadata", {})}
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            raise InputError(f"{index_path.name} is not a safetensors index") from None
        shards = sorted(shards)
    else:
        shards = sorted(p.name for p in folder.glob("*.safetensors"))
        if not shards:
            raise InputError("the folder holds no .safetensors files")
    src = Source("safetensors", path, [])
    per_shard_meta = {}
    for shard in shards:
        p = folder / shard
        if not p.is_file():
            raise InputError(f"shard {shard} is missing")
        f = open(p, "rb")  # noqa: SIM115 (closed by Source.close)
        src._closers.append(f.close)
        try:
            tensors, meta = _read_safetensors_header(f, shard)
        except (CorruptStreamError, TruncatedStreamError) as exc:
            raise type(exc)(f"shard {shard}: {exc}") from None
        src.tensors.extend(tensors)
        per_shard_meta[shard] = meta["safetensors_metadata"]
    names = [t.name for t in src.tensors]
    if len(set(names)) != len(names):
        raise InputError("a tensor name appears in more than one shard")
    src.metadata = {"shards": {"index": index_meta, "metadata": per_shard_meta}}
    return src


def write_safetensors(f, specs, get, metadata: dict | None = None) -> None:
    """Write a .safetensors file: header in the given order, then each array.

    ``specs`` is a list of ``(name, dtype, shape)``; ``get(name)`` returns the
    array in memory form (called once per tensor, in order).
    """
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, dtype, shape in specs:
        if dtype not in _ST_CODES:
            raise ValueError(f"tensor {name!r}: safetensors cannot hold {dtype}")
        nbytes = int(np.prod(shape, dtype=np.int64)) * DTYPE_SIZES[dtype]
        header[name] = {"dtype": _ST_CODES[dtype], "shape": list(shape),
                        "data_offsets": [offset, offset + nbytes]}  # fmt: skip
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    f.write(struct.pack("<Q", len(blob)))
    f.write(blob)
    for name, dtype, _shape in specs:
        a = np.ascontiguousarray(get(name), dtype=bits_dtype(dtype).newbyteorder("<"))
        f.write(memoryview(a.reshape(-1)).cast("B"))


# ---------------------------------------------------------------------------
# numpy
# ---------------------------------------------------------------------------
def _numpy_dtype_name(dt: np.dtype, name: str) -> str:
    if dt.name not in DTYPE_SIZES or dt.name in ("bfloat16",):
        raise InputError(f"array {name!r}: unsupported dtype {dt}")
    return dt.name


def _open_npz(path: Path) -> Source:
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise CorruptStreamError(f"not a readable .npz ({exc})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise InputError("not an .npz archive")
    src = Source("npz", path, [], _closers=[npz.close])
    for key in npz.files:
        try:
            with npz.zip.open(key + ".npy") as fh:
                version = np.lib.format.read_magic(fh)
                read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                        else np.lib.format.read_array_header_2_0)  # fmt: skip
                shape, _, dt = read(fh)
        except (ValueError, OSError, zipfile.BadZipFile, KeyError) as exc:
            raise CorruptStreamError(f"member {key!r} is not a readable array ({exc})") from None
        src.tensors.append(
            TensorEntry(key, _numpy_dtype_name(dt, key), tuple(shape), _npz_loader(npz, key))
        )
    return src


def _npz_loader(npz, key):
    def load():
        try:
            return np.asarray(npz[key])
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise CorruptStreamError(f"member {key!r} is corrupt ({exc})") from None

    return load


def _open_npy(path: Path) -> Source:
    try:
        a = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CorruptStreamError(f"not a readable .npy ({exc})") from None
    if not isinstance(a, np.ndarray):
        raise InputError("not an .npy array")
    name = path.stem
    dtype = _numpy_dtype_name(a.dtype, name)
    return Source("npy", path, [TensorEntry(name, dtype, a.shape, lambda: np.array(a))])


def write_npz(path, specs, get) -> None:
    """Write an .npz member by member (one array in memory at a time)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, _dtype, _shape in specs:
            a = np.asarray(get(name))
            with zf.open(name + ".npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, a, allow_pickle=False)


def write_npy(f, specs, get) -> None:
    if len(specs) != 1:
        raise ValueError(f"an .npy file holds one array, not {len(specs)}; use --format npz")
    np.lib.format.write_array(f, np.asarray(get(specs[0][0])), allow_pickle=False)


# ---------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------
def _torch():
    # The codec library never imports torch; the command's .pt reader and writer
    # load it lazily, when a .pt file is asked for (docs/architecture.md).
    try:
        import torch
    except ImportError:
        raise InputError("reading or writing .pt files needs PyTorch (the torch extra)") from None
    return torch


def _torch_dtype_names(torch) -> dict:
    names = {}
    for name in DTYPE_SIZES:
        dt = getattr(torch, name, None)
        if isinstance(dt, torch.dtype):
            names[dt] = name
    return names


def _open_pt(path: Path) -> Source:
    torch = _torch()
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a bad file
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptStreamError(f"torch.load(weights_only=True) failed: {msg}") from None
    wrapper, extras = None, {}
    if isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        nested = [k for k, v in obj.items() if isinstance(v, dict)]
        if len(nested) == 1:
            wrapper = nested[0]
            extras = {k: v for k, v in obj.items() if k != wrapper}
            obj = obj[wrapper]
    if not isinstance(obj, dict):
        raise InputError(f"expected a state_dict (a dict of tensors), found {type(obj).__name__}")
    names = _torch_dtype_names(torch)
    src = Source("pt", path, [])
    for key, v in obj.items():
        if not isinstance(v, torch.Tensor):
            extras.setdefault("__state_dict__", {})[key] = v
            continue
        if v.layout != torch.strided or v.is_quantized or v.dtype not in names:
            raise InputError(f"tensor {key!r}: unsupported tensor type {v.dtype}/{v.layout}")
        src.tensors.append(TensorEntry(str(key), names[v.dtype], tuple(v.shape), _pt_loader(v)))
    try:
        json.dumps(extras)
    except (TypeError, ValueError):
        raise InputError("the .pt file holds entries that are neither tensors nor plain "
                         "numbers/strings; only state_dicts are supported") from None  # fmt: skip
    src.metadata = {"pt_wrapper": wrapper, "pt_extras": extras}
    return src


def _pt_loader(t):
    def load():
        torch = _torch()
        t2 = t.detach().contiguous()
        if t2.dtype == torch.bfloat16:
            return t2.view(torch.int16).numpy().view(np.uint16).copy()
        if t2.dtype in (getattr(torch, "float8_e4m3fn", None), getattr(torch, "float8_e5m2", None)):
            return t2.view(torch.uint8).numpy().copy()
        return t2.numpy().copy()

    return load


def write_pt(f, specs, get, metadata: dict | None = None) -> None:
    """``torch.save`` a state_dict (all tensors in memory at once: torch.save needs them)."""
    torch = _torch()
    state = {}
    for name, dtype, _shape in specs:
        a = np.array(get(name), order="C", copy=True)  # keeps 0-d tensors 0-d
        if dtype == "bfloat16":
            t = torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
        elif dtype.startswith("float8"):
            t = torch.from_numpy(a).view(getattr(torch, dtype))
        else:
            t = torch.from_numpy(a)
        state[name] = t
    meta = metadata or {}
    extras = dict(meta.get("pt_extras") or {})
    state.update(extras.pop("__state_dict__", {}))
    wrapper = meta.get("pt_wrapper")
    obj = {wrapper: state, **extras} if wrapper else state
    torch.save(obj, f)


# ---------------------------------------------------------------------------
# safe output: temporary files renamed into place
# ---------------------------------------------------------------------------
class OutputExists(Exception):
    """The output exists and --force was not given."""


@contextlib.contextmanager
def atomic_file(path: Path, *, force: bool) -> Iterator:
    """Open a temporary file beside ``path``; rename it to ``path`` only on success.

    An exception (KeyboardInterrupt included) removes the temporary file, so
    ``path`` is either untouched or complete.
    """
    path = Path(path)
    if path.exists() and not force:
        raise OutputExists(f"{path} exists (use --force to overwrite it)")
    if path.is_dir():
        raise OutputExists(f"{path} is a folder")
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_files(paths: list, *, force: bool) -> Iterator:
    """Several outputs at once (a sharded checkpoint): all renamed at the end, or none.

    Yields a function ``open_for(path)`` giving a writable binary file for each path.
    """
    paths = [Path(p) for p in paths]
    for p in paths:
        if p.exists() and not force:
            raise OutputExists(f"{p} exists (use --force to overwrite it)")
    temps: dict[Path, str] = {}
    handles = []

    def open_for(p):
        p = Path(p)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
        temps[p] = tmp
        f = os.fdopen(fd, "wb")
        handles.append(f)
        return f

    try:
        yield open_for
        for f in handles:
            f.flush()
            os.fsync(f.fileno())
            f.close()
        for p, tmp in temps.items():
            os.replace(tmp, p)
    except BaseException:
        for f in handles:
            with contextlib.suppress(OSError):
                f.close()
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
