r"""PyTorch binding: compress a model's weights with rdcodec, restore them, fine-tune them.

Pipeline (Choi, El-Khamy & Lee 2017/2018; Han et al. 2016):

1. *Select* the tensors to quantize (``include``; default: the weights of
   ``nn.Linear`` / ``nn.Conv*`` layers). Every other tensor of the state dict
   is kept: float tensors losslessly (raw bytes, default), as float16
   (``unquantized="float16"``) or rounded to ``B`` significant bits and
   entropy-coded (``unquantized=B``), integer/bool buffers losslessly through
   the arithmetic coder (raw bytes for values outside its range).
2. Optionally *prune* by magnitude (``prune``): one global threshold over all
   selected tensors (a float), one threshold per tensor (a dict), or the
   weights that are already exactly zero (``"zeros"``, after
   :func:`magnitude_masks` and retraining). The mask is coded with a context
   model of its rows, columns and neighbours (``mask_coder="context"``,
   :mod:`codec.coders.mask`), or as gaps by a symbol coder.
3. *Quantize* the kept values with :func:`codec.quantize` (then ``to_bytes``):
   any quantizer the codec has registered, e.g. dithered lattices (Z, D4, E8)
   or scalar quantizers (uniform, ECSQ, k-means), with their options passed
   through untouched; Hessian-weighted (``hessian="grad2"``/``"adam"``) with
   those that accept weights. With ``grouping="network"`` (default) all
   selected tensors with the same options form one vector and one codec stream
   — one quantizer, one codebook and one ~250-byte stream header for the whole
   network, as in Choi et al.; ``grouping="layer"`` codes one stream per
   tensor; ``per_tensor`` sets options for some tensors (e.g.
   Hessian-allocated steps, :func:`allocate_steps`). float16 and bfloat16
   tensors are quantized through float32 and cast back on decoding; CPU and
   CUDA tensors alike (coding runs on CPU copies; loading restores each target
   tensor's device).
4. *Fine-tune* the shared quantized values with the indices fixed
   (:func:`finetune_shared_values`), or compress layer by layer with partial
   quantize-and-retrain (:func:`slq_compress`, Xu et al. 2018).

Modules: :mod:`~bindings.torch.compress` (selection, grouping, coding),
:mod:`~bindings.torch.archive` (the ``.rdc`` model file: its format, decoding,
loading), :mod:`~bindings.torch.hessian`, :mod:`~bindings.torch.prune`,
:mod:`~bindings.torch.finetune`, :mod:`~bindings.torch.slq`,
:mod:`~bindings.torch.mlq`. The model file format is specified in the docstring of
:mod:`bindings.torch.archive`.
``bindings.pytorch`` is this package under its former name.

Examples
--------
>>> import torch, bindings.torch as bt
>>> net = torch.nn.Sequential(torch.nn.Linear(32, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
>>> cm = bt.compress_model(net, lattice="E8", step=0.02)
>>> fresh = torch.nn.Sequential(torch.nn.Linear(32, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
>>> _ = bt.load_compressed(cm.to_bytes(), fresh)
>>> bool(torch.allclose(fresh[0].weight, net[0].weight, atol=0.03))
True
"""

from .archive import (
    MODEL_MAGIC,
    CompressedModel,
    LayerStats,
    decompress_state_dict,
    load_compressed,
)
from .compress import compress_model, compress_state_dict
from .finetune import finetune_shared_values
from .hessian import allocate_steps, hessian_from_adam, hessian_from_gradients
from .mlq import mlq_compress, ternarize
from .prune import magnitude_masks
from .slq import slq_compress

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
    "mlq_compress",
    "ternarize",
    "MODEL_MAGIC",
]
