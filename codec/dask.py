"""Compress Dask arrays chunk by chunk into Zarr stores, on whatever cluster Dask uses.

Zarr already gives most of it: ``darr.to_zarr(store, serializer=RDSerializer(...),
compressors=None)`` has every worker encode its own chunks and write them to
the store (:mod:`codec.zarr`), and ``dask.array.from_zarr(store)`` reads them
back lazily, chunk by chunk; nothing is gathered on one machine. The store
must be reachable by every worker (a shared file system or an object store
for a real cluster; any local path for a ``LocalCluster``). This module adds
what Zarr cannot know: a **rate target for the whole array**
(:func:`choose_step`), met by choosing the step on a sample of whole chunks
first, then one step for every chunk (the same MSE everywhere).

It imports dask and zarr (the ``scale`` extra); ``import codec`` does not. Its
name is ``codec.dask``; with absolute imports (Python 3) its ``import dask``
is the Dask package, never this module.
"""

from __future__ import annotations

import math
import warnings

import dask.array as da
import numpy as np

from .rate_control import RATE_TOL_BITS, secant
from .zarr import RDCodec, RDSerializer

__all__ = ["encode", "decode", "choose_step", "sample_blocks", "DEFAULT_SAMPLE_CHUNKS"]

#: Chunks of the Dask array the rate search codes (evenly spaced over the chunk grid).
DEFAULT_SAMPLE_CHUNKS = 4


def sample_blocks(darr, n_blocks: int = DEFAULT_SAMPLE_CHUNKS) -> list[np.ndarray]:
    """``n_blocks`` whole chunks of ``darr``, evenly spaced in C order over its chunk grid,
    computed (only those) and returned as NumPy arrays.

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.arange(100.0, chunks=10)
    >>> [float(b[0]) for b in sample_blocks(x, 3)]
    [0.0, 40.0, 90.0]
    """
    if not isinstance(n_blocks, int) or n_blocks < 1:
        raise ValueError(f"n_blocks must be a positive integer, got {n_blocks!r}")
    grid = darr.numblocks
    total = math.prod(grid)
    picks = np.unique(np.linspace(0, max(total - 1, 0), min(n_blocks, total)).astype(np.int64))
    blocks = [darr.blocks[np.unravel_index(int(i), grid)] for i in picks]
    return list(da.compute(*blocks))


def choose_step(darr, rate: float, *, sample_chunks: int = DEFAULT_SAMPLE_CHUNKS, **options):
    r"""The step whose store is ``rate`` bits per element, measured on a sample of chunks.

    The sample is ``sample_chunks`` whole chunks of ``darr``
    (:func:`sample_blocks`); each is coded exactly as the store will code it
    (:class:`~codec.zarr.RDCodec`: its own header, tables and hash seed), and
    a secant search on :math:`\log_2 \mathrm{step}` finds the step where

    .. math:: \frac{8 \sum_{c \in \mathrm{sample}} |\mathrm{bytes}_c(\mathrm{step})|}
              {\sum_{c \in \mathrm{sample}} |c|} = \mathrm{rate}

    within 0.005 bit. How close the whole array then lands depends on how
    alike its chunks are; docs/scaling.md reports it measured.

    Parameters
    ----------
    darr : dask.array.Array
        The array (float16/32/64).
    rate : float
        Target bits per element of the chunk payloads.
    sample_chunks : int
        How many chunks to code (default 4).
    **options
        :class:`~codec.zarr.RDCodec` options other than ``step=``/``distortion=``
        (``lattice=``, ``quantizer="uniform"``, ``coder=``, ...): quantizers with
        a ``step``.

    Returns
    -------
    float
        The step.

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.random.default_rng(0).standard_normal(1 << 16, chunks=1 << 14)
    >>> step = choose_step(x, 4.0, lattice="E8")
    >>> 0.2 < step < 0.35  # E8 at 4 bits on a unit Gaussian
    True
    """
    if isinstance(rate, bool) or not (isinstance(rate, int | float) and rate > 0):
        raise ValueError(f"rate must be a positive number of bits per element, got {rate!r}")
    if "step" in options or "distortion" in options:
        raise ValueError("give rate= or step=/distortion=, not both")
    blocks = [b for b in sample_blocks(darr, sample_chunks) if b.size]
    n = sum(b.size for b in blocks)
    if n == 0:
        raise ValueError("the array is empty: nothing to choose a step for")
    spread = float(np.sqrt(np.mean([np.mean(np.square(b, dtype=np.float64)) for b in blocks])))

    def measure(log_step):
        codec = RDCodec(step=2.0**log_step, **options)
        bits = 8.0 * sum(len(codec.encode(b)) for b in blocks) / n
        return bits, 2.0**log_step

    # start where a Gaussian of the sample's spread would land: h - log2(step), h = 2.05 bits
    x0 = math.log2(max(spread, 1e-30)) + 2.05 - rate
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            return float(secant(measure, x0, rate, slope=-1.0, tol=RATE_TOL_BITS, what="rate"))
        except RuntimeWarning as exc:
            raise ValueError(f"{exc} on the sample (rate out of reach for these options)") from None


def encode(darr, store, *, rate=None, sample_chunks=DEFAULT_SAMPLE_CHUNKS, overwrite=False, **opts):
    """Compress ``darr`` into the Zarr (format 3) array at ``store``, chunk by chunk.

    Each Dask chunk becomes one Zarr chunk holding one rdcodec stream; the
    work runs wherever Dask runs (the current ``distributed.Client``'s
    cluster, or the local scheduler). With ``rate=``, the step is first
    chosen on ``sample_chunks`` chunks (:func:`choose_step`); otherwise give
    ``step=`` or ``distortion=``.

    Parameters
    ----------
    darr : dask.array.Array
        Regular chunks (as Zarr needs: every chunk the same shape but the last).
    store : str or zarr store
        Where the array goes (reachable by every worker).
    rate : float, optional
        Target bits per element for the whole array.
    sample_chunks : int
        Chunks coded to choose the step of a ``rate=`` target.
    overwrite : bool
        Replace an existing array at ``store``.
    **opts
        :class:`~codec.zarr.RDCodec` options (``step=``, ``distortion=``,
        ``lattice=``, ``coder=``, ``seed=``, ...).

    Returns
    -------
    dict
        The codec configuration written (``step`` resolved for a rate target).

    Examples
    --------
    >>> import dask.array as da, numpy as np, tempfile, codec.dask
    >>> x = da.random.default_rng(1).standard_normal((256, 256), chunks=(128, 128))
    >>> path = tempfile.mkdtemp() + "/x.zarr"
    >>> config = codec.dask.encode(x, path, lattice="Z", step=0.05)
    >>> y = codec.dask.decode(path)
    >>> bool(abs(float(((y - x) ** 2).mean().compute()) - 0.05**2 / 12) < 2e-5)
    True
    """
    if rate is not None:
        opts["step"] = choose_step(darr, rate, sample_chunks=sample_chunks, **opts)
    serializer = RDSerializer(**opts)
    darr.to_zarr(store, serializer=serializer, compressors=None, mode="w" if overwrite else "w-")
    return dict(serializer.config)


def decode(store, **from_zarr_kwargs):
    """The Dask array stored at ``store`` by :func:`encode` (lazy; decoded chunk by chunk
    where it is computed). Keyword arguments go to :func:`dask.array.from_zarr`.

    Examples
    --------
    >>> import dask.array as da, tempfile, codec.dask
    >>> path = tempfile.mkdtemp() + "/y.zarr"
    >>> _ = codec.dask.encode(da.ones(1000, chunks=250), path, step=0.01)
    >>> codec.dask.decode(path).chunks
    ((250, 250, 250, 250),)
    """
    return da.from_zarr(store, **from_zarr_kwargs)
