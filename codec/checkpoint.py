"""Checkpoint files: named tensors of any dtype, coded or stored losslessly, one at a time.

What ``rdcodec compress`` writes (docs/format.md §8). Unlike an archive
(:func:`codec.save`, §7), a checkpoint keeps what a model file needs to be
written back where it came from: every tensor's original dtype (``bfloat16``
and integer buffers included), shape and position; lossless records for
tensors that are not coded; the source format and its metadata; per-tensor
stats. Records are written as they are produced and the index comes last,
so memory stays about one tensor::

    head    magic 89 52 44 4B 0D 0A 1A 0A ("\\x89RDK\\r\\n\\x1a\\n"), u8 major 1,
            u8 minor 0, u32 L, L bytes of UTF-8 JSON header, u32 CRC-32
    records back to back: a codec stream (§1) or raw little-endian bytes (C order)
    index   magic 89 52 44 49 0D 0A 1A 0A ("\\x89RDI\\r\\n\\x1a\\n"), u8 1, u8 0,
            u32 L, L bytes of UTF-8 JSON index, u32 CRC-32
    tail    u64 offset of the index magic from the start of the file, then the
            8 magic bytes of the head again

Examples
--------
>>> import io, numpy as np, codec
>>> buf = io.BytesIO()
>>> w = CheckpointWriter(buf, header={"format": "npz"})
>>> w.add_raw("ids", np.arange(4, dtype=np.int32))
>>> w.add_codec("w", "float32", (8,), codec.encode(np.ones(8, np.float32), step=0.1))
>>> w.close()
>>> r = CheckpointReader(io.BytesIO(buf.getvalue()))
>>> [t["name"] for t in r.tensors], r.read("ids").tolist()
(['ids', 'w'], [0, 1, 2, 3])
"""

from __future__ import annotations

import json
import os
import struct
import zlib

import numpy as np

from .api import decode
from .errors import CorruptStreamError, TruncatedStreamError, UnsupportedFormatError
from .framing import HEAD_BYTES, U32, pack_head, read_head

MAGIC = b"\x89RDK\r\n\x1a\n"
INDEX_MAGIC = b"\x89RDI\r\n\x1a\n"
MAJOR, MINOR = 1, 0
TAIL = struct.Struct("<Q8s")
MAX_HEADER = 1 << 28

#: dtype names a checkpoint stores, with their item size in bytes. The numpy
#: ones are numpy's names; ``bfloat16`` and the float8s have no numpy dtype and
#: are held in memory as the unsigned integers of their bits (:func:`bits_dtype`).
DTYPE_SIZES = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
    "int64": 8,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint64": 8,
    "uint32": 4,
    "uint16": 2,
    "uint8": 1,
    "bool": 1,
    "complex64": 8,
    "complex128": 16,
}
#: dtypes the codec quantizes (the others are always stored losslessly).
FLOAT_DTYPES = ("float64", "float32", "float16", "bfloat16")


def bits_dtype(name: str) -> np.dtype:
    """The numpy dtype that holds a stored dtype in memory (``bfloat16`` → ``uint16``).

    Examples
    --------
    >>> bits_dtype("bfloat16"), bits_dtype("float32")
    (dtype('uint16'), dtype('float32'))
    """
    if name not in DTYPE_SIZES:
        raise ValueError(f"unsupported dtype {name!r}; supported: {', '.join(DTYPE_SIZES)}")
    if name == "bfloat16":
        return np.dtype(np.uint16)
    if name.startswith("float8"):
        return np.dtype(np.uint8)
    return np.dtype(name)


def bfloat16_to_float32(bits) -> np.ndarray:
    """Widen bfloat16 bit patterns (uint16) to float32, exactly.

    Examples
    --------
    >>> bfloat16_to_float32(np.array([0x3F80, 0xC000], np.uint16)).tolist()
    [1.0, -2.0]
    """
    bits = np.asarray(bits, dtype=np.uint16)
    return (bits.astype(np.uint32) << 16).view(np.float32)


def float32_to_bfloat16(x) -> np.ndarray:
    """Round float32 to the nearest bfloat16 (ties to even); returns the uint16 bits.

    NaN stays NaN (quiet); values beyond the bfloat16 range round to ±Inf as
    in IEEE arithmetic.

    Examples
    --------
    >>> float32_to_bfloat16(np.array([1.0, 1.00390625, -2.0], np.float32)).tolist()
    [16256, 16256, 49152]
    """
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = u + (np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1)))
    out = (rounded >> np.uint32(16)).astype(np.uint16)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    if nan.any():
        out[nan] = ((u[nan] >> np.uint32(16)) | np.uint32(0x40)).astype(np.uint16)
    return out


def float_values(array, dtype: str) -> np.ndarray:
    """The values of a float tensor held as :func:`bits_dtype` in a dtype the codec takes."""
    return bfloat16_to_float32(array) if dtype == "bfloat16" else np.asarray(array)


def cast_to(values, dtype: str) -> np.ndarray:
    """Decoded values in a stored dtype's memory form (``bfloat16`` → rounded uint16 bits)."""
    if dtype == "bfloat16":
        return float32_to_bfloat16(values)
    return np.asarray(values).astype(bits_dtype(dtype), copy=False)


class CheckpointWriter:
    """Write a checkpoint record by record to a binary file object.

    Parameters
    ----------
    f : binary file object
        Written sequentially from its current position (which must be 0).
    header : dict
        JSON-serialisable file-level facts (source format, metadata, options).
    """

    def __init__(self, f, *, header: dict):
        self._f = f
        self._tensors: list[dict] = []
        self._names: set[str] = set()
        head = pack_head(MAGIC, MAJOR, MINOR, _json(header))
        f.write(head)
        self._base = len(head)
        self._offset = 0
        self._closed = False

    def _add(self, name, dtype, shape, storage, payload, stats, extra):
        if self._closed:
            raise ValueError("checkpoint writer is closed")
        if not isinstance(name, str) or not name:
            raise ValueError("tensor names must be non-empty strings")
        if name in self._names:
            raise ValueError(f"duplicate tensor name {name!r}")
        bits_dtype(dtype)
        mv = memoryview(payload).cast("B")
        self._f.write(mv)
        record = {
            "name": name,
            "dtype": dtype,
            "shape": [int(s) for s in shape],
            "storage": storage,
            "offset": self._offset,
            "length": len(mv),
            "crc32": zlib.crc32(mv),
            "stats": dict(stats or {}),
        }
        record.update(extra or {})
        self._tensors.append(record)
        self._names.add(name)
        self._offset += len(mv)

    def add_raw(self, name: str, array, *, dtype: str | None = None, stats=None, extra=None):
        """Store ``array`` losslessly (little-endian, C order).

        ``dtype`` names what the bits are when numpy has no such dtype
        (``"bfloat16"``: ``array`` holds the uint16 bits).
        """
        a = np.asarray(array)
        dtype = dtype or a.dtype.name
        want = bits_dtype(dtype)
        if a.dtype != want:
            raise TypeError(f"{name}: a {dtype} tensor must be held as {want}, got {a.dtype}")
        data = np.ascontiguousarray(a, dtype=want.newbyteorder("<"))
        self._add(name, dtype, a.shape, "raw", data.reshape(-1).view(np.uint8), stats, extra)

    def add_codec(self, name: str, dtype: str, shape, blob, *, stats=None, extra=None):
        """Store a codec stream (:func:`codec.encode`) of a float tensor of ``dtype``."""
        if dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name}: only float tensors are coded, not {dtype}")
        self._add(name, dtype, shape, "codec", blob, stats, extra)

    def close(self) -> None:
        """Write the index and the tail; the file is complete only after this."""
        if self._closed:
            return
        index = pack_head(INDEX_MAGIC, MAJOR, MINOR, _json({"tensors": self._tensors}))
        self._f.write(index)
        self._f.write(TAIL.pack(self._base + self._offset, MAGIC))
        self._closed = True

    @property
    def tensors(self) -> list[dict]:
        """The index records written so far."""
        return list(self._tensors)


class CheckpointReader:
    """Read a checkpoint's header and index; decode tensors one at a time.

    Parameters
    ----------
    f : str, os.PathLike or binary file object (seekable)

    Attributes
    ----------
    header : dict
    tensors : list of dict
        Index records in file order: ``name``, ``dtype``, ``shape``,
        ``storage`` (``"codec"`` or ``"raw"``), ``offset``, ``length``,
        ``crc32``, ``stats``.

    Raises
    ------
    codec.errors.CodecError
        Not a checkpoint, another major version, truncated or corrupt.
    """

    def __init__(self, f):
        if isinstance(f, str | os.PathLike):
            self._owned = open(os.fspath(f), "rb")  # noqa: SIM115
            f = self._owned
        else:
            self._owned = None
        self._f = f
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(0)
        first = f.read(HEAD_BYTES)
        if len(first) < HEAD_BYTES or first[:8] != MAGIC:
            read_head(first, MAGIC, what="rdcodec checkpoint", major=MAJOR)  # raises
        (length,) = U32.unpack_from(first, 10)
        if length > MAX_HEADER:
            raise CorruptStreamError(f"invalid checkpoint header length {length}")
        f.seek(0)
        head_bytes = f.read(min(size, HEAD_BYTES + length + 4))
        head0 = read_head(head_bytes, MAGIC, what="rdcodec checkpoint", major=MAJOR)
        self.header = _parse_json(head0.body, "checkpoint header")
        if not isinstance(self.header, dict):
            raise CorruptStreamError("checkpoint header is not a JSON object")
        self.version = (head0.major, head0.minor)
        self._base = head0.end
        if size < self._base + TAIL.size:
            raise TruncatedStreamError("checkpoint ends before its index (truncated file?)")
        f.seek(size - TAIL.size)
        index_at, end_magic = TAIL.unpack(f.read(TAIL.size))
        if end_magic != MAGIC:
            raise TruncatedStreamError(
                "checkpoint has no end marker (truncated, or the write did not finish)"
            )
        if not self._base <= index_at <= size - TAIL.size:
            raise CorruptStreamError("checkpoint index offset is out of range")
        f.seek(index_at)
        index_bytes = f.read(size - TAIL.size - index_at)
        index = read_head(index_bytes, INDEX_MAGIC, what="rdcodec checkpoint index", major=MAJOR)
        if index.end != len(index_bytes):
            raise CorruptStreamError("unexpected bytes between the checkpoint index and its tail")
        tensors = _parse_json(index.body, "checkpoint index")
        self.tensors = _check_records(tensors, index_at - self._base)
        self._by_name = {t["name"]: t for t in self.tensors}

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def record(self, name: str) -> dict:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no tensor named {name!r} in the checkpoint") from None

    def payload(self, name: str) -> bytes:
        """A record's stored bytes, checksum verified."""
        t = self.record(name)
        self._f.seek(self._base + t["offset"])
        data = self._f.read(t["length"])
        if len(data) != t["length"]:
            raise TruncatedStreamError(f"checkpoint ends inside tensor {name!r}")
        if zlib.crc32(data) != t["crc32"]:
            raise CorruptStreamError(f"checksum mismatch in tensor {name!r}")
        return data

    def read(self, name: str) -> np.ndarray:
        """A tensor in its stored dtype's memory form (:func:`bits_dtype`; bf16 as uint16 bits).

        Coded tensors are decoded (float32 for ``bfloat16``, rounded to it by
        :func:`cast_to`); raw tensors come back bit for bit.
        """
        t = self.record(name)
        data = self.payload(name)
        shape = tuple(t["shape"])
        if t["storage"] == "raw":
            dt = bits_dtype(t["dtype"]).newbyteorder("<")
            if len(data) != int(np.prod(shape, dtype=np.int64)) * dt.itemsize:
                raise CorruptStreamError(f"tensor {name!r}: raw size does not match its shape")
            native = dt.newbyteorder("=")
            return np.frombuffer(data, dtype=dt).astype(native).reshape(shape)
        values = decode(data, max_elements=int(np.prod(shape, dtype=np.int64)))
        if values.shape != shape:
            raise CorruptStreamError(f"tensor {name!r}: stream shape {values.shape} != {shape}")
        return cast_to(values, t["dtype"])

    def read_values(self, name: str) -> np.ndarray:
        """A float tensor's values as a numpy float array (bf16 widened to float32)."""
        t = self.record(name)
        return float_values(self.read(name), t["dtype"])


def _json(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def _parse_json(body, what):
    try:
        return json.loads(body.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CorruptStreamError(f"{what} is not valid JSON") from None


def _check_records(tensors, payload_bytes: int) -> list[dict]:
    if not isinstance(tensors, dict) or not isinstance(tensors.get("tensors"), list):
        raise CorruptStreamError("checkpoint index has no tensor list")
    out, names, end = [], set(), 0
    for t in tensors["tensors"]:
        ok = (
            isinstance(t, dict)
            and isinstance(t.get("name"), str)
            and t.get("dtype") in DTYPE_SIZES
            and t.get("storage") in ("raw", "codec")
            and isinstance(t.get("shape"), list)
            and all(isinstance(s, int) and s >= 0 for s in t["shape"])
            and all(isinstance(t.get(k), int) and t[k] >= 0 for k in ("offset", "length", "crc32"))
            and isinstance(t.get("stats", {}), dict)
        )
        if not ok:
            raise CorruptStreamError("checkpoint index record is invalid")
        if t["name"] in names:
            raise CorruptStreamError(f"duplicate tensor {t['name']!r} in the checkpoint index")
        if t["storage"] == "codec" and t["dtype"] not in FLOAT_DTYPES:
            raise UnsupportedFormatError(f"tensor {t['name']!r}: coded {t['dtype']} is unknown")
        names.add(t["name"])
        end = max(end, t["offset"] + t["length"])
        out.append(t)
    if end > payload_bytes:
        raise CorruptStreamError("checkpoint index points past its records")
    return out
