r"""PyTorch binding: compress a model's weights with rdcodec, restore them, fine-tune them.

Pipeline (Choi, El-Khamy & Lee 2017/2018; Han et al. 2016):

1. *Select* the tensors to quantize (``include``; default: the weights of
   ``nn.Linear`` / ``nn.Conv*`` layers). Every other tensor of the state dict
   is kept: float tensors losslessly (raw bytes, default) or as float16
   (``unquantized="float16"``), integer/bool buffers losslessly through the
   arithmetic coder (raw bytes for values outside its range).
2. Optionally *prune* by magnitude (``prune``): one global threshold over all
   selected tensors (a float), one threshold per tensor (a dict), or the
   weights that are already exactly zero (``"zeros"``, after
   :func:`magnitude_masks` and retraining).
3. *Quantize* the kept values with :func:`codec.quantize` (then
   ``to_bytes``): dithered lattices (Z, D4, E8) or scalar quantizers
   (uniform, ECSQ, k-means), optionally Hessian-weighted
   (``hessian="grad2"``/``"adam"``). With ``grouping="network"`` (default)
   all selected tensors with the same options form one vector and one codec
   stream — one quantizer, one codebook and one ~250-byte stream header for
   the whole network, as in Choi et al.; ``grouping="layer"`` codes one
   stream per tensor; ``per_tensor`` sets options for some tensors (e.g.
   Hessian-allocated steps, :func:`allocate_steps`). float16 and bfloat16
   tensors are quantized through float32 and cast back on decoding; CPU and
   CUDA tensors alike (coding runs on CPU copies; loading restores each
   target tensor's device).
4. *Fine-tune* the shared quantized values with the indices fixed
   (:func:`finetune_shared_values`), or compress layer by layer with partial
   quantize-and-retrain (:func:`slq_compress`, Xu et al. 2018).

Model archive format (``.rdc``; every byte counts in the ratios)
-----------------------------------------------------------------
::

    magic 89 52 44 4D 0D 0A 1A 0A ("\x89RDM\r\n\x1a\n"), u8 major = 1, u8 minor = 0,
    u32 L, L bytes: zlib-deflated UTF-8 JSON index, u32 CRC-32 of bytes [8, 14 + L),
    then the records back to back (exactly; trailing bytes are an error).

The index (keys sorted, no whitespace) is ``{"format": "rdcodec-torch",
"tensors": [...], "groups": [...], "records": [length, ...], "crc": c}`` with
``c`` the CRC-32 of all the records' bytes (everything after the index).
A tensor is ``{"name", "shape", "dtype" (torch dtype name), "store", ...}``
with ``store`` one of

* ``"q"`` (``"group": g``): quantized, part of group ``g``;
* ``"raw"`` (``"rec": r``): the tensor's bytes, little-endian, C order;
* ``"f16"`` (``"rec": r``): float16 bytes of a float tensor (high precision);
* ``"int"`` (``"rec": r``): integer/bool values as int64 symbols of the
  arithmetic coder (``codec.coders.get_coder("arithmetic")``).

A group is ``{"members": [tensor ids], "stream": r, "mask": r or null,
"kept": n, "mask_coder": name}``. Its members, flattened in C order and
concatenated, form a vector of ``N`` elements; record ``stream`` is a codec
stream (docs/format.md) of the ``kept`` values that were not pruned, in
order. Without a mask every element is kept. With a mask, record ``mask``
holds ``kept`` gaps coded by ``mask_coder``: ``gap[0] = pos[0]`` and
``gap[j] = pos[j] - pos[j-1] - 1`` for the sorted kept positions ``pos``;
pruned elements decode to 0. (Codec streams carry their own CRC-32s too.)

Examples
--------
>>> import torch, bindings.pytorch as bp
>>> net = torch.nn.Sequential(torch.nn.Linear(32, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
>>> cm = bp.compress_model(net, lattice="E8", step=0.02)
>>> fresh = torch.nn.Sequential(torch.nn.Linear(32, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
>>> _ = bp.load_compressed(cm.to_bytes(), fresh)
>>> bool(torch.allclose(fresh[0].weight, net[0].weight, atol=0.03))
True
"""

from __future__ import annotations

import copy
import json
import math
import numbers
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

import codec
from codec.coders import get_coder
from codec.errors import (
    CodecError,
    CorruptStreamError,
    TruncatedStreamError,
    UnsupportedFormatError,
)

__all__ = [
    "CompressedModel",
    "LayerStats",
    "compress_model",
    "compress_state_dict",
    "decompress_state_dict",
    "load_compressed",
    "magnitude_masks",
    "allocate_steps",
    "hessian_from_gradients",
    "hessian_from_adam",
    "finetune_shared_values",
    "slq_compress",
    "MODEL_MAGIC",
]

MODEL_MAGIC = b"\x89RDM\r\n\x1a\n"
MODEL_MAJOR, MODEL_MINOR = 1, 0
FORMAT_NAME = "rdcodec-torch"
_U32 = struct.Struct("<I")
_SYMBOL_LIMIT = 2**62

_TORCH_DTYPES = {
    name: getattr(torch, name)
    for name in (
        "float16",
        "bfloat16",
        "float32",
        "float64",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "bool",
        "complex64",
        "complex128",
    )
}
_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
_CODEC_KEYS_RESERVED = ("weights", "x")
_GROUPINGS = ("network", "layer")
_UNQUANTIZED = ("lossless", "float16")
_SCALAR_QUANTIZERS = ("kmeans", "ecsq")


# ---------------------------------------------------------------------------
# results
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
    >>> import torch, bindings.pytorch as bp
    >>> cm = bp.compress_state_dict({"w": torch.randn(64, 64)}, lattice="Z", step=0.05)
    >>> cm.n_bytes == len(cm.to_bytes()), cm.parameters
    (True, 4096)
    >>> sorted(bp.decompress_state_dict(cm))
    ['w']
    """

    data: bytes
    layers: list
    overhead_bytes: int
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
            if s.dtype in _FLOAT_DTYPES:
                total += 4 * s.parameters
            else:
                total += s.parameters * _itemsize(s.dtype)
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
        >>> import torch, tempfile, os, bindings.pytorch as bp
        >>> cm = bp.compress_state_dict({"w": torch.ones(8, 8)}, lattice="Z", step=0.1)
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


def _itemsize(dtype_name: str) -> int:
    return torch.empty(0, dtype=_TORCH_DTYPES[dtype_name]).element_size()


# ---------------------------------------------------------------------------
# the compression plan
# ---------------------------------------------------------------------------
@dataclass
class _Group:
    members: list  # tensor names, in state-dict order
    mask: np.ndarray | None  # bool over the concatenated members, None = all kept
    weights: np.ndarray | None = None  # importance of the kept values
    options: dict = field(default_factory=dict)  # codec options, coder included
    q: object = None  # codec.QuantizedArray
    blob: bytes = b""
    mask_blob: bytes | None = None
    mask_coder: str = "arithmetic"


@dataclass
class _Plan:
    names: list  # every tensor of the state dict, in order
    meta: dict  # name -> (shape tuple, dtype name)
    groups: list
    codec_options: dict
    coder: str
    mask_coder: str
    unquantized: str

    def group_of(self) -> dict:
        return {n: g for g, grp in enumerate(self.groups) for n in grp.members}


def _torch_dtype_name(dtype) -> str:
    name = str(dtype).replace("torch.", "")
    if name not in _TORCH_DTYPES:
        raise TypeError(
            f"tensors of dtype {dtype} are not supported; convert them to a float or integer "
            "dtype first"
        )
    return name


def _to_numpy_f(t: torch.Tensor) -> np.ndarray:
    """A float tensor (any device, fp16/bf16/fp32/fp64) as a numpy float32/float64 array."""
    t = t.detach()
    if t.dtype == torch.float64:
        return t.cpu().numpy()
    return t.cpu().to(torch.float32).numpy()


def _check_state_dict(state_dict) -> dict:
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"state_dict must be a mapping of names to tensors, got {type(state_dict).__name__}"
        )
    out = {}
    for name, t in state_dict.items():
        if not isinstance(name, str) or not name:
            raise ValueError("state-dict keys must be non-empty strings")
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"state_dict[{name!r}] is a {type(t).__name__}, not a torch.Tensor")
        _torch_dtype_name(t.dtype)
        if t.is_sparse or t.layout != torch.strided:
            raise TypeError(f"state_dict[{name!r}] is not a dense tensor; call .to_dense() first")
        out[name] = t.detach()
    return out


def _default_module_selection(model: nn.Module) -> set:
    """Names of the ``weight`` of every Linear / Conv layer of ``model``."""
    kinds = (nn.Linear, nn.modules.conv._ConvNd)
    names = set()
    for mod_name, module in model.named_modules():
        if isinstance(module, kinds) and isinstance(getattr(module, "weight", None), torch.Tensor):
            names.add(f"{mod_name}.weight" if mod_name else "weight")
    return names


def _select(state: dict, include, default: set | None) -> list:
    """Resolve ``include`` to the ordered list of tensor names to quantize."""
    names = list(state)
    if include is None:
        if default is None:  # plain state dict: float tensors with >= 2 dimensions
            chosen = [n for n in names if state[n].dim() >= 2 and state[n].is_floating_point()]
            what = "the default selection (float tensors with at least 2 dimensions)"
        else:
            chosen = [n for n in names if n in default]
            what = "the default selection (weights of Linear/Conv layers)"
    elif isinstance(include, str):
        try:
            pattern = re.compile(include)
        except re.error as e:
            raise ValueError(f"include={include!r} is not a valid regular expression: {e}") from e
        chosen = [n for n in names if pattern.search(n)]
        what = f"include={include!r}"
    elif callable(include):
        chosen = [n for n in names if include(n, state[n])]
        what = "the include callable"
    elif isinstance(include, Iterable) and not isinstance(include, bytes | Mapping):
        wanted = list(include)
        if not all(isinstance(n, str) for n in wanted):
            raise TypeError("include must be a list of tensor names (strings)")
        unknown = [n for n in wanted if n not in state]
        if unknown:
            raise ValueError(
                f"include names tensors that are not in the state dict: {unknown[:5]}; "
                f"available: {names[:10]}{' ...' if len(names) > 10 else ''}"
            )
        wanted_set = set(wanted)
        chosen = [n for n in names if n in wanted_set]
        what = "the include list"
    else:
        raise TypeError(
            "include must be None, a regular expression, a list of names or a callable "
            f"(name, tensor) -> bool; got {type(include).__name__}"
        )
    bad = [n for n in chosen if not state[n].is_floating_point()]
    if bad:
        raise ValueError(f"only float tensors can be quantized; {what} selects {bad[:5]}")
    if not chosen:
        raise ValueError(
            f"{what} selects no tensor to quantize; pass include= (a regex, a list of names "
            "or a callable)"
        )
    return chosen


def _check_fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1), got {type(value).__name__}")
    v = float(value)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"{name} must lie in [0, 1) (the fraction of weights removed); got {v}")
    return v


def _keep_largest(a: np.ndarray, fraction_pruned: float) -> np.ndarray:
    """Boolean mask keeping the ``round((1 - p) n)`` largest ``|a|`` (ties by position)."""
    n = a.size
    n_keep = n - int(round(fraction_pruned * n))
    mask = np.zeros(n, bool)
    if n_keep <= 0:
        return mask
    if n_keep >= n:
        mask[:] = True
        return mask
    order = np.argsort(-np.abs(a), kind="stable")
    mask[order[:n_keep]] = True
    return mask


def _resolve_masks(state: dict, chosen: list, prune) -> dict:
    """``{name: flat bool mask}`` for the pruned tensors (absent = dense)."""
    if prune is None:
        return {}
    if isinstance(prune, str):
        if prune != "zeros":
            raise ValueError(
                f"prune={prune!r} is not understood; use a fraction in [0, 1) (global "
                "magnitude threshold), a dict {name: fraction} (per tensor) or 'zeros'"
            )
        return {n: _to_numpy_f(state[n]).reshape(-1) != 0 for n in chosen}
    if isinstance(prune, Mapping):
        masks = {}
        for name, frac in prune.items():
            if name not in chosen:
                raise ValueError(
                    f"prune names {name!r}, which is not among the quantized tensors; "
                    f"quantized: {chosen[:10]}"
                )
            f = _check_fraction(f"prune[{name!r}]", frac)
            if f > 0:
                masks[name] = _keep_largest(_to_numpy_f(state[name]).reshape(-1), f)
        return masks
    f = _check_fraction("prune", prune)
    if f == 0:
        return {}
    flat = np.concatenate([_to_numpy_f(state[n]).reshape(-1) for n in chosen])
    keep = _keep_largest(flat, f)
    masks, a = {}, 0
    for n in chosen:
        k = state[n].numel()
        masks[n] = keep[a : a + k]
        a += k
    return masks


def _resolve_hessian(hessian, state: dict, chosen: list, quantizer) -> dict | None:
    if hessian is None:
        return None
    if quantizer not in _SCALAR_QUANTIZERS:
        raise ValueError(
            f"Hessian weighting needs quantizer='kmeans' or 'ecsq' (got quantizer={quantizer!r}); "
            "lattice and uniform quantizers have no weighted design"
        )
    if not isinstance(hessian, Mapping):
        raise TypeError(
            "hessian must be None, 'grad2', 'adam' or a dict {name: per-element importance}"
        )
    out = {}
    for n in chosen:
        if n not in hessian:
            raise ValueError(f"hessian has no entry for the quantized tensor {n!r}")
        h = hessian[n]
        h = _to_numpy_f(h) if isinstance(h, torch.Tensor) else np.asarray(h, np.float64)
        if tuple(h.shape) != tuple(state[n].shape):
            raise ValueError(
                f"hessian[{n!r}] has shape {tuple(h.shape)}, expected {tuple(state[n].shape)}"
            )
        h = h.astype(np.float64).reshape(-1)
        if not np.all(np.isfinite(h)) or (h < 0).any():
            raise ValueError(f"hessian[{n!r}] must be finite and non-negative")
        out[n] = h
    total = np.concatenate(list(out.values()))
    mean = float(total.mean()) if total.size else 0.0
    if not mean > 0:
        raise ValueError("the Hessian estimate is zero everywhere; calibrate with more data")
    # A small floor keeps every weight in the design (zero gradients happen, e.g. dead ReLUs).
    return {n: np.maximum(h, 1e-6 * mean) for n, h in out.items()}


def _check_per_tensor(per_tensor, chosen: list) -> dict:
    if per_tensor is None:
        return {}
    if not isinstance(per_tensor, Mapping):
        raise TypeError("per_tensor must be a dict {tensor name: {codec options}}")
    out = {}
    for name, opts in per_tensor.items():
        if name not in chosen:
            raise ValueError(
                f"per_tensor names {name!r}, which is not among the quantized tensors; "
                f"quantized: {chosen[:10]}"
            )
        if not isinstance(opts, Mapping):
            raise TypeError(f"per_tensor[{name!r}] must be a dict of codec options")
        for key in (*_CODEC_KEYS_RESERVED, "seed"):
            if key in opts:
                raise ValueError(f"per_tensor[{name!r}] may not set {key}=")
        out[name] = dict(opts)
    return out


def _make_plan(
    state: dict,
    chosen: list,
    masks: dict,
    hessian: dict | None,
    *,
    grouping: str,
    coder: str,
    mask_coder: str,
    unquantized: str,
    codec_options: dict,
    per_tensor: dict | None = None,
) -> _Plan:
    if grouping not in _GROUPINGS:
        raise ValueError(f"grouping must be one of {_GROUPINGS}, got {grouping!r}")
    if unquantized not in _UNQUANTIZED:
        raise ValueError(f"unquantized must be one of {_UNQUANTIZED}, got {unquantized!r}")
    if not isinstance(coder, str):
        raise TypeError("coder must be a string such as 'arithmetic', 'huffman', 'lzw' or 'auto'")
    get_coder(mask_coder)  # validates the name
    for key in _CODEC_KEYS_RESERVED:
        if key in codec_options:
            raise ValueError(
                f"{key}= is set by the binding; pass per-element importance with hessian=..."
            )
    per_tensor = _check_per_tensor(per_tensor, chosen)
    meta = {n: (tuple(t.shape), _torch_dtype_name(t.dtype)) for n, t in state.items()}
    # Tensors with the same effective options share a group ("network") or not ("layer").
    effective = {n: {**codec_options, "coder": coder, **per_tensor.get(n, {})} for n in chosen}
    member_lists: dict = {}
    for n in chosen:
        key = repr(sorted(effective[n].items())) if grouping == "network" else n
        member_lists.setdefault(key, []).append(n)
    groups = []
    for members in member_lists.values():
        if any(n in masks for n in members):
            mask = np.concatenate([masks.get(n, np.ones(state[n].numel(), bool)) for n in members])
        else:
            mask = None
        weights = None
        if hessian is not None:
            weights = np.concatenate([hessian[n] for n in members])
            if mask is not None:
                weights = weights[mask]
        groups.append(
            _Group(
                members=list(members),
                mask=mask,
                weights=weights,
                options=effective[members[0]],
                mask_coder=mask_coder,
            )
        )
    return _Plan(
        names=list(state),
        meta=meta,
        groups=groups,
        codec_options=dict(codec_options),
        coder=coder,
        mask_coder=mask_coder,
        unquantized=unquantized,
    )


# ---------------------------------------------------------------------------
# quantization (through the codec)
# ---------------------------------------------------------------------------
def _group_vector(state: dict, group: _Group) -> np.ndarray:
    parts = [_to_numpy_f(state[n]).reshape(-1) for n in group.members]
    dt = np.float64 if any(p.dtype == np.float64 for p in parts) else np.float32
    vec = np.concatenate([p.astype(dt, copy=False) for p in parts])
    return vec if group.mask is None else vec[group.mask]


def _quantize_group(vec: np.ndarray, group: _Group) -> None:
    """Quantize and code one group's kept values; fills ``q``, ``blob`` and ``mask_blob``."""
    opts = dict(group.options)
    if group.weights is not None:
        opts["weights"] = group.weights
    group.q = codec.quantize(vec, **opts)
    group.blob = group.q.to_bytes()
    if group.mask is not None:
        pos = np.flatnonzero(group.mask).astype(np.int64)
        gaps = np.diff(pos, prepend=-1) - 1
        group.mask_blob = get_coder(group.mask_coder).encode(gaps)
    else:
        group.mask_blob = None


# ---------------------------------------------------------------------------
# the archive
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


def _assemble(plan: _Plan, state: dict) -> tuple[bytes, dict, dict, int]:
    """Build the archive from coded groups and the other tensors.

    Returns the bytes, ``{name: bits}`` for tensors with records of their
    own, ``{name: store}`` and the framing + index bytes.
    """
    group_of = plan.group_of()
    records: list[bytes] = []
    tensors, own_bits, stores = [], {}, {}

    def add(blob: bytes) -> int:
        records.append(blob)
        return len(records) - 1

    groups_json = [None] * len(plan.groups)
    for name in plan.names:
        shape, dtype = plan.meta[name]
        entry = {"name": name, "shape": list(shape), "dtype": dtype}
        if name in group_of:
            entry.update(store="q", group=group_of[name])
        else:
            t = state[name]
            if t.is_floating_point() and plan.unquantized == "float16" and dtype != "float16":
                blob = _raw_bytes(t.to(torch.float16))
                entry["store"] = "f16"
            elif t.is_floating_point() or t.is_complex():
                blob = _raw_bytes(t)
                entry["store"] = "raw"
            else:
                coded = _int_record(t)
                if coded is None:
                    blob, entry["store"] = _raw_bytes(t), "raw"
                else:
                    blob, entry["store"] = coded, "int"
            entry["rec"] = add(blob)
            own_bits[name] = 8 * len(blob)
        stores[name] = entry["store"]
        tensors.append(entry)
    member_ids = {n: i for i, n in enumerate(plan.names)}
    for g, grp in enumerate(plan.groups):
        stream = add(grp.blob)
        mask = add(grp.mask_blob) if grp.mask_blob is not None else None
        n_total = sum(math.prod(plan.meta[n][0]) for n in grp.members)
        kept = int(grp.mask.sum()) if grp.mask is not None else n_total
        groups_json[g] = {
            "members": [member_ids[n] for n in grp.members],
            "stream": stream,
            "mask": mask,
            "kept": kept,
            "mask_coder": grp.mask_coder if mask is not None else None,
        }
    index = {
        "format": FORMAT_NAME,
        "tensors": tensors,
        "groups": groups_json,
        "records": [len(r) for r in records],
        "crc": zlib.crc32(b"".join(records)),
    }
    body = zlib.compress(json.dumps(index, sort_keys=True, separators=(",", ":")).encode(), 9)
    head = MODEL_MAGIC + bytes([MODEL_MAJOR, MODEL_MINOR]) + _U32.pack(len(body)) + body
    head += _U32.pack(zlib.crc32(head[8:]))
    data = head + b"".join(records)
    return data, own_bits, stores, len(head)


def _read(source) -> bytes:
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
    if len(data) < 18:
        if MODEL_MAGIC.startswith(data[:8]):
            raise TruncatedStreamError("model archive ends inside its fixed header")
        raise UnsupportedFormatError("not an rdcodec model archive (bad magic number)")
    if data[:8] != MODEL_MAGIC:
        raise UnsupportedFormatError("not an rdcodec model archive (bad magic number)")
    if data[8] != MODEL_MAJOR:
        raise UnsupportedFormatError(f"model archive version {data[8]}.{data[9]} is not supported")
    (n,) = _U32.unpack_from(data, 10)
    if len(data) < 18 + n:
        raise TruncatedStreamError("model archive ends inside its index")
    if zlib.crc32(data[8 : 14 + n]) != _U32.unpack_from(data, 14 + n)[0]:
        raise CorruptStreamError("model archive index checksum mismatch")
    try:
        index = json.loads(zlib.decompress(data[14 : 14 + n]).decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, ValueError):
        raise CorruptStreamError("model archive index is not valid") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT_NAME:
        raise UnsupportedFormatError("model archive index is not an rdcodec-torch index")
    rec_table = index.get("records")
    if not isinstance(rec_table, list):
        raise CorruptStreamError("model archive index has no record table")
    records, pos = [], 18 + n
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
    if not isinstance(crc, int) or zlib.crc32(data[18 + n :]) != crc:
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


def _decode_archive(data: bytes, max_elements: int | None) -> dict:
    """Decode every tensor to CPU torch tensors; raise codec.errors on any problem."""
    index, records = _parse(data)
    tensors, groups = index.get("tensors"), index.get("groups")
    if not isinstance(tensors, list) or not isinstance(groups, list):
        raise CorruptStreamError("model archive index lacks tensors or groups")

    def record(i) -> bytes:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(records):
            raise CorruptStreamError("model archive refers to a record that does not exist")
        return records[i]

    budget = max_elements
    metas = []
    for e in tensors:
        if not isinstance(e, dict) or not isinstance(e.get("name"), str):
            raise CorruptStreamError("model archive tensor entry is invalid")
        shape = _shape_of(e)
        dtype = e.get("dtype")
        if dtype not in _TORCH_DTYPES:
            raise UnsupportedFormatError(f"model archive tensor dtype {dtype!r} is not supported")
        numel = math.prod(shape)
        if budget is not None:
            budget -= numel
            if budget < 0:
                raise ValueError(
                    "the archive holds more than max_elements elements; raise max_elements"
                )
        metas.append((e["name"], shape, dtype, numel, e))
    names = [m[0] for m in metas]
    if len(set(names)) != len(names):
        raise CorruptStreamError("model archive has duplicate tensor names")

    out: dict = {}
    for name, shape, dtype, numel, e in metas:
        store = e.get("store")
        tdt = _TORCH_DTYPES[dtype]
        if store == "q":
            continue
        blob = record(e.get("rec"))
        if store in ("raw", "f16"):
            src = torch.float16 if store == "f16" else tdt
            if store == "f16" and dtype not in _FLOAT_DTYPES:
                raise CorruptStreamError("model archive stores a non-float tensor as float16")
            item = torch.empty(0, dtype=src).element_size()
            if len(blob) != numel * item:
                raise CorruptStreamError(f"model archive record of {name!r} has the wrong size")
            t = torch.frombuffer(bytearray(blob), dtype=torch.uint8) if blob else None
            if t is None:
                t = torch.empty(0, dtype=src)
            else:
                t = t.view(src)
            out[name] = t.reshape(shape).to(tdt)
        elif store == "int":
            if dtype in _FLOAT_DTYPES or dtype.startswith("complex"):
                raise CorruptStreamError("model archive codes a float tensor as integers")
            sym = get_coder("arithmetic").decode(blob, numel)
            if dtype == "bool":
                if sym.size and (sym.min() < 0 or sym.max() > 1):
                    raise CorruptStreamError(f"model archive bool tensor {name!r} is not 0/1")
            else:
                info = torch.iinfo(tdt)
                if sym.size and (sym.min() < info.min or sym.max() > info.max):
                    raise CorruptStreamError(f"model archive values of {name!r} overflow {dtype}")
            out[name] = torch.from_numpy(sym.copy()).to(tdt).reshape(shape)
        else:
            raise CorruptStreamError(f"model archive tensor {name!r} has unknown store {store!r}")

    in_group = set()
    for g in groups:
        if not isinstance(g, dict) or not isinstance(g.get("members"), list):
            raise CorruptStreamError("model archive group entry is invalid")
        members = g["members"]
        for m in members:
            if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m < len(metas):
                raise CorruptStreamError("model archive group member is invalid")
            if m in in_group or metas[m][4].get("store") != "q":
                raise CorruptStreamError("model archive group members are inconsistent")
            in_group.add(m)
        n_total = sum(metas[m][3] for m in members)
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
            full = values
        else:
            mcoder = g.get("mask_coder")
            if not isinstance(mcoder, str):
                raise CorruptStreamError("model archive group mask coder is invalid")
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
        a = 0
        for m in members:
            name, shape, dtype, numel, _ = metas[m]
            part = torch.from_numpy(np.ascontiguousarray(full[a : a + numel]))
            out[name] = part.to(_TORCH_DTYPES[dtype]).reshape(shape)
            a += numel
    missing = [m[0] for i, m in enumerate(metas) if m[4].get("store") == "q" and i not in in_group]
    if missing:
        raise CorruptStreamError(f"model archive tensor {missing[0]!r} belongs to no group")
    return {name: out[name] for name in names}


# ---------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------
def _code_lengths(symbols: np.ndarray) -> np.ndarray:
    """Ideal code length (bits) of each symbol under the empirical distribution."""
    if symbols.size == 0:
        return np.zeros(0)
    _, inv, counts = np.unique(symbols, return_inverse=True, return_counts=True)
    return -np.log2(counts[inv] / symbols.size)


def _stats(plan: _Plan, state: dict, decoded: dict, own_bits: dict, stores: dict) -> list:
    stats = {}
    for grp in plan.groups:
        sizes = [math.prod(plan.meta[n][0]) for n in grp.members]
        n_total = sum(sizes)
        mask = grp.mask if grp.mask is not None else np.ones(n_total, bool)
        bounds = np.cumsum([0, *sizes])
        kept_per = [int(mask[bounds[i] : bounds[i + 1]].sum()) for i in range(len(sizes))]
        # Stream bytes split by ideal code length of the indices (by kept count without them).
        member_of_kept = np.repeat(np.arange(len(sizes)), kept_per)
        if grp.q is not None and len(grp.q.indices) == member_of_kept.size:
            w = np.bincount(member_of_kept, _code_lengths(np.asarray(grp.q.indices)), len(sizes))
        else:
            w = np.asarray(kept_per, np.float64)
        if w.sum() <= 0:
            w = np.ones(len(sizes))
        share = 8 * len(grp.blob) * w / w.sum()
        if grp.mask_blob is not None:
            pos = np.flatnonzero(mask)
            gaps = np.diff(pos, prepend=-1) - 1
            member_of_gap = np.searchsorted(bounds[1:], pos, side="right")
            mw = np.bincount(member_of_gap, _code_lengths(gaps) + 1e-9, len(sizes))
            share = share + 8 * len(grp.mask_blob) * mw / mw.sum()
        for i, n in enumerate(grp.members):
            stats[n] = (share[i], kept_per[i])
    out = []
    for name in plan.names:
        shape, dtype = plan.meta[name]
        t, r = state[name], decoded[name]
        numel = t.numel()
        bits, kept = stats[name] if name in stats else (own_bits[name], numel)
        store = stores[name]
        if t.is_floating_point() and numel:
            a = _to_numpy_f(t).astype(np.float64)
            b = _to_numpy_f(r).astype(np.float64)
            err = float(np.sum((a - b) ** 2))
            sig = float(np.sum(a**2))
            mse = err / numel
            snr = math.inf if err == 0 else (10 * math.log10(sig / err) if sig > 0 else -math.inf)
        else:
            mse, snr = 0.0, math.inf
        out.append(
            LayerStats(
                name=name,
                shape=tuple(shape),
                dtype=dtype,
                store=store,
                parameters=numel,
                kept=kept,
                bits=float(bits),
                mse=mse,
                snr_db=snr,
            )
        )
    return out


def _finish(plan: _Plan, state: dict, reference: dict | None = None) -> CompressedModel:
    """Assemble the archive from ``state``; statistics against ``reference`` (default ``state``)."""
    data, own_bits, stores, overhead = _assemble(plan, state)
    decoded = _decode_archive(data, None)
    ref = state if reference is None else reference
    return CompressedModel(
        data=data,
        layers=_stats(plan, ref, decoded, own_bits, stores),
        overhead_bytes=overhead,
        _plan=plan,
    )


# ---------------------------------------------------------------------------
# public API: compression
# ---------------------------------------------------------------------------
def _compress(
    state: dict,
    chosen: list,
    *,
    prune,
    hessian: dict | None,
    quantizer,
    grouping,
    coder,
    mask_coder,
    unquantized,
    codec_options: dict,
    per_tensor=None,
) -> CompressedModel:
    masks = _resolve_masks(state, chosen, prune)
    weights = _resolve_hessian(hessian, state, chosen, quantizer)
    plan = _make_plan(
        state,
        chosen,
        masks,
        weights,
        grouping=grouping,
        coder=coder,
        mask_coder=mask_coder,
        unquantized=unquantized,
        codec_options=codec_options,
        per_tensor=per_tensor,
    )
    for grp in plan.groups:
        _quantize_group(_group_vector(state, grp), grp)
    return _finish(plan, state)


def compress_state_dict(
    state_dict,
    *,
    lattice: str | None = None,
    quantizer: str | None = None,
    rate: float | None = None,
    step: float | None = None,
    hessian=None,
    prune=0.0,
    include=None,
    coder: str = "arithmetic",
    seed: int = 0,
    grouping: str = "network",
    unquantized: str = "lossless",
    mask_coder: str = "arithmetic",
    per_tensor=None,
    **codec_options,
) -> CompressedModel:
    """Compress a plain state dict (``{name: tensor}``).

    Parameters
    ----------
    state_dict : Mapping[str, torch.Tensor]
        Dense tensors on any device; float16, bfloat16, float32, float64 are
        quantizable (bfloat16 through float32), integer and bool tensors are
        kept losslessly.
    lattice, quantizer, rate, step, seed, **codec_options
        Passed to :func:`codec.encode` / :func:`codec.quantize` for every group
        (e.g. ``quantizer="kmeans", levels=16`` or ``lattice="E8", rate=3``).
        ``rate`` is in bits per *coded* value of a group (the mask is extra).
    hessian : dict, optional
        ``{name: per-element importance}`` (same shape as the tensor), passed
        as the codec's ``weights=``; needs ``quantizer="kmeans"`` or ``"ecsq"``.
        (``"grad2"`` / ``"adam"`` need a model: see :func:`compress_model`.)
    prune : float, dict or "zeros"
        Magnitude pruning of the quantized tensors: a fraction in [0, 1) with
        one *global* threshold over all of them; ``{name: fraction}`` with a
        threshold per tensor; ``"zeros"`` to treat exact zeros as pruned.
    include : None, str, list of str or callable
        Tensors to quantize: a regular expression (``re.search`` on the
        name), a list of names, or ``f(name, tensor) -> bool``. Default: float
        tensors named ``*weight`` with at least 2 dimensions.
    coder : str
        Coder of the quantized values (``"arithmetic"``, ``"huffman"``,
        ``"lzw"``, ``"auto"``, ... as the codec provides).
    grouping : {"network", "layer"}
        One codec stream for all quantized tensors with the same options
        (one quantizer/codebook, one header), or one per tensor.
    unquantized : {"lossless", "float16"}
        How the other float tensors are stored: their raw bytes, or float16.
    mask_coder : str
        Coder of the pruning mask's gaps.
    per_tensor : dict, optional
        ``{name: {codec options}}`` overriding the options above for some
        quantized tensors (e.g. ``{"fc.weight": {"step": 0.01}}``, see
        :func:`allocate_steps`); tensors with different options never share
        a stream.

    Returns
    -------
    CompressedModel

    Raises
    ------
    TypeError, ValueError
        Wrong types, an option that cannot apply (e.g. ``hessian`` with a
        lattice quantizer, ``prune`` naming an unquantized tensor).

    Examples
    --------
    >>> import torch, bindings.pytorch as bp
    >>> sd = {"fc.weight": torch.randn(32, 32), "fc.bias": torch.zeros(32),
    ...       "steps": torch.tensor(7)}
    >>> cm = bp.compress_state_dict(sd, lattice="D4", step=0.05, prune=0.5)
    >>> out = bp.decompress_state_dict(cm)
    >>> int(out["steps"]), int((out["fc.weight"] == 0).sum()) >= 512
    (7, True)
    """
    state = _check_state_dict(state_dict)
    if isinstance(hessian, str):
        raise ValueError(
            f"hessian={hessian!r} needs a model; use compress_model, or pass a dict "
            "{name: per-element importance}"
        )
    chosen = _select(state, include, None)
    opts = _codec_opts(lattice, quantizer, rate, step, seed, codec_options)
    return _compress(
        state,
        chosen,
        prune=prune,
        hessian=hessian,
        quantizer=quantizer,
        grouping=grouping,
        coder=coder,
        mask_coder=mask_coder,
        unquantized=unquantized,
        codec_options=opts,
        per_tensor=per_tensor,
    )


def _codec_opts(lattice, quantizer, rate, step, seed, extra) -> dict:
    opts = {k: v for k, v in extra.items()}
    for k, v in (("lattice", lattice), ("quantizer", quantizer), ("rate", rate), ("step", step)):
        if v is not None:
            opts[k] = v
    opts["seed"] = seed
    return opts


def compress_model(
    model: nn.Module,
    *,
    lattice: str | None = None,
    quantizer: str | None = None,
    rate: float | None = None,
    step: float | None = None,
    hessian=None,
    prune=0.0,
    include=None,
    calibration: Iterable | None = None,
    loss_fn: Callable | None = None,
    optimizer=None,
    coder: str = "arithmetic",
    seed: int = 0,
    grouping: str = "network",
    unquantized: str = "lossless",
    mask_coder: str = "arithmetic",
    per_tensor=None,
    **codec_options,
) -> CompressedModel:
    """Compress a model's state dict (the model itself is left unchanged).

    Parameters
    ----------
    model : torch.nn.Module
        Any module; its ``state_dict()`` (parameters and buffers) is coded.
    lattice, quantizer, rate, step, seed, **codec_options
        Codec options for every group (see :func:`compress_state_dict`).
    hessian : None, "grad2", "adam" or dict
        Per-element importance for Hessian-weighted quantization (needs
        ``quantizer="kmeans"`` or ``"ecsq"``): ``"grad2"`` = mean squared
        gradients over ``calibration`` (:func:`hessian_from_gradients`);
        ``"adam"`` = square root of Adam's second moments from ``optimizer``
        (:func:`hessian_from_adam`); or a dict ``{name: tensor}``.
    prune, include, coder, grouping, unquantized, mask_coder, per_tensor
        As in :func:`compress_state_dict`; the default ``include`` is the
        ``weight`` of every ``nn.Linear`` and ``nn.Conv*`` module; ``include``
        callables receive ``(name, tensor)``.
    calibration : iterable of batches
        Batches for ``hessian="grad2"`` (only then).
    loss_fn : callable, optional
        ``loss_fn(model, batch) -> scalar tensor``; default: cross-entropy
        of ``model(batch[0])`` against ``batch[1]``.
    optimizer : torch.optim.Optimizer or its state_dict
        For ``hessian="adam"`` (only then).

    Returns
    -------
    CompressedModel

    Examples
    --------
    >>> import torch, bindings.pytorch as bp
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(),
    ...                           torch.nn.Linear(4 * 6 * 6, 10))
    >>> cm = bp.compress_model(net, lattice="E8", step=0.02, prune=0.5)
    >>> [s.store for s in cm.layers]
    ['q', 'raw', 'q', 'raw']
    >>> cm.ratio > 2
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    state = _check_state_dict(model.state_dict())
    chosen = _select(state, include, _default_module_selection(model))
    if calibration is not None and hessian != "grad2":
        raise ValueError("calibration= is used only with hessian='grad2'")
    if optimizer is not None and hessian != "adam":
        raise ValueError("optimizer= is used only with hessian='adam'")
    if loss_fn is not None and hessian != "grad2":
        raise ValueError("loss_fn= is used only with hessian='grad2'")
    if isinstance(hessian, str):
        if quantizer not in _SCALAR_QUANTIZERS:
            raise ValueError(
                f"Hessian weighting needs quantizer='kmeans' or 'ecsq' "
                f"(got quantizer={quantizer!r})"
            )
        if hessian == "grad2":
            if calibration is None:
                raise ValueError("hessian='grad2' needs calibration= (an iterable of batches)")
            hessian = hessian_from_gradients(model, calibration, loss_fn=loss_fn, names=chosen)
        elif hessian == "adam":
            if optimizer is None:
                raise ValueError("hessian='adam' needs optimizer= (an Adam optimizer or its state)")
            hessian = hessian_from_adam(model, optimizer, names=chosen)
        else:
            raise ValueError(f"hessian must be None, 'grad2', 'adam' or a dict; got {hessian!r}")
    opts = _codec_opts(lattice, quantizer, rate, step, seed, codec_options)
    return _compress(
        state,
        chosen,
        prune=prune,
        hessian=hessian,
        quantizer=quantizer,
        grouping=grouping,
        coder=coder,
        mask_coder=mask_coder,
        unquantized=unquantized,
        codec_options=opts,
        per_tensor=per_tensor,
    )


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
    >>> import torch, bindings.pytorch as bp
    >>> cm = bp.compress_state_dict({"w": torch.randn(8, 8, dtype=torch.bfloat16)}, step=0.1)
    >>> bp.decompress_state_dict(cm.to_bytes())["w"].dtype
    torch.bfloat16
    """
    data = _read(source)
    out = _decode_guarded(data, max_elements)
    if device is not None:
        out = {k: v.to(device) for k, v in out.items()}
    return out


def _decode_guarded(data: bytes, max_elements) -> dict:
    try:
        return _decode_archive(data, max_elements)
    except (CodecError, ValueError):
        raise
    except (TypeError, KeyError, IndexError, OverflowError, RuntimeError, MemoryError) as e:
        # Anything that slipped past the validation is still a bad stream.
        raise CorruptStreamError(f"model archive is corrupt ({type(e).__name__}: {e})") from None


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
    >>> import torch, bindings.pytorch as bp
    >>> net = torch.nn.Linear(16, 4)
    >>> cm = bp.compress_model(net, lattice="Z", step=0.01)
    >>> fresh = bp.load_compressed(cm, torch.nn.Linear(16, 4))
    >>> bool(torch.equal(fresh.weight, cm.state_dict()["weight"]))
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    decoded = _decode_guarded(_read(source), None)
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


# ---------------------------------------------------------------------------
# Hessian estimates and pruning masks
# ---------------------------------------------------------------------------
def _default_loss(model: nn.Module, batch):
    if not isinstance(batch, list | tuple) or len(batch) < 2:
        raise TypeError(
            "the default loss expects batches (inputs, targets); pass loss_fn(model, batch)"
        )
    return nn.functional.cross_entropy(model(batch[0]), batch[1])


def _to_device(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, list | tuple):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def _model_device(model: nn.Module):
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def hessian_from_gradients(
    model: nn.Module, calibration: Iterable, *, loss_fn: Callable | None = None, names=None
) -> dict:
    r"""Diagonal Hessian substitute: mean squared gradient per weight over calibration batches.

    .. math:: h_i = \frac{1}{B}\sum_{b=1}^{B} \left(\frac{\partial L_b}{\partial w_i}\right)^2

    The model is run in eval mode (no BatchNorm/dropout side effects) and its
    mode and ``.grad`` fields are restored afterwards.

    Parameters
    ----------
    model : torch.nn.Module
    calibration : iterable of batches
    loss_fn : callable, optional
        ``loss_fn(model, batch) -> scalar``; default cross-entropy on ``(x, y)``.
    names : list of str, optional
        Parameters to report (default: all parameters).

    Returns
    -------
    dict[str, torch.Tensor]
        float32 CPU tensors shaped like the parameters.

    Examples
    --------
    >>> import torch, bindings.pytorch as bp
    >>> net = torch.nn.Linear(4, 3)
    >>> batches = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(2)]
    >>> h = bp.hessian_from_gradients(net, batches)
    >>> h["weight"].shape, bool((h["weight"] >= 0).all())
    (torch.Size([3, 4]), True)
    """
    loss_fn = _default_loss if loss_fn is None else loss_fn
    params = dict(model.named_parameters())
    names = list(params) if names is None else list(names)
    missing = [n for n in names if n not in params]
    if missing:
        raise ValueError(f"gradients exist only for parameters; not parameters: {missing[:5]}")
    acc = {n: torch.zeros_like(params[n], dtype=torch.float32, device="cpu") for n in names}
    saved = {n: p.grad for n, p in params.items()}
    was_training = model.training
    device = _model_device(model)
    count = 0
    try:
        model.eval()
        for batch in calibration:
            for p in params.values():
                p.grad = None
            loss = loss_fn(model, _to_device(batch, device))
            loss.backward()
            for n in names:
                g = params[n].grad
                if g is not None:
                    acc[n] += g.detach().float().cpu() ** 2
            count += 1
    finally:
        model.train(was_training)
        for n, p in params.items():
            p.grad = saved[n]
    if count == 0:
        raise ValueError("calibration yielded no batches")
    return {n: a / count for n, a in acc.items()}


def hessian_from_adam(model: nn.Module, optimizer, *, names=None) -> dict:
    r"""Diagonal Hessian substitute from Adam: :math:`h_i = \sqrt{v_i}` (second moments).

    Parameters
    ----------
    model : torch.nn.Module
    optimizer : torch.optim.Optimizer or dict
        An Adam/AdamW optimizer over the model's parameters, or its
        ``state_dict()``; a state dict is matched to ``model.parameters()`` in
        order (so it must have been built as ``Adam(model.parameters())``).
    names : list of str, optional
        Parameters to report (default: every parameter with Adam state).

    Returns
    -------
    dict[str, torch.Tensor]
        float32 CPU tensors.

    Raises
    ------
    ValueError
        A requested parameter has no ``exp_avg_sq`` state or a mismatched shape.

    Examples
    --------
    >>> import torch, bindings.pytorch as bp
    >>> net = torch.nn.Linear(4, 3)
    >>> opt = torch.optim.Adam(net.parameters())
    >>> net(torch.randn(5, 4)).sum().backward(); opt.step()
    >>> h = bp.hessian_from_adam(net, opt)
    >>> sorted(h), h["weight"].shape
    (['bias', 'weight'], torch.Size([3, 4]))
    """
    named = list(model.named_parameters())
    found: dict = {}
    if isinstance(optimizer, torch.optim.Optimizer):
        by_id = {id(p): n for n, p in named}
        for p, st in optimizer.state.items():
            if id(p) in by_id and "exp_avg_sq" in st:
                found[by_id[id(p)]] = st["exp_avg_sq"]
    elif isinstance(optimizer, Mapping) and "state" in optimizer and "param_groups" in optimizer:
        ids = [i for g in optimizer["param_groups"] for i in g["params"]]
        if len(ids) != len(named):
            raise ValueError(
                f"the optimizer state covers {len(ids)} parameters but the model has "
                f"{len(named)}; pass the optimizer object instead"
            )
        for i, (n, _) in zip(ids, named, strict=True):
            st = optimizer["state"].get(i, {})
            if "exp_avg_sq" in st:
                found[n] = st["exp_avg_sq"]
    else:
        raise TypeError("optimizer must be a torch.optim.Optimizer or its state_dict()")
    params = dict(named)
    if not found:
        raise ValueError(
            "the optimizer has no Adam second moments (exp_avg_sq): use an Adam/AdamW "
            "optimizer over the model's parameters that has taken at least one step"
        )
    names = list(found) if names is None else list(names)
    out = {}
    for n in names:
        if n not in found:
            raise ValueError(
                f"no Adam second moments (exp_avg_sq) for {n!r}: use an Adam/AdamW optimizer "
                "over the model's parameters that has taken at least one step"
            )
        v = found[n].detach().float().cpu()
        if tuple(v.shape) != tuple(params[n].shape):
            raise ValueError(
                f"Adam state of {n!r} has shape {tuple(v.shape)}, expected {tuple(params[n].shape)}"
            )
        out[n] = v.clamp_min(0).sqrt()
    return out


def magnitude_masks(model_or_state, prune, *, include=None) -> dict:
    """Boolean keep-masks of magnitude pruning (``True`` = kept), without changing anything.

    Parameters
    ----------
    model_or_state : torch.nn.Module or Mapping[str, torch.Tensor]
    prune : float or dict
        A fraction with one global threshold over all selected tensors, or
        ``{name: fraction}`` with one threshold per tensor.
    include : as in :func:`compress_model`

    Returns
    -------
    dict[str, torch.Tensor]
        Bool tensors on the tensors' devices, for the selected tensors.

    Examples
    --------
    >>> import torch, bindings.pytorch as bp
    >>> net = torch.nn.Linear(10, 10)
    >>> m = bp.magnitude_masks(net, 0.9)
    >>> int(m["weight"].sum())
    10
    """
    if isinstance(model_or_state, nn.Module):
        state = _check_state_dict(model_or_state.state_dict())
        chosen = _select(state, include, _default_module_selection(model_or_state))
    else:
        state = _check_state_dict(model_or_state)
        chosen = _select(state, include, None)
    if isinstance(prune, str):
        raise ValueError("magnitude_masks needs a fraction or a dict {name: fraction}")
    masks = _resolve_masks(state, chosen, prune)
    return {
        n: torch.from_numpy(masks.get(n, np.ones(state[n].numel(), bool)).copy())
        .reshape(state[n].shape)
        .to(state[n].device)
        for n in chosen
    }


def allocate_steps(hessian: Mapping, step: float, *, max_ratio: float = 8.0) -> dict:
    r"""Per-tensor lattice/uniform steps from a diagonal Hessian (weighted reverse water-filling).

    With ``H_l`` the mean Hessian estimate of tensor ``l`` (``n_l`` elements), the
    output error :math:`\sum_l H_l n_l G s_l^2` at a fixed total rate
    :math:`\sum_l n_l (c_l - \log_2 s_l)` is least when every tensor has the same
    error per element weighted by its sensitivity, i.e.

    .. math:: s_l = s \sqrt{\bar H / H_l},

    with :math:`\bar H` the ``n``-weighted geometric mean of the ``H_l`` (so the total
    rate stays that of a common step ``s`` at high rate). Steps are clipped to
    ``[s / max_ratio, s * max_ratio]``.

    Parameters
    ----------
    hessian : dict[str, tensor or array]
        Per-element importance of each tensor (e.g. from
        :func:`hessian_from_gradients` or :func:`hessian_from_adam`).
    step : float
        The common step it replaces.
    max_ratio : float
        Largest factor between a tensor's step and ``step``.

    Returns
    -------
    dict
        ``{name: {"step": s_l}}``, ready for ``per_tensor=``.

    Examples
    --------
    >>> import torch, bindings.pytorch as bp
    >>> steps = bp.allocate_steps({"a": torch.full((10,), 4.0), "b": torch.ones(10)}, 0.1)
    >>> round(steps["a"]["step"], 4), round(steps["b"]["step"], 4)
    (0.0707, 0.1414)
    """
    step = float(step)
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"step must be positive, got {step}")
    if not (isinstance(max_ratio, numbers.Real) and max_ratio >= 1):
        raise ValueError("max_ratio must be a number >= 1")
    means, sizes = {}, {}
    for name, h in hessian.items():
        a = _to_numpy_f(h) if isinstance(h, torch.Tensor) else np.asarray(h, np.float64)
        if a.size == 0:
            continue
        if not np.all(np.isfinite(a)) or (a < 0).any():
            raise ValueError(f"hessian[{name!r}] must be finite and non-negative")
        means[name], sizes[name] = float(a.mean()), a.size
    positive = [m for m in means.values() if m > 0]
    if not positive:
        raise ValueError("the Hessian estimate is zero everywhere")
    floor = min(positive)
    logs = {n: math.log(max(m, floor)) for n, m in means.items()}
    total = sum(sizes.values())
    log_mean = sum(sizes[n] * logs[n] for n in logs) / total
    out = {}
    for n in logs:
        factor = math.exp(0.5 * (log_mean - logs[n]))
        out[n] = {"step": step * min(max(factor, 1 / max_ratio), max_ratio)}
    return out


# ---------------------------------------------------------------------------
# fine-tuning of the shared values, and SLQ
# ---------------------------------------------------------------------------
def _batches(data, epochs: int, progress, desc: str):
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    for epoch in range(int(epochs)):
        it = data() if callable(data) else data
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc=f"{desc} {epoch + 1}/{epochs}", leave=False)
        yield from it


def _member_slices(plan: _Plan, grp: _Group):
    a = 0
    for n in grp.members:
        k = math.prod(plan.meta[n][0])
        yield n, a, a + k
        a += k


def finetune_shared_values(
    compressed: CompressedModel,
    model: nn.Module,
    data,
    *,
    loss_fn: Callable | None = None,
    epochs: int = 1,
    lr: float = 1e-4,
    train_unquantized: bool = True,
    progress: bool = False,
) -> CompressedModel:
    r"""Fine-tune the shared quantized values with the indices fixed (Choi et al. 2018).

    Every quantized weight is ``w_i = c[k_i] - u_i`` (``k_i`` its index, ``c``
    the group's table of shared values, ``u_i`` its dither, zero without
    dither). The gradient of ``c_k`` is the *average* gradient of the weights
    that share it,

    .. math:: g_k = \frac{1}{|\{i: k_i = k\}|} \sum_{i: k_i = k} \frac{\partial L}{\partial w_i},

    and ``c`` is updated by Adam; the decoder reproduces the fine-tuned
    network from the same indices plus the new table. Pruned weights stay 0.
    With ``train_unquantized``, the tensors stored losslessly (biases, ...)
    are trained too and stored again.

    Parameters
    ----------
    compressed : CompressedModel
        A result of :func:`compress_model` made in this session (it holds the
        quantized arrays; a file read back does not).
    model : torch.nn.Module
        The architecture; it is not modified (a copy is trained).
    data : iterable of batches, or a callable returning one per epoch
    loss_fn : callable, optional
        ``loss_fn(model, batch) -> scalar``; default cross-entropy on ``(x, y)``.
    epochs : int
    lr : float
        Adam learning rate for the shared values (and the unquantized tensors).
    train_unquantized : bool
    progress : bool
        Show a tqdm bar per epoch.

    Returns
    -------
    CompressedModel
        A new archive with the same indices and masks and the tuned values.

    Examples
    --------
    >>> import torch, bindings.pytorch as bp
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> batches = [(torch.randn(32, 8), torch.randint(0, 3, (32,))) for _ in range(4)]
    >>> cm = bp.compress_model(net, quantizer="kmeans", levels=4)
    >>> tuned = bp.finetune_shared_values(cm, net, batches, epochs=2, lr=1e-2)
    >>> values = torch.cat([tuned.state_dict()[k].reshape(-1) for k in ("0.weight", "2.weight")])
    >>> len(torch.unique(values)) <= 4  # still 4 shared values, now fine-tuned
    True
    """
    if not isinstance(compressed, CompressedModel) or compressed._plan is None:
        raise ValueError(
            "compressed must be a CompressedModel returned by compress_model in this session"
        )
    plan = copy.copy(compressed._plan)
    lr = float(lr)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be positive, got {lr}")
    loss_fn = _default_loss if loss_fn is None else loss_fn
    work = copy.deepcopy(model)
    load_compressed(compressed, work)
    params = dict(work.named_parameters())
    group_of = plan.group_of()
    for n in group_of:
        if n not in params:
            raise ValueError(f"the quantized tensor {n!r} is not a parameter of the model")
    device = _model_device(work)

    tables, idx, dither, positions = [], [], [], []
    for grp in plan.groups:
        q = grp.q
        c = torch.tensor(np.asarray(q.shared_values, np.float64), device=device, requires_grad=True)
        k = torch.as_tensor(np.asarray(q.indices, np.int64) - int(q.index_offset), device=device)
        if k.numel() and (int(k.min()) < 0 or int(k.max()) >= c.numel()):
            raise ValueError("quantized indices fall outside the table of shared values")
        u = torch.as_tensor(np.asarray(q.dither_term, np.float64).reshape(-1), device=device)
        n_total = sum(math.prod(plan.meta[n][0]) for n in grp.members)
        pos = (
            torch.arange(n_total, device=device)
            if grp.mask is None
            else torch.as_tensor(np.flatnonzero(grp.mask), device=device)
        )
        tables.append(c)
        idx.append(k)
        dither.append(u)
        positions.append(pos)
    others = [p for n, p in params.items() if n not in group_of] if train_unquantized else []
    opt = torch.optim.Adam(tables + others, lr=lr) if (tables or others) else None

    # positions are sorted: each member's kept values are one contiguous run of them
    runs = []
    for g, grp in enumerate(plan.groups):
        members = []
        for n, a, b in _member_slices(plan, grp):
            lo, hi = (
                int(i)
                for i in torch.searchsorted(positions[g], torch.tensor([a, b], device=device))
            )
            members.append((n, a, lo, hi, grp.mask is None))
        runs.append(members)

    def write_back():
        with torch.no_grad():
            for g in range(len(plan.groups)):
                w = tables[g][idx[g]] - dither[g]
                for n, a, lo, hi, dense in runs[g]:
                    p = params[n]
                    if dense:
                        p.copy_(w[lo:hi].reshape(p.shape))
                    else:
                        flat = torch.zeros(p.numel(), dtype=torch.float64, device=device)
                        flat[positions[g][lo:hi] - a] = w[lo:hi]
                        p.copy_(flat.reshape(p.shape))

    write_back()
    work.train()
    for batch in _batches(data, epochs, progress, "fine-tune shared values"):
        work.zero_grad(set_to_none=True)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(work, _to_device(batch, device))
        loss.backward()
        for g, grp in enumerate(plan.groups):
            parts = []
            for n, _, _ in _member_slices(plan, grp):
                gr = params[n].grad
                parts.append(
                    torch.zeros(params[n].numel(), dtype=torch.float64, device=device)
                    if gr is None
                    else gr.detach().reshape(-1).double()
                )
            flat = torch.cat(parts)
            if grp.mask is not None:
                flat = flat[positions[g]]
            k = idx[g]
            sums = torch.zeros_like(tables[g]).index_add_(0, k, flat)
            counts = torch.zeros_like(tables[g]).index_add_(0, k, torch.ones_like(flat))
            tables[g].grad = sums / counts.clamp_min(1)
        opt.step()
        write_back()
    work.eval()

    state = _check_state_dict(work.state_dict())
    reference = _check_state_dict(model.state_dict())
    new_groups = []
    for g, grp in enumerate(plan.groups):
        q = grp.q.with_shared_values(tables[g].detach().cpu().numpy())
        new_groups.append(replace(grp, q=q, blob=q.to_bytes(), mask_blob=grp.mask_blob))
    plan.groups = new_groups
    return _finish(plan, state, reference)


def slq_compress(
    model: nn.Module,
    data,
    *,
    stages=(0.5, 0.75, 0.875, 1.0),
    loss_fn: Callable | None = None,
    epochs: int = 1,
    lr: float = 1e-3,
    progress: bool = False,
    **compress_options,
) -> CompressedModel:
    """Layer-by-layer partial quantize-and-retrain (SLQ, Xu et al. 2018), then compress.

    For each quantized tensor in state-dict order and each fraction ``f`` of
    ``stages``: the group is quantized, the fraction ``f`` of that tensor's
    kept weights closest to their quantized values (and all of every earlier
    tensor) is frozen at the quantized values, and the free weights of the
    network are retrained for ``epochs`` on ``data`` (Adam, ``lr``). After
    the last stage every weight sits on its quantized value, and those very
    indices are coded. Pruning (``prune=``) is applied once at the start;
    pruned weights stay zero throughout.

    Parameters
    ----------
    model : torch.nn.Module
        Not modified (a copy is trained).
    data : iterable of batches, or a callable returning one per epoch
    stages : sequence of float
        Increasing fractions in (0, 1], ending with 1.
    loss_fn, epochs, lr, progress
        As in :func:`finetune_shared_values`.
    **compress_options
        As in :func:`compress_model`, except that ``hessian`` must be a dict
        (or None).

    Returns
    -------
    CompressedModel
        MSE/SNR are measured against ``model``'s original tensors.

    Examples
    --------
    >>> import torch, bindings.pytorch as bp
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> batches = [(torch.randn(32, 8), torch.randint(0, 3, (32,))) for _ in range(4)]
    >>> cm = bp.slq_compress(net, batches, stages=(0.5, 1.0), lattice="Z", step=0.05, dither=False)
    >>> grid = cm.state_dict()["0.weight"] / 0.05  # every weight on the quantization grid
    >>> bool(torch.allclose(grid, grid.round(), atol=1e-4))
    True
    """
    try:
        stages = [float(s) for s in stages]
    except (TypeError, ValueError):
        raise TypeError("stages must be a sequence of fractions") from None
    if (
        not stages
        or stages[-1] != 1.0
        or any(not 0 <= a < b for a, b in zip([0.0, *stages], stages, strict=False))
    ):
        raise ValueError(f"stages must increase within (0, 1] and end with 1, got {stages}")
    opts = dict(compress_options)
    for bad in ("calibration", "optimizer"):
        if bad in opts:
            raise ValueError(f"slq_compress takes no {bad}=; pass hessian as a dict")
    hessian = opts.pop("hessian", None)
    if isinstance(hessian, str):
        raise ValueError(
            "slq_compress takes hessian as a dict; compute it first with "
            "hessian_from_gradients or hessian_from_adam"
        )
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    loss_fn = _default_loss if loss_fn is None else loss_fn
    include = opts.pop("include", None)
    prune = opts.pop("prune", 0.0)
    plan_args = {
        "grouping": opts.pop("grouping", "network"),
        "coder": opts.pop("coder", "arithmetic"),
        "mask_coder": opts.pop("mask_coder", "arithmetic"),
        "unquantized": opts.pop("unquantized", "lossless"),
        "per_tensor": opts.pop("per_tensor", None),
    }
    quantizer = opts.get("quantizer")
    codec_opts = _codec_opts(
        opts.pop("lattice", None),
        opts.pop("quantizer", None),
        opts.pop("rate", None),
        opts.pop("step", None),
        opts.pop("seed", 0),
        opts,
    )

    reference = _check_state_dict(model.state_dict())
    work = copy.deepcopy(model)
    state = _check_state_dict(work.state_dict())
    chosen = _select(state, include, _default_module_selection(work))
    params = dict(work.named_parameters())
    for n in chosen:
        if n not in params:
            raise ValueError(f"the quantized tensor {n!r} is not a parameter of the model")
    masks = _resolve_masks(state, chosen, prune)
    weights = _resolve_hessian(hessian, state, chosen, quantizer)
    device = _model_device(work)
    keep = {
        n: torch.as_tensor(masks[n], device=device).reshape(params[n].shape)
        if n in masks
        else torch.ones_like(params[n], dtype=torch.bool)
        for n in chosen
    }
    frozen = {n: torch.zeros_like(params[n], dtype=torch.bool) for n in chosen}
    target = {n: torch.zeros_like(params[n]) for n in chosen}
    with torch.no_grad():
        for n in chosen:
            params[n].mul_(keep[n])

    def quantize_now():
        st = _check_state_dict(work.state_dict())
        plan = _make_plan(
            st,
            chosen,
            {n: masks[n] for n in masks},
            weights,
            codec_options=codec_opts,
            **plan_args,
        )
        for grp in plan.groups:
            _quantize_group(_group_vector(st, grp), grp)
        return plan, _decode_archive(_assemble(plan, st)[0], None)

    def pin():
        with torch.no_grad():
            for m in chosen:
                params[m].copy_(torch.where(frozen[m], target[m], params[m]) * keep[m])

    opt = torch.optim.Adam(work.parameters(), lr=float(lr))
    hooks = [params[n].register_hook(lambda g, n=n: g * (keep[n] & ~frozen[n])) for n in chosen]
    final_plan = None
    try:
        for li, n in enumerate(chosen):
            for f in stages:
                plan, rec = quantize_now()
                with torch.no_grad():
                    for m in chosen:
                        target[m] = rec[m].to(device=device, dtype=params[m].dtype)
                    err = (params[n] - target[n]).abs().reshape(-1).double()
                    err = err.masked_fill(~keep[n].reshape(-1), math.inf)
                    n_freeze = int(round(f * int(keep[n].sum())))
                    fr = torch.zeros(err.numel(), dtype=torch.bool, device=device)
                    fr[torch.argsort(err, stable=True)[:n_freeze]] = True
                    frozen[n] = fr.reshape(params[n].shape)
                pin()
                if li == len(chosen) - 1 and f == 1.0:
                    final_plan = plan
                    break
                work.train()
                for batch in _batches(data, epochs, progress, f"SLQ {n} {f:.3g}"):
                    opt.zero_grad(set_to_none=True)
                    loss_fn(work, _to_device(batch, device)).backward()
                    opt.step()
                    pin()  # Adam's momentum moves frozen weights a little: put them back
    finally:
        for h in hooks:
            h.remove()
    work.eval()
    return _finish(final_plan, _check_state_dict(work.state_dict()), reference)
