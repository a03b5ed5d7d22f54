"""Compression: which tensors, in which groups, with which options; then quantize and code.

A :class:`CompressionPlan` lists every tensor of the state dict and the
:class:`TensorGroup` s of quantized tensors (each group is one codec stream);
:func:`quantize_group` fills a group's quantized array and bytes, and
:func:`finish` writes the model file (:mod:`bindings.torch.archive`) and the
per-tensor statistics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from torch import nn

import codec

from ._state import (
    check_state_dict,
    default_module_selection,
    select_tensors,
    to_numpy_f,
    torch_dtype_name,
)
from .archive import (
    CONTEXT_MASK_CODER,
    CompressedModel,
    LayerStats,
    check_mask_coder,
    decode_model_file,
    encode_group_mask,
    write_model_file,
)
from .hessian import (
    check_weighted_quantizer,
    hessian_from_adam,
    hessian_from_gradients,
    importance_weights,
)
from .prune import resolve_masks

__all__ = ["compress_state_dict", "compress_model"]

_CODEC_KEYS_RESERVED = ("weights", "x")
_GROUPINGS = ("network", "layer")
_UNQUANTIZED = ("lossless", "float16")


# ---------------------------------------------------------------------------
# the compression plan
# ---------------------------------------------------------------------------
@dataclass
class TensorGroup:
    """Quantized tensors coded as one codec stream (and one pruning mask)."""

    members: list  # tensor names, in state-dict order
    shapes: list  # their shapes
    mask: np.ndarray | None  # bool over the concatenated members, None = all kept
    weights: np.ndarray | None = None  # importance of the kept values
    options: dict = field(default_factory=dict)  # codec options, coder included
    q: object = None  # codec.QuantizedArray
    blob: bytes = b""
    mask_blob: bytes | None = None
    mask_coder: str = CONTEXT_MASK_CODER


@dataclass
class CompressionPlan:
    """Every tensor of a state dict, and the groups its quantized tensors are coded in."""

    names: list  # every tensor of the state dict, in order
    meta: dict  # name -> (shape tuple, dtype name)
    groups: list  # of TensorGroup
    codec_options: dict
    coder: str
    mask_coder: str
    unquantized: str | int

    def group_of(self) -> dict:
        """``{tensor name: group index}`` of the quantized tensors."""
        return {n: g for g, grp in enumerate(self.groups) for n in grp.members}


def check_unquantized(unquantized) -> None:
    """``"lossless"``, ``"float16"`` or a number of bits in ``[1, 30]``, else an error."""
    if isinstance(unquantized, bool) or not isinstance(unquantized, (str, int)):
        raise TypeError(
            f"unquantized must be one of {_UNQUANTIZED} or an int of bits, got {unquantized!r}"
        )
    if isinstance(unquantized, int):
        if not 1 <= unquantized <= 30:
            raise ValueError(f"unquantized bits must lie in [1, 30], got {unquantized}")
    elif unquantized not in _UNQUANTIZED:
        raise ValueError(
            f"unquantized must be one of {_UNQUANTIZED} or an int of bits, got {unquantized!r}"
        )


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


def make_plan(
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
) -> CompressionPlan:
    """Check the options and group the ``chosen`` tensors: tensors with the same effective
    options share a group with ``grouping="network"``, each has its own with ``"layer"``."""
    if grouping not in _GROUPINGS:
        raise ValueError(f"grouping must be one of {_GROUPINGS}, got {grouping!r}")
    check_unquantized(unquantized)
    if not isinstance(coder, str):
        raise TypeError("coder must be a string such as 'arithmetic', 'huffman', 'lzw' or 'auto'")
    check_mask_coder(mask_coder)
    for key in _CODEC_KEYS_RESERVED:
        if key in codec_options:
            raise ValueError(
                f"{key}= is set by the binding; pass per-element importance with hessian=..."
            )
    per_tensor = _check_per_tensor(per_tensor, chosen)
    meta = {n: (tuple(t.shape), torch_dtype_name(t.dtype)) for n, t in state.items()}
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
            TensorGroup(
                members=list(members),
                shapes=[meta[n][0] for n in members],
                mask=mask,
                weights=weights,
                options=effective[members[0]],
                mask_coder=mask_coder,
            )
        )
    return CompressionPlan(
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
def group_vector(state: dict, group: TensorGroup) -> np.ndarray:
    """The kept values of a group's members, flattened and concatenated (float32 or float64)."""
    parts = [to_numpy_f(state[n]).reshape(-1) for n in group.members]
    dt = np.float64 if any(p.dtype == np.float64 for p in parts) else np.float32
    vec = np.concatenate([p.astype(dt, copy=False) for p in parts])
    return vec if group.mask is None else vec[group.mask]


def quantize_group(vec: np.ndarray, group: TensorGroup) -> None:
    """Quantize and code one group's kept values; fills ``q``, ``blob`` and ``mask_blob``.

    With a pruning mask and an elementwise quantizer (scalar codebooks, Z without
    dither), kept values whose reconstruction is exactly 0.0 are moved into the
    mask: they decode to the same 0.0 as pruned, and cost neither a kept bit of
    the mask nor a value symbol.
    """
    opts = dict(group.options)
    if group.weights is not None:
        opts["weights"] = group.weights
    group.q = codec.quantize(vec, **opts)
    if group.mask is not None and group.q.quantizer.elementwise:
        zero = group.q.reconstruction() == 0.0
        if zero.any():
            mask = group.mask.copy()
            mask[np.flatnonzero(mask)[zero]] = False
            group.mask, group.q = mask, group.q.subset(~zero)
            if group.weights is not None:
                group.weights = group.weights[~zero]
    group.blob = group.q.to_bytes()
    if group.mask is not None:
        group.mask_blob = encode_group_mask(group.mask, group.shapes, group.mask_coder)
    else:
        group.mask_blob = None


# ---------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------
def _code_lengths(symbols: np.ndarray) -> np.ndarray:
    """Ideal code length (bits) of each symbol under the empirical distribution."""
    if symbols.size == 0:
        return np.zeros(0)
    _, inv, counts = np.unique(symbols, return_inverse=True, return_counts=True)
    return -np.log2(counts[inv] / symbols.size)


def _group_member_bits(plan: CompressionPlan, grp: TensorGroup) -> dict:
    """``{member: (bits, kept)}``: the group's stream and mask bits split among its members."""
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
    if grp.mask_blob is not None and grp.mask_coder == CONTEXT_MASK_CODER:
        # mask bytes split by each member's i.i.d. mask entropy n·H(kept / n)
        p = np.clip(np.asarray(kept_per) / np.maximum(sizes, 1), 1e-12, 1 - 1e-12)
        mw = np.asarray(sizes) * -(p * np.log2(p) + (1 - p) * np.log2(1 - p)) + 1e-9
        share = share + 8 * len(grp.mask_blob) * mw / mw.sum()
    elif grp.mask_blob is not None:
        pos = np.flatnonzero(mask)
        gaps = np.diff(pos, prepend=-1) - 1
        member_of_gap = np.searchsorted(bounds[1:], pos, side="right")
        mw = np.bincount(member_of_gap, _code_lengths(gaps) + 1e-9, len(sizes))
        share = share + 8 * len(grp.mask_blob) * mw / mw.sum()
    return {n: (share[i], kept_per[i]) for i, n in enumerate(grp.members)}


def _error(t, r) -> tuple[float, float]:
    """MSE and SNR (dB) of ``r`` against the tensor ``t`` (0 and inf for non-float tensors)."""
    numel = t.numel()
    if not (t.is_floating_point() and numel):
        return 0.0, math.inf
    a = to_numpy_f(t).astype(np.float64)
    b = to_numpy_f(r).astype(np.float64)
    err = float(np.sum((a - b) ** 2))
    sig = float(np.sum(a**2))
    snr = math.inf if err == 0 else (10 * math.log10(sig / err) if sig > 0 else -math.inf)
    return err / numel, snr


def _stats(plan: CompressionPlan, state: dict, decoded: dict, own_bits: dict, stores: dict) -> list:
    """One :class:`LayerStats` per tensor of the plan, in state-dict order."""
    stats = {}
    for grp in plan.groups:
        stats.update(_group_member_bits(plan, grp))
    out = []
    for name in plan.names:
        shape, dtype = plan.meta[name]
        t, r = state[name], decoded[name]
        numel = t.numel()
        bits, kept = stats[name] if name in stats else (own_bits[name], numel)
        store = stores[name]
        mse, snr = _error(t, r)
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


def finish(plan: CompressionPlan, state: dict, reference: dict | None = None) -> CompressedModel:
    """Assemble the archive from ``state``; statistics against ``reference`` (default ``state``)."""
    data, own_bits, stores, overhead = write_model_file(plan, state)
    decoded = decode_model_file(data, None)
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
    masks = resolve_masks(state, chosen, prune)
    weights = importance_weights(hessian, state, chosen, quantizer)
    plan = make_plan(
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
        quantize_group(group_vector(state, grp), grp)
    return finish(plan, state)


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
    unquantized: str | int = "lossless",
    mask_coder: str = CONTEXT_MASK_CODER,
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
        Passed untouched to :func:`codec.quantize` for every group (e.g.
        ``quantizer="kmeans", levels=16`` or ``lattice="E8", rate=3``), so any
        registered quantizer works with its own options.
        ``rate`` is in bits per *coded* value of a group (the mask is extra).
    hessian : dict, optional
        ``{name: per-element importance}`` (same shape as the tensor), passed
        as the codec's ``weights=``; needs a quantizer that accepts weights
        (:attr:`codec.quantizers.base.Designer.accepts_weights`, e.g.
        ``quantizer="kmeans"``).
        (``"grad2"`` / ``"adam"`` need a model: see :func:`compress_model`.)
    prune : float, dict or "zeros"
        Magnitude pruning of the quantized tensors: a fraction in [0, 1) with
        one *global* threshold over all of them (a tensor whose weights are all
        small can lose every one: a warning names it); ``{name or glob
        pattern: fraction}`` with a threshold per tensor (``{"*": 0.9}``
        prunes 90 % of each); ``"zeros"`` to treat exact zeros as pruned.
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
    unquantized : {"lossless", "float16"} or int
        How the other float tensors (biases, ...) are stored: their raw bytes,
        float16, or, given ``B`` bits, rounded to multiples of ``2**s`` with
        ``s = ceil(log2 max|t|) - B`` (error at most ``max|t|·2**-B``) and
        coded by the adaptive arithmetic coder; ``B = 8`` takes LeNet-5's
        580 biases from 1,160 bytes (float16) to about 600.
    mask_coder : str
        Coder of the pruning mask: ``"context"`` (default; context-modelled
        binary coding, :func:`codec.coders.mask.encode_mask`) or a symbol
        coder's name for the gaps between kept positions.
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
    >>> import torch, bindings.torch as bt
    >>> sd = {"fc.weight": torch.randn(32, 32), "fc.bias": torch.zeros(32),
    ...       "steps": torch.tensor(7)}
    >>> cm = bt.compress_state_dict(sd, lattice="D4", step=0.05, prune=0.5)
    >>> out = bt.decompress_state_dict(cm)
    >>> int(out["steps"]), int((out["fc.weight"] == 0).sum()) >= 512
    (7, True)
    """
    state = check_state_dict(state_dict)
    if isinstance(hessian, str):
        raise ValueError(
            f"hessian={hessian!r} needs a model; use compress_model, or pass a dict "
            "{name: per-element importance}"
        )
    chosen = select_tensors(state, include, None)
    opts = gather_codec_options(lattice, quantizer, rate, step, seed, codec_options)
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


def gather_codec_options(lattice, quantizer, rate, step, seed, extra) -> dict:
    """The options every group passes to :func:`codec.quantize`, untouched otherwise:
    ``extra`` (a quantizer's own options such as ``levels=`` or ``states=``) plus the
    named ones that were given, and ``seed``."""
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
    unquantized: str | int = "lossless",
    mask_coder: str = CONTEXT_MASK_CODER,
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
        Per-element importance for Hessian-weighted quantization (needs a
        quantizer that accepts weights, e.g. ``"kmeans"``): ``"grad2"`` = mean squared
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
    >>> import torch, bindings.torch as bt
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(),
    ...                           torch.nn.Linear(4 * 6 * 6, 10))
    >>> cm = bt.compress_model(net, lattice="E8", step=0.02, prune=0.5)
    >>> [s.store for s in cm.layers]
    ['q', 'raw', 'q', 'raw']
    >>> cm.ratio > 2
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    state = check_state_dict(model.state_dict())
    chosen = select_tensors(state, include, default_module_selection(model))
    hessian = _model_hessian(
        model,
        hessian,
        chosen,
        quantizer,
        calibration=calibration,
        loss_fn=loss_fn,
        optimizer=optimizer,
    )
    opts = gather_codec_options(lattice, quantizer, rate, step, seed, codec_options)
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


def _model_hessian(model, hessian, chosen, quantizer, *, calibration, loss_fn, optimizer):
    """``hessian`` of :func:`compress_model` resolved to a dict (or None): ``"grad2"`` and
    ``"adam"`` computed from the model; the options that only they use checked."""
    if calibration is not None and hessian != "grad2":
        raise ValueError("calibration= is used only with hessian='grad2'")
    if optimizer is not None and hessian != "adam":
        raise ValueError("optimizer= is used only with hessian='adam'")
    if loss_fn is not None and hessian != "grad2":
        raise ValueError("loss_fn= is used only with hessian='grad2'")
    if not isinstance(hessian, str):
        return hessian
    check_weighted_quantizer(quantizer)
    if hessian == "grad2":
        if calibration is None:
            raise ValueError("hessian='grad2' needs calibration= (an iterable of batches)")
        return hessian_from_gradients(model, calibration, loss_fn=loss_fn, names=chosen)
    if hessian == "adam":
        if optimizer is None:
            raise ValueError("hessian='adam' needs optimizer= (an Adam optimizer or its state)")
        return hessian_from_adam(model, optimizer, names=chosen)
    raise ValueError(f"hessian must be None, 'grad2', 'adam' or a dict; got {hessian!r}")
