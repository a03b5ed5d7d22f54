"""rdcodec: compress float arrays the information-theoretic way.

>>> import numpy as np, codec
>>> x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
>>> y = codec.decode(codec.encode(x, lattice="E8", step=0.1))
>>> y.dtype, y.shape
(dtype('float32'), (1000,))
"""

from . import runtime

runtime.preload_tbb()  # before any parallel kernel runs: a fork-safe threading layer

from . import errors  # noqa: E402
from .api import StreamInfo, decode, encode, inspect, quantize  # noqa: E402
from .archive import load, save  # noqa: E402
from .quantized import QuantizedArray  # noqa: E402
from .streaming import Decoder, Encoder  # noqa: E402

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
    "Encoder",
    "Decoder",
    "__version__",
]


def __getattr__(name: str):
    """``codec.zarr`` and ``codec.dask`` on first use: they import the optional ``scale``
    extra (zarr, numcodecs, dask), which ``import codec`` never loads."""
    if name in ("zarr", "dask"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
