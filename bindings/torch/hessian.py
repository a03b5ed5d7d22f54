r"""Diagonal Hessian substitutes (per-element importance) and the steps they allocate.

The importance weights the design of the quantizers that accept weights
(:attr:`codec.quantizers.base.Designer.accepts_weights`) through the codec's
``weights=``, and sets per-tensor steps (:func:`allocate_steps`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import torch
from torch import nn

from codec.options import DEFAULT_QUANTIZER
from codec.quantizers.base import designer_names, get_designer

from ._state import to_numpy_f
from ._training import default_loss, model_device, to_device

__all__ = ["hessian_from_gradients", "hessian_from_adam", "allocate_steps"]


def check_weighted_quantizer(quantizer) -> None:
    """ValueError unless ``quantizer`` (a ``quantizer=`` value, None for the codec's default)
    designs with per-element importance."""
    name = DEFAULT_QUANTIZER if quantizer is None else quantizer
    if get_designer(name).accepts_weights:
        return
    weighted = [n for n in designer_names() if get_designer(n).accepts_weights]
    unweighted = [n for n in designer_names() if n not in weighted]
    raise ValueError(
        "Hessian weighting needs a quantizer that accepts weights: "
        f"quantizer={', '.join(repr(n) for n in weighted)} (got quantizer={quantizer!r}); "
        f"{', '.join(unweighted)} quantizers have no weighted design"
    )


def importance_weights(hessian, state: dict, chosen: list, quantizer) -> dict | None:
    """``{name: flat float64 importance}`` of the quantized tensors, validated (None without)."""
    if hessian is None:
        return None
    check_weighted_quantizer(quantizer)
    if not isinstance(hessian, Mapping):
        raise TypeError(
            "hessian must be None, 'grad2', 'adam' or a dict {name: per-element importance}"
        )
    out = {}
    for n in chosen:
        if n not in hessian:
            raise ValueError(f"hessian has no entry for the quantized tensor {n!r}")
        h = hessian[n]
        h = to_numpy_f(h) if isinstance(h, torch.Tensor) else np.asarray(h, np.float64)
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
    >>> import torch, bindings.torch as bt
    >>> net = torch.nn.Linear(4, 3)
    >>> batches = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(2)]
    >>> h = bt.hessian_from_gradients(net, batches)
    >>> h["weight"].shape, bool((h["weight"] >= 0).all())
    (torch.Size([3, 4]), True)
    """
    loss_fn = default_loss if loss_fn is None else loss_fn
    params = dict(model.named_parameters())
    names = list(params) if names is None else list(names)
    missing = [n for n in names if n not in params]
    if missing:
        raise ValueError(f"gradients exist only for parameters; not parameters: {missing[:5]}")
    acc = {n: torch.zeros_like(params[n], dtype=torch.float32, device="cpu") for n in names}
    saved = {n: p.grad for n, p in params.items()}
    was_training = model.training
    device = model_device(model)
    count = 0
    try:
        model.eval()
        for batch in calibration:
            for p in params.values():
                p.grad = None
            loss = loss_fn(model, to_device(batch, device))
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
    >>> import torch, bindings.torch as bt
    >>> net = torch.nn.Linear(4, 3)
    >>> opt = torch.optim.Adam(net.parameters())
    >>> net(torch.randn(5, 4)).sum().backward(); opt.step()
    >>> h = bt.hessian_from_adam(net, opt)
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
    >>> import torch, bindings.torch as bt
    >>> steps = bt.allocate_steps({"a": torch.full((10,), 4.0), "b": torch.ones(10)}, 0.1)
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
        a = to_numpy_f(h) if isinstance(h, torch.Tensor) else np.asarray(h, np.float64)
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
