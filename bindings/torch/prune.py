"""Magnitude pruning: the weights a compression keeps (``prune=``), and masks for retraining."""

from __future__ import annotations

import fnmatch
import numbers
import warnings
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from ._state import check_state_dict, default_module_selection, select_tensors, to_numpy_f

__all__ = ["magnitude_masks"]


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


def resolve_masks(state: dict, chosen: list, prune) -> dict:
    """``{name: flat bool mask}`` for the pruned tensors (absent = dense).

    ``prune`` is a fraction (one global magnitude threshold over all chosen
    tensors), ``{name or glob pattern: fraction}`` (a threshold per tensor;
    ``{"*": 0.9}`` prunes every tensor by 90 %; an exact name wins over
    patterns, then the first matching pattern), or ``"zeros"``. Warns, naming
    them, when tensors are left with no weight at all.
    """
    if prune is None:
        return {}
    if isinstance(prune, str):
        if prune != "zeros":
            raise ValueError(
                f"prune={prune!r} is not understood; use a fraction in [0, 1) (global "
                "magnitude threshold), a dict {name or pattern: fraction} (per tensor) or 'zeros'"
            )
        masks = {n: to_numpy_f(state[n]).reshape(-1) != 0 for n in chosen}
    elif isinstance(prune, Mapping):
        masks = {}
        for name, frac in _per_tensor_fractions(prune, chosen).items():
            if frac > 0:
                masks[name] = _keep_largest(to_numpy_f(state[name]).reshape(-1), frac)
    else:
        f = _check_fraction("prune", prune)
        if f == 0:
            return {}
        flat = np.concatenate([to_numpy_f(state[n]).reshape(-1) for n in chosen])
        keep = _keep_largest(flat, f)
        masks, a = {}, 0
        for n in chosen:
            k = state[n].numel()
            masks[n] = keep[a : a + k]
            a += k
    emptied = [n for n, m in masks.items() if m.size and not m.any()]
    if emptied:
        warnings.warn(
            f"pruning leaves no weight in {len(emptied)} tensor(s): {emptied[:10]}; the global "
            "threshold removed them whole (use per-tensor fractions, e.g. prune={'*': f})",
            UserWarning,
            stacklevel=3,
        )
    return masks


def _per_tensor_fractions(prune: Mapping, chosen: list) -> dict:
    """``{tensor: fraction}`` from ``{name or glob pattern: fraction}``."""
    fractions = {}
    for key, frac in prune.items():
        f = _check_fraction(f"prune[{key!r}]", frac)
        hits = [key] if key in chosen else fnmatch.filter(chosen, key)
        if not hits:
            raise ValueError(
                f"prune names {key!r}, which matches none of the quantized tensors; "
                f"quantized: {chosen[:10]}"
            )
        for name in hits:
            if name not in fractions or key == name:
                fractions[name] = f
    return fractions


def magnitude_masks(model_or_state, prune, *, include=None) -> dict:
    """Boolean keep-masks of magnitude pruning (``True`` = kept), without changing anything.

    Parameters
    ----------
    model_or_state : torch.nn.Module or Mapping[str, torch.Tensor]
    prune : float or dict
        A fraction with one *global* threshold over all selected tensors (a
        tensor of small weights can lose every weight: a warning names it), or
        ``{name or glob pattern: fraction}`` with one threshold per tensor
        (``{"*": 0.9}``: 90 % of every tensor).
    include : as in :func:`compress_model`

    Returns
    -------
    dict[str, torch.Tensor]
        Bool tensors on the tensors' devices, for the selected tensors.

    Examples
    --------
    >>> import torch, bindings.torch as bt
    >>> net = torch.nn.Linear(10, 10)
    >>> m = bt.magnitude_masks(net, 0.9)
    >>> int(m["weight"].sum())
    10
    """
    if isinstance(model_or_state, nn.Module):
        state = check_state_dict(model_or_state.state_dict())
        chosen = select_tensors(state, include, default_module_selection(model_or_state))
    else:
        state = check_state_dict(model_or_state)
        chosen = select_tensors(state, include, None)
    if isinstance(prune, str):
        raise ValueError("magnitude_masks needs a fraction or a dict {name: fraction}")
    masks = resolve_masks(state, chosen, prune)
    return {
        n: torch.from_numpy(masks.get(n, np.ones(state[n].numel(), bool)).copy())
        .reshape(state[n].shape)
        .to(state[n].device)
        for n in chosen
    }
