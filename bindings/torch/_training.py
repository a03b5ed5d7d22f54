"""Training-loop helpers shared by the Hessian estimates, fine-tuning and SLQ."""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import torch
from torch import nn


def default_loss(model: nn.Module, batch):
    """Cross-entropy of ``model(batch[0])`` against ``batch[1]``."""
    if not isinstance(batch, list | tuple) or len(batch) < 2:
        raise TypeError(
            "the default loss expects batches (inputs, targets); pass loss_fn(model, batch)"
        )
    return nn.functional.cross_entropy(model(batch[0]), batch[1])


def to_device(batch, device):
    """``batch`` (a tensor, or tensors in lists, tuples and dicts) moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def model_device(model: nn.Module):
    """The device of the model's first parameter (CPU without parameters)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def epoch_batches(data, epochs: int, progress, desc: str):
    """The batches of ``epochs`` passes over ``data`` (an iterable, or a callable giving one
    per pass), with a tqdm bar per pass when ``progress``."""
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    for epoch in range(int(epochs)):
        it = data() if callable(data) else data
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc=f"{desc} {epoch + 1}/{epochs}", leave=False)
        yield from it
