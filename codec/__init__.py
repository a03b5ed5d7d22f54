"""rdcodec: compress float arrays the information-theoretic way.

>>> import numpy as np, codec
>>> x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
>>> y = codec.decode(codec.encode(x, lattice="E8", step=0.1))
>>> y.dtype, y.shape
(dtype('float32'), (1000,))
"""

from . import errors
from .api import StreamInfo, decode, encode, inspect, quantize
from .archive import load, save
from .quantized import QuantizedArray

__version__ = "0.1.0"

__all__ = [
    "encode",
    "decode",
    "inspect",
    "quantize",
    "save",
    "load",
    "errors",
    "QuantizedArray",
    "StreamInfo",
    "__version__",
]
