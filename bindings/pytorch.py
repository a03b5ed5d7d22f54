"""The PyTorch binding under its former name: :mod:`bindings.torch`, re-exported.

``from bindings import pytorch`` and ``import bindings.pytorch as bp`` keep
working; new code imports ``bindings.torch``.
"""

from bindings.torch import (
    MODEL_MAGIC,
    CompressedModel,
    LayerStats,
    allocate_steps,
    compress_model,
    compress_state_dict,
    decompress_state_dict,
    finetune_shared_values,
    hessian_from_adam,
    hessian_from_gradients,
    load_compressed,
    magnitude_masks,
    slq_compress,
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
