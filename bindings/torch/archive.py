r"""The model file (``.rdc``): writing, parsing and decoding it, and what compression returns.

Model file format (every byte counts in the ratios)
---------------------------------------------------
::

    magic 89 52 44 4D 0D 0A 1A 0A ("\x89RDM\r\n\x1a\n"), u8 major = 2, u8 minor = 0,
    u32 L, L bytes: the index, u32 CRC-32 of bytes [8, 14 + L),
    then the records back to back (exactly; trailing bytes are an error).

The head (magic to CRC) is the framing shared by every rdcodec file
(:mod:`codec.framing`). The index holds ``{"format": "rdcodec-torch",
"tensors": [...], "groups": [...], "records": [length, ...], "crc": c}`` with
``c`` the CRC-32 of all the records' bytes (everything after the index); format
2.0 writes it in binary (raw DEFLATE, layout in :mod:`bindings.torch._index`),
format 1.0 (still read) as zlib-deflated UTF-8 JSON with sorted keys and no
whitespace. A tensor is ``{"name", "shape", "dtype" (torch dtype name),
"store", ...}`` with ``store`` one of

* ``"q"`` (``"group": g``): quantized, part of group ``g``;
* ``"raw"`` (``"rec": r``): the tensor's bytes, little-endian, C order;
* ``"f16"`` (``"rec": r``): float16 bytes of a float tensor (high precision);
* ``"fixed"`` (``"rec": r, "exp": s``): a float tensor rounded to multiples of
  ``2**s``, the integers coded by the adaptive arithmetic coder
  (``codec.coders.get_coder("adaptive")``);
* ``"int"`` (``"rec": r``): integer/bool values as int64 symbols of the
  arithmetic coder (``codec.coders.get_coder("arithmetic")``).

A group is ``{"members": [tensor ids], "stream": r, "mask": r or null,
"kept": n, "mask_coder": name}``, and each member's ``"group"`` is its
position. Its members, flattened in C order and concatenated, form a vector of
``N`` elements; record ``stream`` is a codec stream (docs/format.md) of the
``kept`` values that were not pruned, in order. Without a mask every element is
kept. With a mask, record ``mask`` holds the keep-mask: for ``mask_coder =
"context"`` the members' masks coded by :func:`codec.coders.mask.encode_mask`
with the members' shapes (docs/format.md §9); for the name of a symbol coder
(``"arithmetic"``, ``"huffman"``, ...) the ``kept`` gaps coded by it: ``gap[0] =
pos[0]`` and ``gap[j] = pos[j] - pos[j-1] - 1`` for the sorted kept positions
``pos``. Pruned elements decode to 0. (The writer moves kept values whose
reconstruction is exactly 0.0 into the mask; a reader need not know.)
(Codec streams carry their own CRC-32s too.)
"""

from __future__ import annotations

import math
import os
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

import codec
from codec.coders import get_coder
from codec.coders.mask import decode_mask, encode_mask
from codec.errors import (
    CodecError,
    CorruptStreamError,
    TruncatedStreamError,
    UnsupportedFormatError,
)
from codec.framing import pack_head, read_head

from ._index import pack_index, unpack_index, unpack_json_index
from ._state import FLOAT_DTYPES, TORCH_DTYPES, itemsize

#: The ``mask_coder`` of context-modelled masks (:mod:`codec.coders.mask`); any other
#: name is a symbol coder of the codec that codes the gaps between kept positions.
CONTEXT_MASK_CODER = "context"

__all__ = [
    "MODEL_MAGIC",
    "LayerStats",
    "CompressedModel",
    "decompress_state_dict",
    "load_compressed",
]

MODEL_MAGIC = b"\x89RDM\r\n\x1a\n"
MODEL_MAJOR, MODEL_MINOR = 2, 0
#: Major versions read: 1 (a JSON index, files written before 2026-11-26) and 2.
MODEL_READS = (1, 2)
FORMAT_NAME = "rdcodec-torch"
_WHAT = "rdcodec model archive"
_SYMBOL_LIMIT = 2**62


# ---------------------------------------------------------------------------
# what compression returns
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerStats:
    """What compression did to one tensor of the state dict.

    ``bits`` is the tensor's share of the archive: exact for tensors stored in
    records of their own; for the members of a quantized group the group's
    stream and mask bytes are split in proportion to each member's ideal code
    length (``-log2`` of its indices' and gaps' empirical frequencies; by kept
    count when indices are not available). The archive's own framing and index
    are reported apart (:attr:`CompressedModel.overhead_bytes`).
    """

    name: str
    shape: tuple
    dtype: str
    store: str
    parameters: int
    kept: int
    bits: float
    mse: float
    snr_db: float

    @property
    def bits_per_weight(self) -> float:
        """Bits per element of the tensor (``nan`` for an empty tensor)."""
        return self.bits / self.parameters if self.parameters else math.nan

    @property
    def ratio(self) -> float:
        """Compression ratio over float32 storage (32 bits per element)."""
        return 32.0 * self.parameters / self.bits if self.bits else math.inf


@dataclass(eq=False)
class CompressedModel:
    """A compressed state dict: the archive bytes plus per-tensor statistics.

    Attributes
    ----------
    data : bytes
        The complete archive (what :meth:`save` writes).
    layers : list of LayerStats
        One entry per tensor of the state dict, in state-dict order.
    overhead_bytes : int
        Archive framing and index bytes not attributed to any tensor.

    Examples
    --------
    >>> import torch, bindings.torch as bt
    >>> cm = bt.compress_state_dict({"w": torch.randn(64, 64)}, lattice="Z", step=0.05)
    >>> cm.n_bytes == len(cm.to_bytes()), cm.parameters
    (True, 4096)
    >>> sorted(bt.decompress_state_dict(cm))
    ['w']
    """

    data: bytes
    layers: list
    overhead_bytes: int
    # The CompressionPlan that made it (quantized arrays included), for fine-tuning.
    _plan: object = field(default=None, repr=False)

    @property
    def n_bytes(self) -> int:
        """Size of the archive in bytes."""
        return len(self.data)

    @property
    def parameters(self) -> int:
        """Number of elements in the state dict (parameters and buffers)."""
        return sum(s.parameters for s in self.layers)

    @property
    def float32_bytes(self) -> int:
        """Size of the state dict with every float tensor stored as float32."""
        total = 0
        for s in self.layers:
            if s.dtype in FLOAT_DTYPES:
                total += 4 * s.parameters
            else:
                total += s.parameters * itemsize(s.dtype)
        return total

    @property
    def ratio(self) -> float:
        """Compression ratio over float32: ``float32_bytes / n_bytes``."""
        return self.float32_bytes / self.n_bytes

    @property
    def bits_per_weight(self) -> float:
        """Archive bits per element of the state dict."""
        return 8.0 * self.n_bytes / max(self.parameters, 1)

    def to_bytes(self) -> bytes:
        """The archive bytes."""
        return self.data

    def save(self, path) -> int:
        """Write the archive to ``path``; returns the number of bytes written.

        Examples
        --------
        >>> import torch, tempfile, os, bindings.torch as bt
        >>> cm = bt.compress_state_dict({"w": torch.ones(8, 8)}, lattice="Z", step=0.1)
        >>> path = os.path.join(tempfile.mkdtemp(), "m.rdc")
        >>> cm.save(path) == os.path.getsize(path)
        True
        """
        with open(os.fspath(path), "wb") as f:
            f.write(self.data)
        return len(self.data)

    def state_dict(self, *, device=None) -> dict:
        """Decode the archive into a state dict (exactly what :func:`load_compressed` copies)."""
        return decompress_state_dict(self.data, device=device)

    def summary(self) -> str:
        """A per-tensor table (parameters, bits, bits/weight, ratio, MSE, SNR) and the total."""
        head = (
            f"{'tensor':32} {'store':5} {'params':>9} {'kept':>9} {'bits':>10} "
            f"{'bits/w':>7} {'ratio':>8} {'MSE':>10} {'SNR dB':>7}"
        )
        lines = [head, "-" * len(head)]
        for s in self.layers:
            lines.append(
                f"{s.name[:32]:32} {s.store:5} {s.parameters:9d} {s.kept:9d} {s.bits:10.0f} "
                f"{s.bits_per_weight:7.3f} {s.ratio:8.2f} {s.mse:10.3e} {s.snr_db:7.2f}"
            )
        lines.append(
            f"{'(archive framing and index)':32} {'':5} {'':9} {'':9} {8 * self.overhead_bytes:10d}"
        )
        lines.append(
            f"{'total':32} {'':5} {self.parameters:9d} {'':9} {8 * self.n_bytes:10d} "
            f"{self.bits_per_weight:7.3f} {self.ratio:8.2f}"
        )
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------
def _raw_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous().reshape(-1)
    if t.numel() == 0:
        return b""
    return t.view(torch.uint8).numpy().tobytes()


def _int_record(t: torch.Tensor) -> bytes | None:
    """Arithmetic-coded int64 symbols, or None when the values do not fit the coder."""
    a = t.detach().cpu().reshape(-1)
    if a.dtype == torch.bool:
        a = a.to(torch.int64)
    arr = a.to(torch.int64).numpy() if a.dtype != torch.int64 else a.numpy()
    if arr.size and (arr.min() < -_SYMBOL_LIMIT or arr.max() >= _SYMBOL_LIMIT):
        return None
    return get_coder("arithmetic").encode(arr)


def _fixed_record(t: torch.Tensor, bits: int) -> tuple[bytes, int]:
    """``t`` rounded to multiples of ``2**s`` with ``s = ceil(log2 max|t|) - bits`` (so
    ``|error| <= 2**(s-1) <= max|t| 2**-bits``), as adaptive-coded integers; and ``s``."""
    a = t.detach().cpu().reshape(-1).to(torch.float64).numpy()
    peak = float(np.abs(a).max()) if a.size else 0.0
    if not math.isfinite(peak):
        raise ValueError("unquantized=<bits> needs finite values; use 'lossless'")
    s = (math.frexp(peak)[1] if peak > 0 else 0) - bits  # 2**(e-1) <= peak < 2**e
    return get_coder("adaptive").encode(np.rint(np.ldexp(a, -s)).astype(np.int64)), s


def _own_record(t: torch.Tensor, dtype: str, unquantized) -> tuple[bytes, dict]:
    """The record of a tensor that is not quantized, and its index fields (``store``...)."""
    if t.is_floating_point() and isinstance(unquantized, int) and t.numel():
        blob, s = _fixed_record(t, unquantized)
        return blob, {"store": "fixed", "exp": s}
    if t.is_floating_point() and unquantized == "float16" and dtype != "float16":
        return _raw_bytes(t.to(torch.float16)), {"store": "f16"}
    if t.is_floating_point() or t.is_complex():
        return _raw_bytes(t), {"store": "raw"}
    coded = _int_record(t)
    if coded is None:
        return _raw_bytes(t), {"store": "raw"}
    return coded, {"store": "int"}


def check_mask_coder(name) -> str:
    """``name`` if it names a mask coder (``"context"`` or a symbol coder), else an error."""
    if name == CONTEXT_MASK_CODER:
        return name
    try:
        get_coder(name)
    except ValueError as e:
        raise ValueError(f"mask_coder: {e} (or {CONTEXT_MASK_CODER!r})") from None
    return name


def encode_group_mask(mask: np.ndarray, shapes: list, mask_coder: str) -> bytes:
    """The ``mask`` record of a group whose members have ``shapes`` (see the module doc)."""
    if mask_coder == CONTEXT_MASK_CODER:
        return encode_mask(mask, shapes)
    pos = np.flatnonzero(mask).astype(np.int64)
    return get_coder(mask_coder).encode(np.diff(pos, prepend=-1) - 1)


def write_model_file(plan, state: dict) -> tuple[bytes, dict, dict, int]:
    """Build the model file from a plan's coded groups and the other tensors of ``state``.

    ``plan`` is a :class:`~bindings.torch.compress.CompressionPlan` whose groups
    are coded. Returns the bytes, ``{name: bits}`` for tensors with records of
    their own, ``{name: store}`` and the framing + index bytes.
    """
    group_of = plan.group_of()
    records: list[bytes] = []
    tensors, own_bits, stores = [], {}, {}
    for name in plan.names:
        shape, dtype = plan.meta[name]
        entry = {"name": name, "shape": list(shape), "dtype": dtype}
        if name in group_of:
            entry.update(store="q", group=group_of[name])
        else:
            blob, fields = _own_record(state[name], dtype, plan.unquantized)
            entry.update(fields)
            entry["rec"] = len(records)
            records.append(blob)
            own_bits[name] = 8 * len(blob)
        stores[name] = entry["store"]
        tensors.append(entry)
    member_ids = {n: i for i, n in enumerate(plan.names)}
    groups_json = []
    for grp in plan.groups:
        stream = len(records)
        records.append(grp.blob)
        mask = None
        if grp.mask_blob is not None:
            mask = len(records)
            records.append(grp.mask_blob)
        n_total = sum(math.prod(plan.meta[n][0]) for n in grp.members)
        groups_json.append(
            {
                "members": [member_ids[n] for n in grp.members],
                "stream": stream,
                "mask": mask,
                "kept": int(grp.mask.sum()) if grp.mask is not None else n_total,
                "mask_coder": grp.mask_coder if mask is not None else None,
            }
        )
    index = {
        "format": FORMAT_NAME,
        "tensors": tensors,
        "groups": groups_json,
        "records": [len(r) for r in records],
        "crc": zlib.crc32(b"".join(records)),
    }
    head = pack_head(MODEL_MAGIC, MODEL_MAJOR, MODEL_MINOR, pack_index(index))
    return head + b"".join(records), own_bits, stores, len(head)


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------
def read_source(source) -> bytes:
    """The model file bytes of a path, bytes or :class:`CompressedModel`."""
    if isinstance(source, CompressedModel):
        return source.data
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | os.PathLike):
        with open(os.fspath(source), "rb") as f:
            return f.read()
    raise TypeError("expected a path, bytes or a CompressedModel, got " + type(source).__name__)


def _parse(data: bytes) -> tuple[dict, list]:
    """Validate the framing and index; return the index and the record byte strings."""
    head = read_head(data, MODEL_MAGIC, what=_WHAT, major=MODEL_READS)
    if head.major == 1:
        index = unpack_json_index(head.body)
    else:
        index = unpack_index(head.body, FORMAT_NAME)
    if not isinstance(index, dict) or index.get("format") != FORMAT_NAME:
        raise UnsupportedFormatError("model archive index is not an rdcodec-torch index")
    rec_table = index.get("records")
    if not isinstance(rec_table, list):
        raise CorruptStreamError("model archive index has no record table")
    records, pos = [], head.end
    for r in rec_table:
        if not isinstance(r, int) or isinstance(r, bool) or r < 0:
            raise CorruptStreamError("model archive record length is invalid")
        if pos + r > len(data):
            raise TruncatedStreamError("model archive ends inside its records")
        records.append(data[pos : pos + r])
        pos += r
    if pos != len(data):
        raise CorruptStreamError("unexpected bytes after the last model archive record")
    crc = index.get("crc")
    if not isinstance(crc, int) or zlib.crc32(data[head.end :]) != crc:
        raise CorruptStreamError("model archive payload checksum mismatch")
    return index, records


def _int_field(d: dict, key: str, lo: int = 0) -> int:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise CorruptStreamError(f"model archive field {key!r} is missing or invalid")
    return v


def _shape_of(entry: dict) -> tuple:
    shape = entry.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
    ):
        raise CorruptStreamError("model archive tensor shape is invalid")
    return tuple(shape)


@dataclass(frozen=True)
class _TensorEntry:
    """One validated tensor entry of the index."""

    name: str
    shape: tuple
    dtype: str
    numel: int
    entry: dict

    @property
    def store(self):
        return self.entry.get("store")


def _tensor_entries(tensors, max_elements: int | None) -> list[_TensorEntry]:
    """Validate the index's tensor entries (names, shapes, dtypes, the element budget)."""
    budget = max_elements
    out = []
    for e in tensors:
        if not isinstance(e, dict) or not isinstance(e.get("name"), str):
            raise CorruptStreamError("model archive tensor entry is invalid")
        shape = _shape_of(e)
        dtype = e.get("dtype")
        if dtype not in TORCH_DTYPES:
            raise UnsupportedFormatError(f"model archive tensor dtype {dtype!r} is not supported")
        numel = math.prod(shape)
        if budget is not None:
            budget -= numel
            if budget < 0:
                raise ValueError(
                    "the archive holds more than max_elements elements; raise max_elements"
                )
        out.append(_TensorEntry(e["name"], shape, dtype, numel, e))
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise CorruptStreamError("model archive has duplicate tensor names")
    return out


def _decode_own_record(t: _TensorEntry, blob: bytes) -> torch.Tensor:
    """A tensor stored in a record of its own (``raw``, ``f16`` or ``int``)."""
    tdt = TORCH_DTYPES[t.dtype]
    if t.store in ("raw", "f16"):
        src = torch.float16 if t.store == "f16" else tdt
        if t.store == "f16" and t.dtype not in FLOAT_DTYPES:
            raise CorruptStreamError("model archive stores a non-float tensor as float16")
        item = torch.empty(0, dtype=src).element_size()
        if len(blob) != t.numel * item:
            raise CorruptStreamError(f"model archive record of {t.name!r} has the wrong size")
        if blob:
            flat = torch.frombuffer(bytearray(blob), dtype=torch.uint8).view(src)
        else:
            flat = torch.empty(0, dtype=src)
        return flat.reshape(t.shape).to(tdt)
    if t.store == "fixed":
        if t.dtype not in FLOAT_DTYPES:
            raise CorruptStreamError("model archive stores a non-float tensor as fixed point")
        s = t.entry.get("exp")
        if isinstance(s, bool) or not isinstance(s, int) or not -1100 < s < 1100:
            raise CorruptStreamError(f"model archive scale of {t.name!r} is invalid")
        sym = get_coder("adaptive").decode(blob, t.numel)
        values = np.ldexp(sym.astype(np.float64), s)
        if not np.isfinite(values).all():
            raise CorruptStreamError(f"model archive values of {t.name!r} overflow")
        return torch.from_numpy(values).to(TORCH_DTYPES[t.dtype]).reshape(t.shape)
    if t.store == "int":
        if t.dtype in FLOAT_DTYPES or t.dtype.startswith("complex"):
            raise CorruptStreamError("model archive codes a float tensor as integers")
        sym = get_coder("arithmetic").decode(blob, t.numel)
        if t.dtype == "bool":
            if sym.size and (sym.min() < 0 or sym.max() > 1):
                raise CorruptStreamError(f"model archive bool tensor {t.name!r} is not 0/1")
        else:
            info = torch.iinfo(tdt)
            if sym.size and (sym.min() < info.min or sym.max() > info.max):
                raise CorruptStreamError(f"model archive values of {t.name!r} overflow {t.dtype}")
        return torch.from_numpy(sym.copy()).to(tdt).reshape(t.shape)
    raise CorruptStreamError(f"model archive tensor {t.name!r} has unknown store {t.store!r}")


def _group_members(g, gi: int, entries: list[_TensorEntry], in_group: set) -> list[int]:
    """The validated member ids of group entry ``gi``; adds them to ``in_group``."""
    if not isinstance(g, dict) or not isinstance(g.get("members"), list):
        raise CorruptStreamError("model archive group entry is invalid")
    members = g["members"]
    for m in members:
        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m < len(entries):
            raise CorruptStreamError("model archive group member is invalid")
        if m in in_group or entries[m].store != "q" or entries[m].entry.get("group") != gi:
            raise CorruptStreamError("model archive group members are inconsistent")
        in_group.add(m)
    return members


def _decode_group_vector(g: dict, shapes: list, record) -> np.ndarray:
    """The values of a group with members of ``shapes``: its codec stream, scattered by
    its mask."""
    n_total = sum(math.prod(s) for s in shapes)
    kept = _int_field(g, "kept")
    if kept > n_total:
        raise CorruptStreamError("model archive group keeps more values than it has")
    values = codec.decode(record(g.get("stream")), max_elements=max(kept, 1))
    if values.size != kept or values.dtype.kind != "f":
        raise CorruptStreamError("model archive group stream has the wrong number of values")
    values = values.reshape(-1)
    if g.get("mask") is None:
        if kept != n_total:
            raise CorruptStreamError("model archive group without mask must keep everything")
        return values
    mcoder = g.get("mask_coder")
    if not isinstance(mcoder, str):
        raise CorruptStreamError("model archive group mask coder is invalid")
    if mcoder == CONTEXT_MASK_CODER:
        pos = np.flatnonzero(decode_mask(record(g["mask"]), shapes))
        if pos.size != kept:
            raise CorruptStreamError("model archive pruning mask keeps the wrong count")
    else:
        try:
            coder = get_coder(mcoder)
        except ValueError:
            raise UnsupportedFormatError(f"unknown mask coder {mcoder!r}") from None
        gaps = coder.decode(record(g["mask"]), kept)
        if gaps.size != kept or (gaps.size and gaps.min() < 0):
            raise CorruptStreamError("model archive pruning mask is invalid")
        pos = np.cumsum(gaps + 1) - 1
        if pos.size and pos[-1] >= n_total:
            raise CorruptStreamError("model archive pruning mask points past its tensors")
    full = np.zeros(n_total, values.dtype)
    full[pos] = values
    return full


def decode_model_file(data: bytes, max_elements: int | None) -> dict:
    """Decode every tensor to CPU torch tensors; raise codec.errors on any problem."""
    index, records = _parse(data)
    tensors, groups = index.get("tensors"), index.get("groups")
    if not isinstance(tensors, list) or not isinstance(groups, list):
        raise CorruptStreamError("model archive index lacks tensors or groups")

    def record(i) -> bytes:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(records):
            raise CorruptStreamError("model archive refers to a record that does not exist")
        return records[i]

    entries = _tensor_entries(tensors, max_elements)
    out: dict = {}
    for t in entries:
        if t.store != "q":
            out[t.name] = _decode_own_record(t, record(t.entry.get("rec")))
    in_group: set = set()
    for gi, g in enumerate(groups):
        members = _group_members(g, gi, entries, in_group)
        full = _decode_group_vector(g, [entries[m].shape for m in members], record)
        a = 0
        for m in members:
            t = entries[m]
            part = torch.from_numpy(np.ascontiguousarray(full[a : a + t.numel]))
            out[t.name] = part.to(TORCH_DTYPES[t.dtype]).reshape(t.shape)
            a += t.numel
    missing = [t.name for i, t in enumerate(entries) if t.store == "q" and i not in in_group]
    if missing:
        raise CorruptStreamError(f"model archive tensor {missing[0]!r} belongs to no group")
    return {t.name: out[t.name] for t in entries}


def decode_guarded(data: bytes, max_elements) -> dict:
    """:func:`decode_model_file`, with any error that slipped past validation a CodecError."""
    try:
        return decode_model_file(data, max_elements)
    except (CodecError, ValueError):
        raise
    except (TypeError, KeyError, IndexError, OverflowError, RuntimeError, MemoryError) as e:
        raise CorruptStreamError(f"model archive is corrupt ({type(e).__name__}: {e})") from None


# ---------------------------------------------------------------------------
# public API: decompression
# ---------------------------------------------------------------------------
def decompress_state_dict(source, *, device=None, max_elements: int | None = 1 << 34) -> dict:
    """Decode an archive (path, bytes or :class:`CompressedModel`) into a state dict.

    Parameters
    ----------
    source : str, os.PathLike, bytes or CompressedModel
    device : torch.device or str, optional
        Where the tensors go (default CPU).
    max_elements : int or None
        Refuse archives announcing more elements (decompression-bomb guard).

    Returns
    -------
    dict[str, torch.Tensor]
        In the original order, with the original shapes and dtypes.

    Raises
    ------
    codec.errors.CodecError
        Corrupt, truncated or unsupported archive.

    Examples
    --------
    >>> import torch, bindings.torch as bt
    >>> cm = bt.compress_state_dict({"w": torch.randn(8, 8, dtype=torch.bfloat16)}, step=0.1)
    >>> bt.decompress_state_dict(cm.to_bytes())["w"].dtype
    torch.bfloat16
    """
    data = read_source(source)
    out = decode_guarded(data, max_elements)
    if device is not None:
        out = {k: v.to(device) for k, v in out.items()}
    return out


def load_compressed(source, model: nn.Module, *, strict: bool = True) -> nn.Module:
    """Restore a compressed archive into ``model`` (same architecture); returns ``model``.

    Everything is decoded and validated first; the model is modified only if
    all tensors decode and match, so on any error it is left unchanged.
    Tensors go to each target tensor's device; float tensors are cast to the
    target's dtype.

    Parameters
    ----------
    source : str, os.PathLike, bytes or CompressedModel
    model : torch.nn.Module
    strict : bool
        Require exactly the same tensor names (default). With ``False``,
        names missing on either side are skipped (shapes still must match).

    Raises
    ------
    codec.errors.CodecError
        The archive is corrupt, truncated or unsupported.
    ValueError
        Names, shapes or kinds (float vs integer) do not match the model.

    Examples
    --------
    >>> import torch, bindings.torch as bt
    >>> net = torch.nn.Linear(16, 4)
    >>> cm = bt.compress_model(net, lattice="Z", step=0.01)
    >>> fresh = bt.load_compressed(cm, torch.nn.Linear(16, 4))
    >>> bool(torch.equal(fresh.weight, cm.state_dict()["weight"]))
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    decoded = decode_guarded(read_source(source), None)
    target = model.state_dict()
    missing = [k for k in target if k not in decoded]
    unexpected = [k for k in decoded if k not in target]
    if strict and (missing or unexpected):
        raise ValueError(
            f"the archive does not match the model: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}; pass strict=False to load the common tensors"
        )
    pairs = []
    for name, value in decoded.items():
        if name not in target:
            continue
        dst = target[name]
        if tuple(dst.shape) != tuple(value.shape):
            raise ValueError(
                f"shape mismatch for {name!r}: archive {tuple(value.shape)}, model "
                f"{tuple(dst.shape)}"
            )
        if dst.is_floating_point() != value.is_floating_point():
            raise ValueError(
                f"dtype kind mismatch for {name!r}: archive {value.dtype}, model {dst.dtype}"
            )
        pairs.append((dst, value.to(device=dst.device, dtype=dst.dtype)))
    with torch.no_grad():
        for dst, value in pairs:
            dst.copy_(value)
    return model
