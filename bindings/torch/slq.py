"""SLQ: layer-by-layer partial quantize-and-retrain (Xu et al. 2018), then compression."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ._state import check_state_dict, default_module_selection, select_tensors
from ._training import default_loss, epoch_batches, model_device, to_device
from .archive import CompressedModel, decode_model_file, write_model_file
from .compress import finish, gather_codec_options, group_vector, make_plan, quantize_group
from .hessian import importance_weights
from .prune import resolve_masks

__all__ = ["slq_compress"]


def _check_stages(stages) -> list:
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
    return stages


@dataclass
class _Settings:
    """``compress_options`` of :func:`slq_compress`, sorted by who uses them."""

    include: object
    prune: object
    hessian: dict | None
    quantizer: str | None
    plan_args: dict  # for make_plan
    codec_options: dict


def _settings(compress_options: dict) -> _Settings:
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
    include = opts.pop("include", None)
    prune = opts.pop("prune", 0.0)
    plan_args = {
        "grouping": opts.pop("grouping", "network"),
        "coder": opts.pop("coder", "arithmetic"),
        "mask_coder": opts.pop("mask_coder", "context"),
        "unquantized": opts.pop("unquantized", "lossless"),
        "per_tensor": opts.pop("per_tensor", None),
    }
    quantizer = opts.get("quantizer")
    codec_opts = gather_codec_options(
        opts.pop("lattice", None),
        opts.pop("quantizer", None),
        opts.pop("rate", None),
        opts.pop("step", None),
        opts.pop("seed", 0),
        opts,
    )
    return _Settings(include, prune, hessian, quantizer, plan_args, codec_opts)


def _freeze_closest(param, target, keep, fraction: float) -> torch.Tensor:
    """Bool mask of the ``fraction`` of the kept weights closest to their targets."""
    with torch.no_grad():
        err = (param - target).abs().reshape(-1).double()
        err = err.masked_fill(~keep.reshape(-1), math.inf)
        n_freeze = int(round(fraction * int(keep.sum())))
        fr = torch.zeros(err.numel(), dtype=torch.bool, device=err.device)
        fr[torch.argsort(err, stable=True)[:n_freeze]] = True
    return fr.reshape(param.shape)


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
    >>> import torch, bindings.torch as bt
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> batches = [(torch.randn(32, 8), torch.randint(0, 3, (32,))) for _ in range(4)]
    >>> cm = bt.slq_compress(net, batches, stages=(0.5, 1.0), lattice="Z", step=0.05, dither=False)
    >>> grid = cm.state_dict()["0.weight"] / 0.05  # every weight on the quantization grid
    >>> bool(torch.allclose(grid, grid.round(), atol=1e-4))
    True
    """
    stages = _check_stages(stages)
    cfg = _settings(compress_options)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    loss_fn = default_loss if loss_fn is None else loss_fn

    reference = check_state_dict(model.state_dict())
    work = copy.deepcopy(model)
    state = check_state_dict(work.state_dict())
    chosen = select_tensors(state, cfg.include, default_module_selection(work))
    params = dict(work.named_parameters())
    for n in chosen:
        if n not in params:
            raise ValueError(f"the quantized tensor {n!r} is not a parameter of the model")
    masks = resolve_masks(state, chosen, cfg.prune)
    weights = importance_weights(cfg.hessian, state, chosen, cfg.quantizer)
    device = model_device(work)
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
        st = check_state_dict(work.state_dict())
        plan = make_plan(
            st, chosen, dict(masks), weights, codec_options=cfg.codec_options, **cfg.plan_args
        )
        for grp in plan.groups:
            quantize_group(group_vector(st, grp), grp)
        return plan, decode_model_file(write_model_file(plan, st)[0], None)

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
                frozen[n] = _freeze_closest(params[n], target[n], keep[n], f)
                pin()
                if li == len(chosen) - 1 and f == 1.0:
                    final_plan = plan
                    break
                work.train()
                for batch in epoch_batches(data, epochs, progress, f"SLQ {n} {f:.3g}"):
                    opt.zero_grad(set_to_none=True)
                    loss_fn(work, to_device(batch, device)).backward()
                    opt.step()
                    pin()  # Adam's momentum moves frozen weights a little: put them back
    finally:
        for h in hooks:
            h.remove()
    work.eval()
    return finish(final_plan, check_state_dict(work.state_dict()), reference)
