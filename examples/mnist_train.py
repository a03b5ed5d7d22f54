"""The networks, data and training of examples/mnist.py (`make repro-mnist`).

LeNet-5 (Caffe variant) and LeNet-300-100, MNIST split into train (first 50,000),
validation (last 10,000 training images) and test, AdamW with a one-cycle schedule,
gradual magnitude pruning, and the distillation loss from the dense network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import mnist_data

#: Training batch (float training and retraining; the CPU cost per epoch halves from 128,
#: see the cpu_seconds of the results) and evaluation batch.
BATCH = 256
EVAL_BATCH = 5000
#: Temperature of the distillation from the dense network (pruning retraining and the
#: fine-tuning of the shared values; ``--distill`` sets the weight of that term).
DISTILL_T = 4.0


@dataclass(frozen=True)
class NetSpec:
    """A network of the papers and the schedule it is trained and pruned with."""

    name: str
    parameters: int
    epochs: float  # float training
    lr: float
    paper_density: float  # kept fraction of the weights in the papers
    deep_ladder: tuple  # kept fractions tried for the universal / headline rows
    prune_epochs: float  # retraining epochs to the papers' density (gradual, then fixed)
    deep_epochs: float  # retraining epochs per rung of the deeper ladder
    target_ratio: float  # the headline target: the deep ladder stops once it is met


# ---------------------------------------------------------------------------
# networks, data, training
# ---------------------------------------------------------------------------
def lenet5():
    """LeNet-5 as in Caffe: conv 20@5x5, max-pool, conv 50@5x5, max-pool, fc 500, ReLU, fc 10."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 20, 5),
        nn.MaxPool2d(2),
        nn.Conv2d(20, 50, 5),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(800, 500),
        nn.ReLU(),
        nn.Linear(500, 10),
    )


def lenet300():
    """LeNet-300-100: fc 300, ReLU, fc 100, ReLU, fc 10 on the 784 pixels."""
    from torch import nn

    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 300),
        nn.ReLU(),
        nn.Linear(300, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )


BUILDERS = {"LeNet-5": lenet5, "LeNet-300-100": lenet300}


def load_data(folder=None, quick: bool = False):
    """Train (first 50,000) / validation (last 10,000 training images) / test, as tensors.

    Pixels are scaled to [0, 1] and standardised with the training split's mean and std.
    ``quick`` keeps 2,000 / 500 / 500 of them.
    """
    import torch

    arrays = mnist_data.load_mnist(folder)
    x = arrays["train_images"].astype(np.float32)[:, None] / 255.0
    y = arrays["train_labels"].astype(np.int64)
    x_te = arrays["test_images"].astype(np.float32)[:, None] / 255.0
    y_te = arrays["test_labels"].astype(np.int64)
    x_tr, y_tr, x_va, y_va = x[:50000], y[:50000], x[50000:], y[50000:]
    if quick:
        x_tr, y_tr, x_va, y_va = x_tr[:2000], y_tr[:2000], x_va[:500], y_va[:500]
        x_te, y_te = x_te[:500], y_te[:500]
    mean, std = float(x_tr.mean()), float(x_tr.std())
    t = torch.from_numpy
    norm = lambda a: t(np.ascontiguousarray((a - mean) / std))  # noqa: E731
    return {
        "train": (norm(x_tr), t(y_tr)),
        "val": (norm(x_va), t(y_va)),
        "test": (norm(x_te), t(y_te)),
    }


def shuffled_batches(data, seed: int, n_batches: int | None = None, batch: int = BATCH):
    """One shuffled pass (or its first ``n_batches``) over ``data`` as batches: ``data`` is
    a tuple of tensors of one length (``(x, y)`` or ``(x, y, teacher_logits)``), each batch
    the same tuple of rows."""
    import torch

    n = len(data[0])
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    stop = n if n_batches is None else min(n, n_batches * batch)
    return [tuple(a[perm[i : i + batch]] for a in data) for i in range(0, stop, batch)]


def distillation_loss(logits, batch, alpha: float, temperature: float = DISTILL_T):
    r"""Cross-entropy against the labels, mixed with Hinton et al.'s distillation term when
    the batch carries the dense network's logits ``z_t`` (``batch = (x, y, z_t)``):

    .. math:: L = (1 - \alpha)\,\mathrm{CE}(z, y)
              + \alpha\,T^2\,\mathrm{KL}(\sigma(z_t / T)\,\|\,\sigma(z / T)).

    Pruning and quantization should keep the *function* of the dense network, not only its
    accuracy on the training labels: with the dense network's soft targets the retrained
    network keeps its errors and its margins (docs/results.md: LeNet-5 pruned to 2.1-2.6 %
    lost 0.21-0.32 test points with labels only, 0.02-0.07 with distillation).
    """
    import torch
    from torch.nn import functional as F

    ce = F.cross_entropy(logits, batch[1])
    if len(batch) < 3 or alpha == 0:
        return ce
    t = float(temperature)
    kl = F.kl_div(torch.log_softmax(logits / t, 1), torch.softmax(batch[2] / t, 1),
                  reduction="batchmean")  # fmt: skip
    return (1.0 - alpha) * ce + alpha * t * t * kl


def with_teacher(data, teacher):
    """``data`` + the logits of ``teacher`` (eval mode) on its inputs, as a third tensor:
    computed once, so distillation costs no extra forward pass per step."""
    import torch

    teacher.eval()
    x = data[0]
    with torch.inference_mode():
        logits = torch.cat([teacher(x[i : i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)])
    # cloned outside inference mode: an inference tensor cannot be saved for backward
    return (data[0], data[1], logits.clone())


def train(model, data, *, epochs, lr, seed, prune=None, alpha=0.0, progress=False, desc="train"):
    """AdamW (weight decay 1e-4) with a one-cycle schedule, batches of 256; the loss is
    :func:`distillation_loss` (cross-entropy when ``alpha`` is 0 or ``data`` has no teacher
    logits).

    ``prune=(d0, d1)`` prunes gradually from kept fraction ``d0`` to ``d1`` by global
    weight magnitude (:func:`bindings.torch.magnitude_masks`), cubic in time over the
    first 60 % of the steps (Zhu & Gupta 2017), the mask updated every 20 steps and held
    fixed for the rest; pruned weights stay exactly zero. Returns the optimizer.
    """
    import torch

    import bindings.torch as bt

    steps_per_epoch = math.ceil(len(data[0]) / BATCH)
    total = max(1, round(epochs * steps_per_epoch))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=total, pct_start=0.2)
    params = dict(model.named_parameters())
    masks = None
    ramp = max(1, int(0.6 * total))
    every = max(1, min(20, ramp // 10))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, leave=False)
    model.train()
    step, epoch = 0, 0
    while step < total:
        for batch in shuffled_batches(data, seed * 1000 + epoch):
            if step >= total:
                break
            if prune is not None and step <= ramp and (step % every == 0 or step == ramp):
                d0, d1 = prune
                kept = d1 + (d0 - d1) * (1 - min(step / ramp, 1.0)) ** 3
                masks = bt.magnitude_masks(model, 1.0 - kept)
                apply_masks(params, masks)
            opt.zero_grad(set_to_none=True)
            distillation_loss(model(batch[0]), batch, alpha).backward()
            opt.step()
            sched.step()
            if masks is not None:
                apply_masks(params, masks)
            step += 1
            if bar is not None:
                bar.update()
        epoch += 1
    if bar is not None:
        bar.close()
    model.eval()
    return opt


def apply_masks(params, masks):
    import torch

    with torch.no_grad():
        for n, m in masks.items():
            params[n].mul_(m)


def accuracy(model, data) -> float:
    """Top-1 accuracy in percent."""
    import torch

    model.eval()
    x, y = data
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(x), EVAL_BATCH):
            correct += int((model(x[i : i + EVAL_BATCH]).argmax(1) == y[i : i + EVAL_BATCH]).sum())
    return 100.0 * correct / max(len(x), 1)


def accuracy_floor(reference: float, points: float) -> float:
    """The lowest accuracy within ``points`` of ``reference`` (percent). Accuracies are
    multiples of 100/n, so ``reference - points`` is rounded: 99.04 - 0.05 is
    98.99000000000001 in floating point, which would refuse an accuracy of exactly 98.99."""
    return round(reference - points, 6)


def density(model) -> float:
    """Kept fraction of the conv/linear weights."""
    ws = [p for n, p in model.named_parameters() if n.endswith("weight")]
    return float(sum(int((w != 0).sum()) for w in ws) / sum(w.numel() for w in ws))
