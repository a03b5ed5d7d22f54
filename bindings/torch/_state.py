"""The state dict as the binding sees it: dtypes, checks, float conversion, selection.

Shared by every module of :mod:`bindings.torch`; nothing here codes bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch import nn

#: torch dtypes a model file may hold, by the name the index stores.
TORCH_DTYPES = {
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
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def itemsize(dtype_name: str) -> int:
    """Bytes per element of the torch dtype named ``dtype_name``."""
    return torch.empty(0, dtype=TORCH_DTYPES[dtype_name]).element_size()


def torch_dtype_name(dtype) -> str:
    """The index's name of a torch dtype (``torch.float32`` -> ``"float32"``); TypeError if
    the model file cannot hold it."""
    name = str(dtype).replace("torch.", "")
    if name not in TORCH_DTYPES:
        raise TypeError(
            f"tensors of dtype {dtype} are not supported; convert them to a float or integer "
            "dtype first"
        )
    return name


def to_numpy_f(t: torch.Tensor) -> np.ndarray:
    """A float tensor (any device, fp16/bf16/fp32/fp64) as a numpy float32/float64 array."""
    t = t.detach()
    if t.dtype == torch.float64:
        return t.cpu().numpy()
    return t.cpu().to(torch.float32).numpy()


def check_state_dict(state_dict) -> dict:
    """``{name: detached tensor}`` of a mapping of names to dense tensors of supported dtypes."""
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
        torch_dtype_name(t.dtype)
        if t.is_sparse or t.layout != torch.strided:
            raise TypeError(f"state_dict[{name!r}] is not a dense tensor; call .to_dense() first")
        out[name] = t.detach()
    return out


def default_module_selection(model: nn.Module) -> set:
    """Names of the ``weight`` of every Linear / Conv layer of ``model``."""
    kinds = (nn.Linear, nn.modules.conv._ConvNd)
    names = set()
    for mod_name, module in model.named_modules():
        if isinstance(module, kinds) and isinstance(getattr(module, "weight", None), torch.Tensor):
            names.add(f"{mod_name}.weight" if mod_name else "weight")
    return names


def select_tensors(state: dict, include, default: set | None) -> list:
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
