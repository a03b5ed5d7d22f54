r"""MLQ: ternary weights {−α, 0, +α} per layer, quantized incrementally (Xu et al. 2018).

Xu, Wang, Zhou, Lin & Xiong (AAAI 2018), "Deep Neural Network Compression
with Single and Multiple Level Quantization": SLQ (:mod:`bindings.torch.slq`)
for high bit rates, MLQ for ternary networks. Both quantize in the *width*
(part of a layer's weights quantized, the rest re-trained to make up for the
loss) and in the *depth* (layer after layer, each quantization compensated by
re-training the layers not yet quantized). The ternary quantizer of a layer is
Li & Liu's (2016, TWN):

.. math:: \Delta = t \cdot \frac{1}{n}\sum_i |w_i|, \qquad
          \alpha = \operatorname{mean}\{|w_i| : |w_i| > \Delta\}, \qquad
          q(w) = \alpha \operatorname{sign}(w)\, [\,|w| > \Delta\,]

(``t = 0.7`` is TWN's approximation of the optimal threshold for Gaussian or
uniform weights). The archive stores each quantized group through the codec as
a scalar codebook of the distinct ternary values (``quantizer="kmeans",
method="dp"`` designed on data that takes exactly those values, so every level
is exact and the zero level is exactly 0), its indices entropy-coded: the ratio
counts the real bytes of the indices, the levels and the headers.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._state import check_state_dict, default_module_selection, select_tensors, to_numpy_f
from ._training import default_loss, epoch_batches, model_device, to_device
from .archive import CompressedModel
from .compress import finish, group_vector, make_plan, quantize_group
from .prune import resolve_masks
from .slq import _check_stages, _freeze_closest

__all__ = ["ternarize", "mlq_compress"]

_ORDERS = ("loss", "forward")


def ternarize(
    weights: torch.Tensor, threshold: float | str = 0.7, keep: torch.Tensor | None = None
):
    r"""Ternary weights ``α·sign(w)·[|w| > Δ]`` with TWN's threshold (or the exact one) and scale.

    .. math:: \Delta = t\,\overline{|w|}, \qquad
              \alpha = \operatorname{mean}\{|w_i| : |w_i| > \Delta\}

    ``α`` minimises :math:`\sum_i (w_i - q_i)^2` for the chosen support
    (Li & Liu 2016). Both means run over the kept weights only.

    ``threshold="exact"`` chooses the support that minimises the squared error
    itself: with the kept magnitudes sorted decreasingly, :math:`m_{(1)} \ge
    m_{(2)} \ge \dots`, the best support is the ``k`` largest for

    .. math:: k^\star = \arg\max_k \frac{1}{k}\Big(\sum_{i \le k} m_{(i)}\Big)^2

    (the error is :math:`\sum m_i^2 - (\sum_{i\le k} m_{(i)})^2 / k`), and
    ``Δ`` is the next magnitude, :math:`m_{(k^\star+1)}` (0 when every kept
    weight is in the support). TWN's ``t = 0.7`` approximates :math:`k^\star`
    for Gaussian or uniform weights; after magnitude pruning the kept weights
    have no small values, the approximation zeroes 13–16 % of them on the
    demo's LeNet-5 (95 % pruned), and the exact rule keeps 95–99 %.

    Parameters
    ----------
    weights : torch.Tensor
        Floating-point tensor, any shape.
    threshold : float or "exact"
        ``t > 0``: the threshold as a multiple of the mean magnitude; or
        ``"exact"``: the least-squares support (above).
    keep : torch.Tensor of bool, optional
        Same shape; ``False`` marks pruned weights (always 0, not counted).

    Returns
    -------
    (torch.Tensor, float, float)
        The ternary tensor (``weights``' dtype, ``α`` rounded to it, so every
        non-zero element is exactly ``±α``), ``α`` and ``Δ``. ``α = 0`` when no
        weight exceeds ``Δ``.

    Raises
    ------
    TypeError
        ``weights`` is not a floating-point tensor.
    ValueError
        ``threshold`` neither a positive finite number nor ``"exact"``;
        ``keep`` of another shape.

    Examples
    --------
    >>> import torch
    >>> from bindings.torch.mlq import ternarize
    >>> q, alpha, delta = ternarize(torch.tensor([-1.0, -0.1, 0.05, 0.6, 1.4]))
    >>> q.tolist(), alpha, round(delta, 3)
    ([-1.0, 0.0, 0.0, 1.0, 1.0], 1.0, 0.441)
    >>> q, alpha, delta = ternarize(torch.tensor([-1.0, -0.1, 0.05, 0.6, 1.4]), "exact")
    >>> q.tolist(), alpha, delta
    ([-1.0, 0.0, 0.0, 1.0, 1.0], 1.0, 0.10000000149011612)
    """
    if not isinstance(weights, torch.Tensor) or not weights.is_floating_point():
        raise TypeError("weights must be a floating-point torch.Tensor")
    t = _check_threshold(threshold)
    if keep is None:
        keep = torch.ones_like(weights, dtype=torch.bool)
    elif keep.shape != weights.shape:
        raise ValueError(f"keep has shape {tuple(keep.shape)}, weights {tuple(weights.shape)}")
    with torch.no_grad():
        mag = weights.detach().abs().double()
        kept = mag[keep]
        delta = _exact_delta(kept) if t == "exact" else _twn_delta(kept, t)
        support = keep & (mag > delta)
        alpha = float(mag[support].mean()) if bool(support.any()) else 0.0
        # α in the tensor's own precision: the codec's levels (float32 for float32 tensors)
        # then reproduce it bit for bit.
        a = torch.tensor(alpha, dtype=weights.dtype)
        q = torch.where(support, torch.sign(weights.detach()) * a.to(weights.device), 0.0)
    return q.to(weights.dtype), float(a), delta


def _twn_delta(kept: torch.Tensor, t: float) -> float:
    return t * float(kept.mean()) if kept.numel() else 0.0


def _exact_delta(kept: torch.Tensor) -> float:
    """The ``Δ`` of the least-squares ternary support of the magnitudes ``kept``."""
    m = kept[kept > 0].sort(descending=True).values
    if m.numel() == 0:
        return 0.0
    gain = m.cumsum(0) ** 2 / torch.arange(1, m.numel() + 1, dtype=m.dtype, device=m.device)
    k = int(torch.argmax(gain)) + 1  # the first maximum: the smallest best support
    return float(m[k]) if k < m.numel() else 0.0


def _check_threshold(threshold) -> float | str:
    if isinstance(threshold, str):
        if threshold != "exact":
            raise ValueError(
                f"threshold must be a positive number (TWN uses 0.7) or 'exact', got {threshold!r}"
            )
        return threshold
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise TypeError(f"threshold must be a number or 'exact', got {threshold!r}") from None
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"threshold must be a positive number (TWN uses 0.7), got {threshold!r}")
    return t


@dataclass
class _Layers:
    """The quantized parameters of the working copy and their per-weight state."""

    params: dict  # name -> parameter
    keep: dict  # name -> bool tensor (False: pruned)
    frozen: dict  # name -> bool tensor (True: on its ternary value, no longer trained)
    target: dict  # name -> ternary values (meaningful where frozen)
    scale: dict  # name -> (alpha, delta) fixed when the layer's quantization starts

    def pin(self) -> None:
        """Frozen weights back on their ternary values, pruned ones to 0."""
        with torch.no_grad():
            for n, p in self.params.items():
                p.copy_(torch.where(self.frozen[n], self.target[n], p) * self.keep[n])

    def ternary_now(self, n: str) -> torch.Tensor:
        """Layer ``n`` ternarized with its fixed ``(α, Δ)``; frozen weights keep their value."""
        alpha, delta = self.scale[n]
        p = self.params[n].detach()
        a = torch.tensor(alpha, dtype=p.dtype, device=p.device)
        fresh = torch.where(p.abs() > delta, torch.sign(p) * a, torch.zeros_like(p)) * self.keep[n]
        return torch.where(self.frozen[n], self.target[n], fresh)


def _calibration(data, n_batches: int) -> list:
    it = data() if callable(data) else data
    return list(itertools.islice(iter(it), n_batches))


def _loss_with(work, layers: _Layers, n: str, threshold, batches, loss_fn, device):
    """Mean loss over ``batches`` with layer ``n`` ternarized (then restored)."""
    p = layers.params[n]
    saved = p.detach().clone()
    q, _, _ = ternarize(p.detach(), threshold, layers.keep[n])
    with torch.no_grad():
        p.copy_(q)
        work.eval()
        total = sum(float(loss_fn(work, to_device(b, device))) for b in batches)
        p.copy_(saved)
    return total / max(len(batches), 1)


def _next_layer(work, layers, remaining, order, threshold, batches, loss_fn, device) -> str:
    """The next layer to quantize: the lowest calibration loss once ternarized, or the first."""
    if order == "forward" or len(remaining) == 1 or not batches:
        return remaining[0]
    losses = [_loss_with(work, layers, n, threshold, batches, loss_fn, device) for n in remaining]
    return remaining[int(np.argmin(losses))]


def _store(work, chosen, masks, reference, *, grouping, coder, mask_coder, unquantized, seed):
    """Code the ternary network: each group as a scalar codebook of its distinct values."""
    state = check_state_dict(work.state_dict())
    per_tensor = None
    if grouping == "layer":
        per_tensor = {n: {"levels": _distinct(state, [n], masks)} for n in chosen}
        levels = 3
    else:
        levels = _distinct(state, chosen, masks)
    plan = make_plan(
        state,
        chosen,
        dict(masks),
        None,
        grouping=grouping,
        coder=coder,
        mask_coder=mask_coder,
        unquantized=unquantized,
        codec_options={"quantizer": "kmeans", "method": "dp", "levels": levels, "seed": seed},
        per_tensor=per_tensor,
    )
    for grp in plan.groups:
        quantize_group(group_vector(state, grp), grp)
    cm = finish(plan, state, reference)
    decoded = cm.state_dict()
    for n in chosen:
        if not torch.equal(decoded[n].cpu(), state[n].cpu()):
            raise RuntimeError(f"the ternary values of {n!r} did not survive coding; please report")
    return cm


def _distinct(state: dict, names: list, masks: dict) -> int:
    """Number of distinct kept values of ``names`` (the codebook size that codes them exactly)."""
    vals = []
    for n in names:
        v = to_numpy_f(state[n]).reshape(-1)
        vals.append(v[masks[n]] if n in masks else v)
    return max(int(np.unique(np.concatenate(vals)).size), 1)


def mlq_compress(
    model: nn.Module,
    data,
    *,
    threshold: float | str = 0.7,
    stages=(0.5, 0.75, 0.875, 1.0),
    order: str = "loss",
    calibration_batches: int = 4,
    loss_fn: Callable | None = None,
    epochs: int = 1,
    lr: float = 1e-3,
    include=None,
    prune=0.0,
    grouping: str = "layer",
    coder: str = "arithmetic",
    mask_coder: str = "context",
    unquantized: str | int = "lossless",
    seed: int = 0,
    progress: bool = False,
) -> CompressedModel:
    r"""Ternary {−α, 0, +α} weights per layer, quantized incrementally (MLQ, Xu et al. 2018).

    *Depth*: the layers are quantized one at a time; with ``order="loss"`` the
    next one is the remaining layer whose ternarization (with the current
    weights) gives the lowest loss on the first ``calibration_batches`` batches
    of ``data`` — the part with the lowest loss first — and with
    ``"forward"`` the state-dict order. *Width*: when a layer's turn comes its
    ``Δ`` and ``α`` are fixed (:func:`ternarize`); for each fraction ``f`` of
    ``stages`` the fraction ``f`` of its kept weights closest to their ternary
    values (lowest quantization loss :math:`|w_i - q_i|`) is frozen on them,
    and every free weight of the network (the layer's rest, the layers still
    to come, biases) is re-trained for ``epochs`` on ``data`` (Adam, ``lr``) to
    compensate. At the end every quantized weight is ``−α``, ``0`` or ``+α``
    of its layer, and the network is coded with one scalar codebook of those
    values per group (exact levels, exact zero; :mod:`bindings.torch.mlq`).

    ``stages=(1.0,)`` with ``epochs=0`` is plain post-training ternarization.

    Parameters
    ----------
    model : torch.nn.Module
        Not modified (a copy is trained).
    data : iterable of batches, or a callable returning one per epoch
    threshold : float or "exact"
        ``t`` of :math:`\Delta = t\,\overline{|w|}` (TWN: 0.7), or the
        least-squares support (:func:`ternarize`; the better choice for a
        pruned network, whose kept weights have no small values).
    stages : sequence of float
        Increasing fractions in (0, 1], ending with 1.
    order : {"loss", "forward"}
    calibration_batches : int
        Batches of ``data`` that rank the layers (``order="loss"``).
    loss_fn, epochs, lr, progress
        As in :func:`finetune_shared_values`.
    include, prune, coder, mask_coder, unquantized, seed
        As in :func:`compress_model` (``prune="zeros"`` keeps a pruned
        network's zeros as its mask; pruned weights stay 0 throughout).
    grouping : {"layer", "network"}
        One stream and 3-level codebook per layer (default: each layer's
        index statistics are its own), or one stream whose codebook holds
        every layer's ±α and the shared 0 (its indices then also tell the
        layers apart, which costs more than the saved headers on LeNet-5).

    Returns
    -------
    CompressedModel
        MSE/SNR against ``model``'s original tensors.

    Raises
    ------
    TypeError, ValueError
        Bad arguments (what to pass is in the message).

    Examples
    --------
    >>> import torch, bindings.torch as bt
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> batches = [(torch.randn(32, 8), torch.randint(0, 3, (32,))) for _ in range(4)]
    >>> cm = bt.mlq_compress(net, batches, stages=(0.5, 1.0))
    >>> sorted(set(cm.state_dict()["0.weight"].abs().unique().tolist()))[0]  # an exact zero level
    0.0
    >>> len(cm.state_dict()["2.weight"].unique()) <= 3
    True
    """
    stages = _check_stages(stages)
    t = _check_threshold(threshold)
    if order not in _ORDERS:
        raise ValueError(f"order must be one of {_ORDERS}, got {order!r}")
    if isinstance(calibration_batches, bool) or not isinstance(calibration_batches, int):
        raise TypeError("calibration_batches must be an integer")
    if calibration_batches < 1:
        raise ValueError(f"calibration_batches must be >= 1, got {calibration_batches}")
    lr = float(lr)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be positive, got {lr}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    loss_fn = default_loss if loss_fn is None else loss_fn

    reference = check_state_dict(model.state_dict())
    work = copy.deepcopy(model)
    state = check_state_dict(work.state_dict())
    chosen = select_tensors(state, include, default_module_selection(work))
    all_params = dict(work.named_parameters())
    for n in chosen:
        if n not in all_params:
            raise ValueError(f"the quantized tensor {n!r} is not a parameter of the model")
        if all_params[n].dtype not in (torch.float32, torch.float64):
            raise ValueError(f"{n!r} is {all_params[n].dtype}; MLQ needs float32 or float64")
    masks = resolve_masks(state, chosen, prune)
    device = model_device(work)
    params = {n: all_params[n] for n in chosen}
    layers = _Layers(
        params=params,
        keep={
            n: torch.as_tensor(masks[n], device=device).reshape(p.shape)
            if n in masks
            else torch.ones_like(p, dtype=torch.bool)
            for n, p in params.items()
        },
        frozen={n: torch.zeros_like(p, dtype=torch.bool) for n, p in params.items()},
        target={n: torch.zeros_like(p) for n, p in params.items()},
        scale={},
    )
    layers.pin()
    schedule = _Schedule(t, stages, order, calibration_batches, loss_fn, epochs, lr, progress)
    _run_mlq(work, layers, chosen, data, schedule, device)
    work.eval()
    store = {"coder": coder, "mask_coder": mask_coder, "unquantized": unquantized, "seed": seed}
    return _store(work, chosen, masks, reference, grouping=grouping, **store)


@dataclass
class _Schedule:
    """The training settings of :func:`mlq_compress`."""

    threshold: float | str
    stages: list
    order: str
    calibration_batches: int
    loss_fn: Callable
    epochs: int
    lr: float
    progress: bool


def _run_mlq(work, layers: _Layers, chosen: list, data, sch: _Schedule, device) -> None:
    """The depth loop (layer after layer) around the width loop (stages within a layer)."""
    t, loss_fn = sch.threshold, sch.loss_fn
    rank = sch.order == "loss" and len(chosen) > 1
    batches = _calibration(data, sch.calibration_batches) if rank else []
    opt = torch.optim.Adam(work.parameters(), lr=sch.lr)
    hooks = [
        p.register_hook(lambda g, n=n: g * (layers.keep[n] & ~layers.frozen[n]))
        for n, p in layers.params.items()
    ]
    # The unquantized parameters (biases) still compensate after the last layer's last part.
    others_free = any(
        p.requires_grad for name, p in work.named_parameters() if name not in layers.params
    )
    remaining = list(chosen)
    try:
        while remaining:
            n = _next_layer(work, layers, remaining, sch.order, t, batches, loss_fn, device)
            remaining.remove(n)
            _, alpha, delta = ternarize(layers.params[n].detach(), t, layers.keep[n])
            layers.scale[n] = (alpha, delta)
            for f in sch.stages:
                layers.target[n] = layers.ternary_now(n)
                layers.frozen[n] = _freeze_closest(
                    layers.params[n], layers.target[n], layers.keep[n], f
                )
                layers.pin()
                if not remaining and f == 1.0 and not others_free:
                    break  # every weight is on its ternary value: nothing left to train
                work.train()
                for batch in epoch_batches(data, sch.epochs, sch.progress, f"MLQ {n} {f:.3g}"):
                    opt.zero_grad(set_to_none=True)
                    loss_fn(work, to_device(batch, device)).backward()
                    opt.step()
                    layers.pin()  # Adam's momentum moves frozen weights a little: put them back
    finally:
        for h in hooks:
            h.remove()
