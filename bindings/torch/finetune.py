r"""Fine-tuning of the shared quantized values with the indices fixed (Choi et al. 2018).

The shared values are the levels of a scalar codebook (k-means, ECSQ,
uniform), the reconstruction values of a lattice's indices, or the codewords of
a vector quantizer (VQ/PQ/RVQ: every coordinate of every codebook; Gong et al.
2014 fine-tune the codebooks the same way).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from ._state import check_state_dict
from ._training import default_loss, epoch_batches, model_device, to_device
from .archive import CompressedModel, load_compressed
from .compress import CompressionPlan, TensorGroup, finish

__all__ = ["finetune_shared_values"]


def member_slices(plan: CompressionPlan, grp: TensorGroup):
    """``(name, start, end)`` of each member in the group's concatenated elements."""
    a = 0
    for n in grp.members:
        k = math.prod(plan.meta[n][0])
        yield n, a, a + k
        a += k


@dataclass
class _TrainableGroup:
    """One group as torch tensors: ``w[positions] = table[idx].sum(0) - dither``.

    ``idx`` has one row per shared value an element sums (one for scalar
    quantizers and lattices, one per stage for residual VQ).

    ``runs`` holds ``(name, start, lo, hi, dense)`` per member: its elements
    start at ``start`` of the group and its kept values are ``lo:hi`` of
    ``idx`` (positions are sorted, so each member's are one contiguous run).
    """

    table: torch.Tensor  # the shared values, trained
    idx: torch.Tensor
    dither: torch.Tensor
    positions: torch.Tensor
    runs: list
    dense: bool


def _trainable_group(plan: CompressionPlan, grp: TensorGroup, device) -> _TrainableGroup:
    q = grp.q
    c = torch.tensor(np.asarray(q.shared_values, np.float64), device=device, requires_grad=True)
    k = torch.as_tensor(np.asarray(q.shared_value_index, np.int64), device=device)
    if k.numel() and (int(k.min()) < 0 or int(k.max()) >= c.numel()):
        raise ValueError("quantized indices fall outside the table of shared values")
    u = torch.as_tensor(np.asarray(q.dither_term, np.float64).reshape(-1), device=device)
    n_total = sum(math.prod(plan.meta[n][0]) for n in grp.members)
    pos = (
        torch.arange(n_total, device=device)
        if grp.mask is None
        else torch.as_tensor(np.flatnonzero(grp.mask), device=device)
    )
    runs = []
    for n, a, b in member_slices(plan, grp):
        lo, hi = (int(i) for i in torch.searchsorted(pos, torch.tensor([a, b], device=device)))
        runs.append((n, a, lo, hi))
    return _TrainableGroup(c, k, u, pos, runs, grp.mask is None)


def _write_back(groups: list[_TrainableGroup], params: dict, device) -> None:
    """Set every quantized parameter to ``table[idx] - dither`` (pruned elements 0)."""
    with torch.no_grad():
        for tg in groups:
            w = tg.table[tg.idx].sum(0) - tg.dither
            for n, a, lo, hi in tg.runs:
                p = params[n]
                if tg.dense:
                    p.copy_(w[lo:hi].reshape(p.shape))
                else:
                    flat = torch.zeros(p.numel(), dtype=torch.float64, device=device)
                    flat[tg.positions[lo:hi] - a] = w[lo:hi]
                    p.copy_(flat.reshape(p.shape))


def _table_gradient(tg: _TrainableGroup, params: dict, device) -> torch.Tensor:
    """The gradient of each shared value: the mean gradient of the weights that share it
    (over every stage of a residual VQ in which it is used)."""
    parts = []
    for n, _, _, _ in tg.runs:
        gr = params[n].grad
        parts.append(
            torch.zeros(params[n].numel(), dtype=torch.float64, device=device)
            if gr is None
            else gr.detach().reshape(-1).double()
        )
    flat = torch.cat(parts)
    if not tg.dense:
        flat = flat[tg.positions]
    idx = tg.idx.reshape(-1)  # stage-major, like ``flat`` repeated per stage
    every = flat.repeat(tg.idx.shape[0])
    sums = torch.zeros_like(tg.table).index_add_(0, idx, every)
    counts = torch.zeros_like(tg.table).index_add_(0, idx, torch.ones_like(every))
    return sums / counts.clamp_min(1)


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
    keep_zero: bool = False,
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

    For a vector quantizer (``quantizer="vq"``, ``"pq"``, ``"rvq"``) ``c`` is
    every coordinate of every codebook: weight ``i`` (coordinate ``e`` of a
    sub-vector coded by codeword ``k`` of its sub-space's codebook) shares
    coordinate ``e`` of that codeword with every sub-vector coded by it, and
    with ``S`` residual stages it is the sum :math:`w_i = \sum_s c[k_{s,i}]`,
    so each codebook entry gets the mean gradient over the weights (and
    stages) that use it. The fine-tuned codebooks travel in the stream's
    header, in the precision the design chose for them.

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
    keep_zero : bool
        Shared values that are exactly 0 stay 0 (their gradient is zeroed): the
        zero level of a quantizer that codes pruned weights as a level (e.g.
        ``quantizer="ecsq", pin_zero=True`` without a mask) keeps decoding to 0.

    Returns
    -------
    CompressedModel
        A new archive with the same indices and masks and the tuned values.

    Examples
    --------
    >>> import torch, bindings.torch as bt
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> batches = [(torch.randn(32, 8), torch.randint(0, 3, (32,))) for _ in range(4)]
    >>> cm = bt.compress_model(net, quantizer="kmeans", levels=4)
    >>> tuned = bt.finetune_shared_values(cm, net, batches, epochs=2, lr=1e-2)
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
    loss_fn = default_loss if loss_fn is None else loss_fn
    work = copy.deepcopy(model)
    load_compressed(compressed, work)
    params = dict(work.named_parameters())
    group_of = plan.group_of()
    for n in group_of:
        if n not in params:
            raise ValueError(f"the quantized tensor {n!r} is not a parameter of the model")
    device = model_device(work)
    groups = [_trainable_group(plan, grp, device) for grp in plan.groups]
    tables = [tg.table for tg in groups]
    others = [p for n, p in params.items() if n not in group_of] if train_unquantized else []
    opt = torch.optim.Adam(tables + others, lr=lr) if (tables or others) else None
    # Adam moves an entry only through its gradient (no weight decay): zeroed from the
    # start, an entry's moments stay 0 and so does its update.
    frozen = [tg.table.detach() == 0 for tg in groups] if keep_zero else None

    _write_back(groups, params, device)
    work.train()
    for batch in epoch_batches(data, epochs, progress, "fine-tune shared values"):
        work.zero_grad(set_to_none=True)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(work, to_device(batch, device))
        loss.backward()
        for i, tg in enumerate(groups):
            tg.table.grad = _table_gradient(tg, params, device)
            if frozen is not None:
                tg.table.grad[frozen[i]] = 0.0
        opt.step()
        _write_back(groups, params, device)
    work.eval()

    state = check_state_dict(work.state_dict())
    reference = check_state_dict(model.state_dict())
    new_groups = []
    for tg, grp in zip(groups, plan.groups, strict=True):
        q = grp.q.with_shared_values(tg.table.detach().cpu().numpy())
        new_groups.append(replace(grp, q=q, blob=q.to_bytes(), mask_blob=grp.mask_blob))
    plan.groups = new_groups
    return finish(plan, state, reference)
