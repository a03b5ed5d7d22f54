"""One-shot API: :func:`encode`, :func:`decode`, :func:`inspect`, :func:`quantize`.

Pipeline (NNCodec's split), one hop each: the options are validated once
(options.py); the quantizer's *designer* picks a quantizer for the data and the
target, searching with rate_control.py for a rate or distortion target; the
quantizer maps the padded array to indices (a :class:`QuantizedArray`); its
``to_bytes`` turns the indices into symbol streams, codes them and frames
them (quantized.py, coders/, container.py). :func:`decode` parses the
container once and runs the same hops backwards.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from . import container
from .chunked import decode_chunks, encode_chunks
from .options import (
    DEFAULT_CHUNK_ELEMENTS,
    EncodeOptions,
    as_float_array,
    check_finite_values,
)
from .pages import gather
from .quantized import (
    QuantizedArray,
    chunk_coder_name,
    chunk_coder_names,
    pad_to_blocks,
    parse_checked,
)
from .quantizers.base import Search
from .rate_control import sample_positions, solve_distortion, solve_rate

#: Default decompression-bomb guard of :func:`decode`.
DEFAULT_MAX_ELEMENTS = 1 << 32

__all__ = ["encode", "decode", "inspect", "quantize", "StreamInfo", "DEFAULT_CHUNK_ELEMENTS"]


def encode(
    x,
    *,
    lattice: str | None = None,
    quantizer: str | None = None,
    step: float | None = None,
    rate: float | None = None,
    distortion: float | None = None,
    coder: str = "arithmetic",
    dither: bool | None = None,
    seed: int = 0,
    chunk_size: int | None = None,
    levels: int | None = None,
    lam: float | None = None,
    weights=None,
    dead_zone: float | None = None,
    method: str | None = None,
    max_levels: int | None = None,
    exact: bool = False,
    **quantizer_options,
) -> bytes:
    r"""Compress a float array to bytes (quantize, then entropy-code).

    Parameters
    ----------
    x : array_like
        float16, float32 or float64 values, any shape (0-d and empty included).
    lattice : str, optional
        ``"Z"`` (alias ``"cubic"``: uniform scalar quantization per element),
        ``"D4"`` (any ``"D<n>"``) or ``"E8"`` (default).
    quantizer : str, optional
        ``None``/``"lattice"`` (default), or a scalar codebook quantizer whose
        levels travel in the stream: ``"uniform"`` (step ``step``, optional
        ``dead_zone``), ``"ecsq"`` (entropy-constrained, minimising
        :math:`D + \lambda R`) or ``"kmeans"`` (``levels`` levels). See
        :mod:`codec.quantizers.scalar` for the designs.
    step, rate, distortion : float, optional
        Rate control, at most one (``levels``/``lam`` count as targets for
        k-means/ECSQ): the lattice scale (the quantizer uses ``step·Λ``) or
        uniform step; a target in bits per element measured on the returned
        bytes (secant search on ``log2(step)``, on the ECSQ design rate, or a
        search over the number of k-means levels); or a target mean squared
        error (closed form for dithered lattices,
        :math:`\mathrm{step} = \sqrt{D / (G \det\Lambda^{2/n})}`, else searched;
        ``weights``-weighted for scalar designs). With none,
        ``distortion = var(x) / 256`` (SNR ≈ 24 dB); a constant input uses
        ``step = max|x| / 256`` (``2**-20`` if all zero).
    coder : str
        ``"arithmetic"`` (static range coder with a stored table),
        ``"huffman"`` (canonical, length-limited), ``"adaptive"`` (adaptive
        arithmetic, Krichevsky–Trofimov counts, no table), ``"lzw"``
        (universal), or ``"auto"`` (the smallest per chunk, recorded in the
        chunk table).
    dither : bool, optional
        Lattices only: subtractive dither (the default): the error is uniform
        over the cell and independent of ``x``. ``False`` gives plain lattice
        rounding.
    seed : int
        Dither seed in [0, 2**64), stored in the header.
    chunk_size : int, optional
        Elements per independently decodable chunk (default 2**20).
    levels : int, optional
        k-means: number of levels.
    lam : float, optional
        ECSQ: the Lagrange multiplier λ (instead of a rate or distortion).
    weights : array_like, optional
        Scalar quantizers: per-element importance (e.g. a diagonal Hessian),
        same shape as ``x``: the design minimises :math:`\sum_i h_i (x_i - \hat x_i)^2`.
    dead_zone : float, optional
        Uniform: widen the zero cell by ``dead_zone·step`` (default 0).
    method : str, optional
        Design algorithm: ``"dp"`` (exactly optimal dynamic programming, the
        default) or ``"clg"`` (Chou–Lookabaugh–Gray iteration) for ECSQ;
        ``"dp"`` (default) or ``"lloyd"`` for k-means.
    max_levels : int, optional
        ECSQ, and k-means under ``rate=``/``distortion=``: the most cells the
        design may use (default 256). The index entropy stays below
        ``log2(max_levels)`` (k-means' well below it), so a rate above about
        8 bits per element needs more; the exact designs slow down with it.
    exact : bool
        Arrays of more than two chunks are designed on a one-chunk sample
        (codebooks, the default step, ``rate=``/``distortion=`` searches), then
        quantized and coded once, chunk by chunk, in memory bounded by a few
        chunks; a rate target lands within about 0.01 bit. ``True`` designs and
        searches on the whole array (exact to 0.005 bit, slower, in memory
        proportional to the array).
    **quantizer_options
        Options of other registered quantizers (each quantizer's designer
        lists its own; see :mod:`codec.quantizers`).

    Returns
    -------
    bytes
        A self-describing stream (docs/format.md).

    Raises
    ------
    TypeError
        Non-float input (integer, complex, object) or a wrongly typed option.
    ValueError
        NaN/Inf in ``x`` (the message names the first bad index), more than one
        of step/rate/distortion, or an unknown lattice/coder.

    Examples
    --------
    >>> import numpy as np, codec
    >>> x = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    >>> blob = codec.encode(x, lattice="E8", step=0.1, seed=7)
    >>> y = codec.decode(blob)
    >>> y.shape, y.dtype
    ((64, 64), dtype('float32'))
    >>> bool(np.abs(y - x).max() < 0.2)
    True
    """
    options = dict(locals())
    options.update(options.pop("quantizer_options"))
    del options["x"]
    call = _Call.prepare(x, options)
    picked = call.pick()
    if isinstance(picked, QuantizedArray):  # a search that coded the whole array already
        return picked.to_bytes()
    return encode_chunks(
        picked,
        call.flat,
        call.arr.shape,
        call.arr.dtype.name,
        call.chunk,
        call.opts.coder,
        call.opts.weights,
    )


def quantize(x, **options) -> QuantizedArray:
    """Quantize without entropy coding: the first half of :func:`encode`.

    Takes exactly the keyword options of :func:`encode`; returns a
    :class:`~codec.quantized.QuantizedArray` whose ``to_bytes()`` gives the
    bytes :func:`encode` would return (coded already, and kept, when a
    ``rate=`` target had to measure them). Unlike :func:`encode`, which works
    chunk by chunk, it holds every index in memory.

    Examples
    --------
    >>> import numpy as np, codec
    >>> x = np.random.default_rng(1).standard_normal(1000)
    >>> q = codec.quantize(x, lattice="E8", step=0.1, seed=2)
    >>> q.to_bytes() == codec.encode(x, lattice="E8", step=0.1, seed=2)
    True
    """
    call = _Call.prepare(x, options)
    picked = call.pick()
    return picked if isinstance(picked, QuantizedArray) else call.quantized(picked)


@dataclass
class _Call:
    """One encode/quantize call: the validated input and options, and its designer.

    Arrays of more than two chunks are designed on a one-chunk sample (evenly
    spaced runs of whole blocks, :func:`codec.rate_control.sample_positions`):
    codebooks, code-length models, the default step and every rate or
    distortion search come from the sample, then the whole array is quantized
    once, chunk by chunk. ``exact=True`` designs and searches on the whole array.
    """

    arr: np.ndarray
    opts: EncodeOptions
    flat: np.ndarray  # the input flattened, in its own dtype (a view when contiguous)
    designer: object  # made on the design data: the sample, or the whole array
    chunk: int
    design_values: np.ndarray  # float64, unpadded: the sample, or None for the whole array
    design_weights: np.ndarray | None

    @classmethod
    def prepare(cls, x, options: dict, *, check_finite: bool = True) -> _Call:
        """Validate ``x`` and ``options`` and make the designer.

        ``check_finite=False`` scans for NaN/Inf only the values the design reads
        (the sample, or a small array whole): the streaming writer checks the
        rest piece by piece, so a memory-mapped input is read once.
        """
        arr = as_float_array(x, check_finite=check_finite)
        opts = EncodeOptions.parse(arr.shape, options)
        flat = np.ascontiguousarray(arr).reshape(-1)
        designer = opts.make_designer(flat, arr.dtype.name)
        chunk = opts.chunk_elements(designer.block_size)
        if opts.exact or flat.size <= 2 * chunk:
            if not check_finite:
                check_finite_values(arr)
            return cls(arr, opts, flat, designer, chunk, None, None)
        positions = sample_positions(flat.size, chunk, designer.block_size)
        sample = gather(flat, positions)  # a memmap's pages are handed back run by run
        if not check_finite and not np.isfinite(sample).all():
            # the rest is checked by the caller as it reads it (codec/streaming.py)
            i = int(positions[np.flatnonzero(~np.isfinite(sample))[0]])
            check_finite_values(flat[i : i + 1], first=i, shape=arr.shape)
        weights = None if opts.weights is None else opts.weights[positions]
        on_sample = opts.make_designer(sample, arr.dtype.name, weights=weights)
        return cls(arr, opts, flat, on_sample, chunk, sample, weights)

    def quantized(self, q) -> QuantizedArray:
        """The whole array quantized by ``q``, in memory."""
        return self._quantized(q, self.flat, self.opts.weights, self.arr.shape)

    def _quantized(self, q, values, weights, shape) -> QuantizedArray:
        block = self.designer.block_size
        padded = pad_to_blocks(values.astype(np.float64), block)
        w = None if weights is None else pad_to_blocks(weights, block)
        return QuantizedArray.from_values(
            q, padded, shape, self.arr.dtype.name, values.size, self.chunk, self.opts.coder, w
        )

    def _on_design_data(self, q) -> QuantizedArray:
        """``q`` applied to the design data (the sample, or the whole array)."""
        if self.design_values is None:
            return self.quantized(q)
        sample = self.design_values
        return self._quantized(q, sample, self.design_weights, sample.shape)

    def pick(self):
        """The quantizer for the call's target (or a QuantizedArray already coded)."""
        designer, opts = self.designer, self.opts
        if opts.target is None:
            return designer.quantizer()
        name, value = opts.target
        if name == "rate":
            return solve_rate(designer.rate_search(value), value, self._bits)
        if name == "distortion":
            found = designer.for_distortion(value)
            if isinstance(found, Search):
                x = self.flat if self.design_values is None else self.design_values
                x = x.astype(np.float64)

                def mse(q) -> float:
                    return float(np.mean((self._on_design_data(q).reconstruction() - x) ** 2))

                found = solve_distortion(found, value, mse)
            return found
        return designer.quantizer(**{name: value})

    def _bits(self, q):
        """Bits per element of the array's bytes under ``q``, and the payload to return.

        On the whole array: the real bytes (and the coded array is kept). On a
        sample: its chunk payload per sample element plus its header (codebooks,
        value tables: paid once per array) spread over the whole array.
        """
        qa = self._on_design_data(q)
        blob = qa.to_bytes()
        n = max(self.flat.size, 1)
        if self.design_values is None:
            return 8.0 * len(blob) / n, qa
        payload = sum(entry.length for entry in container.parse(blob).chunks)
        return 8.0 * (payload / self.design_values.size + (len(blob) - payload) / n), q


# ---------------------------------------------------------------------------
# decoding and inspection
# ---------------------------------------------------------------------------
def decode(blob, *, max_elements: int | None = DEFAULT_MAX_ELEMENTS) -> np.ndarray:
    """Decompress a stream made by :func:`encode`.

    Parameters
    ----------
    blob : bytes-like
        The whole stream; trailing bytes are an error.
    max_elements : int or None
        Refuse streams that announce more elements (a decompression-bomb
        guard), checked from the header before anything is allocated;
        ``None`` disables the check. A stream whose chunks are constant is a
        few bytes whatever its size, so this is the bound on memory: decoding
        holds the output plus a few chunks' working arrays (about 24 bytes per
        element of one chunk group, docs/reliability.md), so the default 2**32
        admits 16 GiB of float32 output; lower it for untrusted input.

    Returns
    -------
    numpy.ndarray
        The reconstruction, with the shape and dtype of the encoded array.

    Raises
    ------
    codec.errors.CodecError
        ``TruncatedStreamError``, ``CorruptStreamError`` or
        ``UnsupportedFormatError`` for any stream that cannot be decoded.
    ValueError
        The stream announces more than ``max_elements`` elements.

    Examples
    --------
    >>> import numpy as np, codec
    >>> blob = codec.encode(np.arange(10, dtype=np.float32), step=0.01)
    >>> codec.decode(blob).round(1).tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    """
    return decode_chunks(blob, parse_checked(blob, max_elements=max_elements))


@dataclass(frozen=True)
class StreamInfo:
    """What :func:`inspect` reads from a stream's header, without decoding.

    ``expected_mse`` is a dithered lattice quantizer's exact MSE per element,
    ``G·(step^n det)^(2/n)`` (None where it depends on the data). ``parameters``
    holds everything the quantizer reports about itself (e.g. a trellis
    quantizer's ``states``); ``lattice``, ``step``, ``dither`` and ``seed`` are
    the common ones, None/False where they do not apply.
    """

    shape: tuple
    dtype: str
    quantizer: str
    lattice: str | None
    step: float | None
    dither: bool
    seed: int | None
    coder: str
    chunk_coders: tuple
    n_elements: int
    n_chunks: int
    n_bytes: int
    bits_per_element: float
    expected_mse: float | None
    format_version: str
    parameters: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def inspect(blob) -> StreamInfo:
    """Read a stream's header and chunk table (checksums included) without decoding.

    Examples
    --------
    >>> import numpy as np, codec
    >>> info = codec.inspect(codec.encode(np.zeros(100), lattice="D4", step=0.5, seed=3))
    >>> info.shape, info.lattice, info.step, info.seed, info.coder
    ((100,), 'D4', 0.5, 3, 'arithmetic')
    """
    parsed = container.parse(blob)
    container.verify_payloads(blob, parsed)
    layout, qz = parsed.layout, parsed.quantizer
    described = qz.describe()
    n = layout.n_elements
    n_bytes = len(memoryview(blob).cast("B"))
    return StreamInfo(
        shape=layout.shape,
        dtype=layout.dtype,
        quantizer=qz.kind,
        lattice=described.get("lattice"),
        step=described.get("step"),
        dither=bool(described.get("dither", False)),
        seed=described.get("seed"),
        coder=chunk_coder_name(parsed),
        chunk_coders=chunk_coder_names(parsed),
        n_elements=n,
        n_chunks=len(parsed.chunks),
        n_bytes=n_bytes,
        bits_per_element=8.0 * n_bytes / n if n else math.inf,
        expected_mse=qz.expected_mse(),
        format_version="{}.{}".format(*parsed.format_version),
        parameters=described,
    )
