"""rdcodec as a Zarr / numcodecs codec: each Zarr chunk is one rdcodec stream.

Three classes, one codec (the same configuration, the same bytes per chunk):

* :class:`RDCodec` — a ``numcodecs`` codec (id ``"rdcodec"``, also declared
  under the ``numcodecs.codecs`` entry point). Zarr format 2 arrays take it as
  their compressor: ``zarr.create_array(..., zarr_format=2, compressors=[RDCodec(...)])``
  (or the older ``compressor=RDCodec(...)``); it sees each chunk as an array.
* :class:`RDSerializer` — for Zarr format 3 (zarr-python 3.1 installs here):
  an ``ArrayBytesCodec`` (``serializer=RDSerializer(...)``), the role a
  lossy array-to-bytes codec has in the v3 spec (zarr's own adapters put
  ZFPY and PCodec there). Registered with zarr as ``"rdcodec"``.
* :class:`RDCompressor` — the same in the v3 ``compressors=[...]`` list, a
  ``BytesBytesCodec``: zarr-python 3 accepts only bytes-to-bytes codecs there
  (a bare numcodecs codec raises TypeError for format 3), so it reads the
  chunk's bytes back as the array's dtype and chunk shape. It assumes the
  default ``bytes`` serializer (little-endian); use :class:`RDSerializer` with
  any other. Registered with zarr as ``"rdcodec.compressor"``.

A store holds **one** ``step=`` or ``distortion=`` for all its chunks, so that
every chunk has the same mean squared error (a dithered lattice's is exactly
``G·step²·det^(2/n)``); a rate target per chunk would give each chunk its own
error, which is not what a store of one array means, so ``rate=`` is refused
(:func:`codec.dask.choose_step` picks the step of a rate target for a whole
array from a sample). A codec sees a chunk's bytes, not its position: each
chunk's dither seed is a hash of its data (BLAKE2b of the values and the
``seed`` option), so equal chunks give equal bytes, and decoding a chunk
needs nothing but its bytes (the stream carries its shape, dtype and seed).

This module imports zarr and numcodecs (the ``scale`` extra); ``import codec``
does not.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

import numcodecs
import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray, ndarray_copy
from zarr.abc.codec import ArrayBytesCodec, BytesBytesCodec
from zarr.core.common import parse_named_configuration
from zarr.registry import register_codec

from .api import DEFAULT_MAX_ELEMENTS, decode, encode
from .options import EncodeOptions

__all__ = ["RDCodec", "RDSerializer", "RDCompressor", "chunk_seed"]


def chunk_seed(values: np.ndarray, seed: int = 0) -> int:
    """The dither seed of a chunk: the first 8 bytes of BLAKE2b over ``seed``, the
    chunk's dtype and shape, and its values in C order.

    .. math:: s(x) = \\mathrm{BLAKE2b}_{64}(\\mathrm{seed} \\,\\|\\, \\mathrm{dtype}
              \\,\\|\\, \\mathrm{shape} \\,\\|\\, x)

    Examples
    --------
    >>> x = np.arange(4.0)
    >>> chunk_seed(x) == chunk_seed(x.copy()), chunk_seed(x) == chunk_seed(x, seed=1)
    (True, False)
    """
    arr = np.ascontiguousarray(values)
    h = hashlib.blake2b(digest_size=8)
    h.update(int(seed).to_bytes(8, "little"))
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(memoryview(arr.reshape(-1)).cast("B"))
    return int.from_bytes(h.digest(), "little")


class RDCodec(Codec):
    r"""numcodecs codec: each chunk becomes one rdcodec stream (:func:`codec.encode`).

    Parameters
    ----------
    step : float, optional
        The lattice scale or uniform step of every chunk.
    distortion : float, optional
        The target MSE of every chunk (closed form for a dithered lattice, so
        the same step everywhere; searched per chunk for scalar codebooks).
        Exactly one of ``step`` and ``distortion``.
    seed : int
        Mixed into each chunk's dither seed, which is otherwise a hash of the
        chunk's values (:func:`chunk_seed`).
    max_elements : int
        Decompression-bomb guard of :meth:`decode` (as :func:`codec.decode`).
    **options
        Other keyword options of :func:`codec.encode` (``lattice=``,
        ``quantizer=``, ``coder=``, ``dither=``, ``chunk_size=``, ...), JSON
        values only. ``rate=`` is refused (module docstring).

    Examples
    --------
    >>> import numpy as np, numcodecs
    >>> from codec.zarr import RDCodec
    >>> c = RDCodec(lattice="E8", step=0.05)
    >>> x = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    >>> y = c.decode(c.encode(x))
    >>> y.shape, y.dtype, bool(np.abs(y - x).max() < 0.1)
    ((64, 64), dtype('float32'), True)
    >>> numcodecs.get_codec(c.get_config()) == c
    True
    """

    codec_id = "rdcodec"

    def __init__(self, *, seed: int = 0, max_elements: int = DEFAULT_MAX_ELEMENTS, **options):
        options = {k: v for k, v in options.items() if v is not None}
        if "rate" in options:
            raise ValueError(
                "rate= is not meaningful per chunk (each chunk would get its own error); "
                "give step= or distortion= (codec.dask.choose_step finds the step of a "
                "rate target for a whole array)"
            )
        if sum(k in options for k in ("step", "distortion")) != 1:
            raise ValueError("give exactly one of step= or distortion= (the same for every chunk)")
        for bad in ("weights", "exact"):
            if bad in options:
                raise ValueError(f"{bad}= does not apply per chunk; use codec.encode")
        # names, types and values of the options, and the quantizer's own (e.g. lattice=)
        EncodeOptions.parse((0,), {**options, "seed": seed}).make_designer(np.zeros(0), "float64")
        try:
            json.dumps(options)
        except TypeError as exc:
            raise TypeError(f"RDCodec options must be JSON values: {exc}") from None
        self.seed = int(seed)
        self.max_elements = max_elements
        self.options = options

    def encode(self, buf) -> bytes:
        """The rdcodec stream of the chunk ``buf`` (a float array, native byte order)."""
        arr = np.asarray(buf)
        if arr.dtype.kind == "f" and not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        return encode(arr, seed=chunk_seed(arr, self.seed), **self.options)

    def decode(self, buf, out=None):
        """The chunk (its shape and dtype, from the stream); copied into ``out`` if given."""
        blob = ensure_contiguous_ndarray(buf).view(np.uint8)
        values = decode(memoryview(blob), max_elements=self.max_elements)
        return values if out is None else ndarray_copy(values, out)

    def get_config(self) -> dict:
        config = {"id": self.codec_id, "seed": self.seed, **self.options}
        if self.max_elements != DEFAULT_MAX_ELEMENTS:
            config["max_elements"] = self.max_elements
        return config

    @classmethod
    def from_config(cls, config: dict) -> RDCodec:
        config = {k: v for k, v in config.items() if k != "id"}
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "id")
        return f"RDCodec({args})"


numcodecs.register_codec(RDCodec)


@dataclass(frozen=True)
class _Zarr3Codec:
    """What the two Zarr-3 classes share: the configuration and the :class:`RDCodec`."""

    config: dict
    is_fixed_size = False

    def __init__(self, **config) -> None:
        codec = RDCodec(**config)  # validates
        config = {k: v for k, v in codec.get_config().items() if k != "id"}
        object.__setattr__(self, "config", config)

    @cached_property
    def rdcodec(self) -> RDCodec:
        return RDCodec(**self.config)

    @classmethod
    def from_dict(cls, data: dict):
        _, configuration = parse_named_configuration(data, cls.zarr_name)
        return cls(**(configuration or {}))

    def to_dict(self) -> dict:
        return {"name": self.zarr_name, "configuration": dict(self.config)}

    def compute_encoded_size(self, _input_byte_length: int, _chunk_spec) -> int:
        raise NotImplementedError  # lossy and entropy-coded: not known in advance

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))


class RDSerializer(_Zarr3Codec, ArrayBytesCodec):
    """Zarr format 3 ``serializer=``: array chunk to rdcodec stream and back.

    Takes the keyword options of :class:`RDCodec`.

    Examples
    --------
    >>> import numpy as np, zarr
    >>> from codec.zarr import RDSerializer
    >>> z = zarr.create_array(zarr.storage.MemoryStore(), shape=(100, 100), chunks=(50, 50),
    ...                       dtype="float32", serializer=RDSerializer(step=0.01),
    ...                       compressors=None)
    >>> z[:] = np.ones((100, 100), np.float32)
    >>> bool(np.abs(z[:] - 1).max() < 0.01)
    True
    """

    zarr_name = "rdcodec"

    def _encode_sync(self, chunk_array, chunk_spec):
        blob = self.rdcodec.encode(chunk_array.as_ndarray_like())
        return chunk_spec.prototype.buffer.from_bytes(blob)

    def _decode_sync(self, chunk_bytes, chunk_spec):
        values = self.rdcodec.decode(chunk_bytes.as_array_like())
        out = values.astype(chunk_spec.dtype.to_native_dtype(), copy=False)
        return chunk_spec.prototype.nd_buffer.from_ndarray_like(out.reshape(chunk_spec.shape))

    async def _encode_single(self, chunk_array, chunk_spec):
        return await asyncio.to_thread(self._encode_sync, chunk_array, chunk_spec)

    async def _decode_single(self, chunk_bytes, chunk_spec):
        return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)


class RDCompressor(_Zarr3Codec, BytesBytesCodec):
    """Zarr format 3 ``compressors=[...]``: the chunk's bytes (from the default,
    little-endian ``bytes`` serializer) read as the array's dtype and chunk shape,
    coded as :class:`RDCodec` does, and given back as bytes.

    Examples
    --------
    >>> import numpy as np, zarr
    >>> from codec.zarr import RDCompressor
    >>> z = zarr.create_array(zarr.storage.MemoryStore(), shape=(1000,), chunks=(500,),
    ...                       dtype="float64", compressors=[RDCompressor(distortion=1e-6)])
    >>> z[:] = np.linspace(0, 1, 1000)
    >>> bool(np.abs(z[:] - np.linspace(0, 1, 1000)).max() < 0.01)
    True
    """

    zarr_name = "rdcodec.compressor"

    def _dtype(self, chunk_spec) -> np.dtype:
        return chunk_spec.dtype.to_native_dtype().newbyteorder("<")

    def _encode_sync(self, chunk_bytes, chunk_spec):
        raw = chunk_bytes.as_array_like()
        values = np.frombuffer(raw, self._dtype(chunk_spec)).reshape(chunk_spec.shape)
        return chunk_spec.prototype.buffer.from_bytes(self.rdcodec.encode(values))

    def _decode_sync(self, chunk_bytes, chunk_spec):
        values = self.rdcodec.decode(chunk_bytes.as_array_like())
        raw = np.ascontiguousarray(values, self._dtype(chunk_spec)).tobytes()
        return chunk_spec.prototype.buffer.from_bytes(raw)

    async def _encode_single(self, chunk_bytes, chunk_spec):
        return await asyncio.to_thread(self._encode_sync, chunk_bytes, chunk_spec)

    async def _decode_single(self, chunk_bytes, chunk_spec):
        return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)


register_codec(RDSerializer.zarr_name, RDSerializer)
register_codec(RDCompressor.zarr_name, RDCompressor)
