"""One-shot API: :func:`encode`, :func:`decode`, :func:`inspect`, and rate control.

Pipeline (NNCodec's split): a *quantizer* maps the padded float64 array to
integer points, the points of each chunk become integer symbol *streams*, a
*coder* codes every stream of every chunk in parallel, and the *container*
(container.py) frames the result with a header, a chunk table and checksums.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from . import container
from .coders import available_coders, coder_by_id, get_coder
from .errors import CorruptStreamError, UnsupportedFormatError
from .quantizers.lattice import LatticeQuantizer, get_lattice

DEFAULT_LATTICE = "E8"
DEFAULT_CHUNK_ELEMENTS = 1 << 20
#: Default target when no step/rate/distortion is given: MSE = variance / 256
#: (SNR ≈ 24.1 dB, about 4 bit/element on Gaussian data).
DEFAULT_RELATIVE_MSE = 2.0**-8
#: Default step for an all-zero input (no variance or magnitude to scale by).
ZERO_INPUT_STEP = 2.0**-20
#: Default decompression-bomb guard of :func:`decode`.
DEFAULT_MAX_ELEMENTS = 1 << 32
#: Largest |x| / step accepted: lattice indices stay exact in float64 and int64.
MAX_SCALED_MAGNITUDE = 2.0**50
_FLOAT_DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
_RATE_TOL_BITS = 0.005
_MAX_SOLVER_STEPS = 24


# ---------------------------------------------------------------------------
# argument validation
# ---------------------------------------------------------------------------
def _as_float_array(x) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind == "c":
        raise TypeError("complex arrays are not supported; encode the real and imaginary parts")
    if arr.dtype.kind != "f" or arr.dtype.name not in _FLOAT_DTYPES:
        raise TypeError(
            f"expected a float16, float32 or float64 array, got dtype {arr.dtype}; "
            "convert it with x.astype(np.float32) first"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"x contains NaN or Inf; the first is at index {first}: {arr[first]}")
    return arr


def _positive_finite(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__}")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return v


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer in [0, 2**64), got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must lie in [0, 2**64), got {seed}")
    return int(seed)


def _check_chunk_size(chunk_size, dim: int) -> int:
    if chunk_size is None:
        chunk_size = DEFAULT_CHUNK_ELEMENTS
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral):
        raise TypeError("chunk_size must be an integer number of elements")
    if not dim <= chunk_size <= 1 << 30:
        raise ValueError(f"chunk_size must lie in [{dim}, 2**30], got {chunk_size}")
    return -(-int(chunk_size) // dim) * dim  # round up to whole lattice blocks


# ---------------------------------------------------------------------------
# encoding
# ---------------------------------------------------------------------------
def encode(
    x,
    *,
    lattice: str | None = None,
    quantizer: str | None = None,
    step: float | None = None,
    rate: float | None = None,
    distortion: float | None = None,
    coder: str = "arithmetic",
    dither: bool = True,
    seed: int = 0,
    chunk_size: int | None = None,
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
        ``None`` or ``"lattice"``: the lattice quantizer.
    step, rate, distortion : float, optional
        Rate control, at most one: the lattice scale (the quantizer uses
        ``step·Λ``); a target in bits per element measured on the returned
        bytes (solved by a secant search on ``log2(step)``); or a target mean
        squared error (closed form under dither,
        :math:`\mathrm{step} = \sqrt{D / (G \det\Lambda^{2/n})}`, else searched).
        With none, ``distortion = var(x) / 256`` (SNR ≈ 24 dB); a constant
        input uses ``step = max|x| / 256`` (``2**-20`` if all zero).
    coder : str
        ``"arithmetic"`` (static range coder) or ``"auto"`` (smallest coder
        per chunk among those available).
    dither : bool
        Subtractive dither (default): the error is uniform over the cell and
        independent of ``x``. ``False`` gives plain lattice rounding.
    seed : int
        Dither seed in [0, 2**64), stored in the header.
    chunk_size : int, optional
        Elements per independently decodable chunk (default 2**20).

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
    arr = _as_float_array(x)
    targets = {"step": step, "rate": rate, "distortion": distortion}
    given = [k for k, v in targets.items() if v is not None]
    if len(given) > 1:
        raise ValueError(f"give at most one of step=, rate=, distortion= (got {', '.join(given)})")
    if quantizer not in (None, "lattice"):
        raise ValueError(f"unknown quantizer {quantizer!r}; use quantizer='lattice' (the default)")
    lat = get_lattice(DEFAULT_LATTICE if lattice is None else lattice)
    if not isinstance(dither, bool | np.bool_):
        raise TypeError("dither must be True or False")
    seed = _check_seed(seed)
    chunk_elements = _check_chunk_size(chunk_size, lat.dim)
    coder_names = _coder_candidates(coder)

    flat = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)
    n_pad = -(-flat.size // lat.dim) * lat.dim
    padded = np.zeros(n_pad, np.float64)
    padded[: flat.size] = flat
    job = _Job(
        arr.shape,
        arr.dtype.name,
        padded,
        flat.size,
        lat,
        bool(dither),
        seed,
        chunk_elements,
        coder,
        coder_names,
    )

    if step is not None:
        return job.encode(_positive_finite("step", step))[0]
    if rate is not None:
        return _solve_rate(job, _positive_finite("rate", rate))
    if distortion is not None:
        return _solve_distortion(job, _positive_finite("distortion", distortion))
    var = float(flat.var()) if flat.size else 0.0
    if var > 0:
        return job.encode(lat.step_for_mse(var * DEFAULT_RELATIVE_MSE))[0]
    # Constant input has no scale of its own: take one from its magnitude.
    peak = float(np.abs(flat).max()) if flat.size else 0.0
    return job.encode(peak / 256.0 if peak > 0 else ZERO_INPUT_STEP)[0]


def _coder_candidates(coder) -> tuple[str, ...]:
    if not isinstance(coder, str):
        raise TypeError(f"coder must be a string, got {type(coder).__name__}")
    if coder.lower() == "auto":
        return available_coders()
    return (get_coder(coder).name,)


@dataclass
class _Job:
    """Everything about one encode call except the step."""

    shape: tuple
    dtype: str
    padded: np.ndarray
    n_elements: int
    lattice: object
    dither: bool
    seed: int
    chunk_elements: int
    coder_request: str
    coder_names: tuple

    def quantizer(self, step: float) -> LatticeQuantizer:
        peak = float(np.abs(self.padded).max()) if self.padded.size else 0.0
        if peak / step + 2.0 * self.lattice.dim > MAX_SCALED_MAGNITUDE:
            raise ValueError(
                f"step {step!r} is too small for values up to {peak!r}: |x|/step must stay "
                f"below 2**50; use a larger step or a lower rate"
            )
        return LatticeQuantizer(self.lattice, step, dither=self.dither, seed=self.seed)

    def encode(self, step: float) -> tuple[bytes, LatticeQuantizer, np.ndarray]:
        qz = self.quantizer(step)
        points = qz.quantize(self.padded)
        header = {
            "shape": list(self.shape),
            "dtype": self.dtype,
            "quantizer": "lattice",
            "lattice": qz.lattice.name,
            "step": float(step).hex(),
            "dither": qz.dither,
            "seed": qz.seed,
            "coder": self.coder_request.lower(),
            "n_elements": self.n_elements,
            "padded_elements": int(self.padded.size),
            "chunk_elements": self.chunk_elements,
        }
        chunks = _code_chunks(qz, points, self.chunk_elements, self.coder_names)
        return container.pack(header, b"", chunks), qz, points


def _code_chunks(qz, points, chunk_elements, coder_names):
    """Split points into chunks and streams, code them, keep the smallest coder per chunk."""
    bounds = range(0, points.size, chunk_elements)
    per_chunk = [qz.to_streams(points[a : a + chunk_elements]) for a in bounds]
    all_streams = [s for streams in per_chunk for s in streams]
    if not all_streams:
        return []
    offsets = np.zeros(len(all_streams) + 1, np.int64)
    np.cumsum([s.size for s in all_streams], out=offsets[1:])
    symbols = np.concatenate(all_streams)
    best: list[tuple[int, bytes] | None] = [None] * len(per_chunk)
    for name in coder_names:
        coder = get_coder(name)
        buf, starts, lengths = coder.encode_batch(symbols, offsets)
        k = 0
        for c, streams in enumerate(per_chunk):
            parts = []
            for s in streams:
                parts.append((s.size, buf[starts[k] : starts[k] + lengths[k]].tobytes()))
                k += 1
            payload = container.pack_streams(parts)
            if best[c] is None or len(payload) < len(best[c][1]):
                best[c] = (coder.coder_id, payload)
    return best


def _solve_rate(job: _Job, target: float) -> bytes:
    """Secant search on log2(step) for the rate ``target`` (bits/element of the real bytes)."""
    n = max(job.n_elements, 1)

    def measure(log_step):
        blob = job.encode(2.0**log_step)[0]
        return 8.0 * len(blob) / n, blob

    # High-rate guess: R ≈ h(X) - log2(step · det^(1/n)) with a Gaussian h(X).
    flat = job.padded[: job.n_elements]
    sigma = float(flat.std()) if flat.size else 1.0
    sigma = sigma if sigma > 0 else max(float(np.abs(flat).max(initial=0.0)), 1.0)
    h = 0.5 * math.log2(2 * math.pi * math.e * sigma**2)
    log_step = h - target - math.log2(job.lattice.det) / job.lattice.dim
    return _secant(measure, log_step, target, slope=-1.0, tol=_RATE_TOL_BITS, what="rate")


def _solve_distortion(job: _Job, target: float) -> bytes:
    """Step for a target MSE: closed form under dither, else a search on the measured MSE."""
    if job.dither:
        return job.encode(job.lattice.step_for_mse(target))[0]
    x = job.padded[: job.n_elements]
    if x.size == 0:
        return job.encode(job.lattice.step_for_mse(target))[0]

    def measure(log_step):
        qz = job.quantizer(2.0**log_step)
        x_hat = qz.dequantize(qz.quantize(job.padded))[: job.n_elements]
        mse = float(np.mean((x_hat - x) ** 2))
        return math.log2(max(mse, 1e-300)), 2.0**log_step

    log_step = math.log2(job.lattice.step_for_mse(target))
    step = _secant(measure, log_step, math.log2(target), slope=2.0, tol=0.01, what="distortion")
    return job.encode(step)[0]


def _secant(measure, x0, target, *, slope, tol, what):
    """Find x with measure(x)[0] ≈ target for a monotone measure; return the payload.

    Keeps a bracket once one exists and otherwise extrapolates with the last
    secant slope (or ``slope`` at first). If the target cannot be met within
    ``tol`` (e.g. a tiny array whose header dominates), the closest point
    that does not overshoot is returned with a warning.
    """
    increasing = slope > 0
    below = above = None  # (x, value) with value below / above target
    tried = []
    x, prev = x0, None
    for _ in range(_MAX_SOLVER_STEPS):
        value, payload = measure(x)
        tried.append((abs(value - target), value, payload, x))
        if abs(value - target) <= tol:
            return payload
        if value < target:
            below = (
                (x, value)
                if below is None or abs(value - target) < abs(below[1] - target)
                else below
            )
        else:
            above = (
                (x, value)
                if above is None or abs(value - target) < abs(above[1] - target)
                else above
            )
        if prev is not None and prev[0] != x and prev[1] != value:
            slope = (value - prev[1]) / (x - prev[0])
            if (slope > 0) != increasing or abs(slope) < 1e-3:
                slope = 1e-3 if increasing else -1e-3
        prev = (x, value)
        nxt = x + (target - value) / slope
        if below is not None and above is not None:
            lo, hi = sorted((below[0], above[0]))
            if not lo < nxt < hi:
                nxt = 0.5 * (lo + hi)
            if hi - lo < 1e-12:
                break
        x = float(np.clip(nxt, x - 8.0, x + 8.0))
    # Fall back to the closest point that stays within the budget (rate or MSE).
    ok = [t for t in tried if t[1] <= target + tol]
    pick = min(ok or tried, key=lambda t: t[0])
    warnings.warn(
        f"could not reach {what} target within tolerance; closest reached: {pick[1]:.6g}",
        RuntimeWarning,
        stacklevel=3,
    )
    return pick[2]


# ---------------------------------------------------------------------------
# decoding
# ---------------------------------------------------------------------------
def _field(header: dict, key: str, kind):
    value = header.get(key)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise CorruptStreamError(f"header field {key!r} is missing or not an integer")
    if kind is not int and not isinstance(value, kind):
        raise CorruptStreamError(f"header field {key!r} is missing or invalid")
    return value


@dataclass(frozen=True)
class _Layout:
    shape: tuple
    dtype: str
    n_elements: int
    padded_elements: int
    chunk_elements: int
    quantizer: LatticeQuantizer


def _read_layout(parsed: container.ParsedStream) -> _Layout:
    h = parsed.header
    shape = _field(h, "shape", list)
    if any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in shape):
        raise CorruptStreamError("header field 'shape' is invalid")
    dtype = _field(h, "dtype", str)
    if dtype not in _FLOAT_DTYPES:
        raise UnsupportedFormatError(f"unsupported dtype {dtype!r} in header")
    if _field(h, "quantizer", str) != "lattice":
        raise UnsupportedFormatError(f"unsupported quantizer {h['quantizer']!r} in header")
    try:
        lat = get_lattice(_field(h, "lattice", str))
        step = float.fromhex(_field(h, "step", str))
    except ValueError:
        raise UnsupportedFormatError("unsupported lattice or invalid step in header") from None
    if not (math.isfinite(step) and step > 0):
        raise CorruptStreamError("header step is not positive and finite")
    dither = _field(h, "dither", bool)
    seed = _field(h, "seed", int)
    if not 0 <= seed < 2**64:
        raise CorruptStreamError("header seed out of range")
    n = _field(h, "n_elements", int)
    n_pad = _field(h, "padded_elements", int)
    ce = _field(h, "chunk_elements", int)
    if n != math.prod(shape) or n_pad != -(-n // lat.dim) * lat.dim:
        raise CorruptStreamError("header element counts do not match the shape")
    if ce <= 0 or ce % lat.dim:
        raise CorruptStreamError("header chunk_elements is invalid")
    if len(parsed.chunks) != -(-n_pad // ce):
        raise CorruptStreamError("chunk count does not match the header")
    qz = LatticeQuantizer(lat, step, dither=dither, seed=seed)
    return _Layout(tuple(shape), dtype, n, n_pad, ce, qz)


def decode(blob, *, max_elements: int | None = DEFAULT_MAX_ELEMENTS) -> np.ndarray:
    """Decompress a stream made by :func:`encode`.

    Parameters
    ----------
    blob : bytes-like
        The whole stream; trailing bytes are an error.
    max_elements : int or None
        Refuse streams that announce more elements (a decompression-bomb
        guard); ``None`` disables the check.

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
    parsed = container.parse(blob, check_payloads=False)
    layout = _read_layout(parsed)
    if max_elements is not None and layout.n_elements > max_elements:
        raise ValueError(
            f"stream holds {layout.n_elements} elements, more than max_elements={max_elements}; "
            "pass a larger max_elements (or None) if you trust it"
        )
    container.parse(blob)  # now verify every chunk's checksum
    buf = np.frombuffer(blob, np.uint8)
    qz = layout.quantizer
    chunk_sizes = [
        min(layout.chunk_elements, layout.padded_elements - a)
        for a in range(0, layout.padded_elements, layout.chunk_elements)
    ]
    directories = []
    for c, (entry, size) in enumerate(zip(parsed.chunks, chunk_sizes, strict=True)):
        counts, starts, lengths = container.unpack_streams(
            buf, entry.offset, entry.offset + entry.length
        )
        if not qz.stream_counts_ok(counts, size):
            raise CorruptStreamError(f"chunk {c}: stream sizes do not match the chunk")
        directories.append((counts, starts, lengths))

    decoded: list = [None] * len(directories)
    by_coder: dict[int, list[int]] = {}
    for c, entry in enumerate(parsed.chunks):
        by_coder.setdefault(entry.coder_id, []).append(c)
    for coder_id, chunk_ids in by_coder.items():
        coder = coder_by_id(coder_id)
        if coder is None:
            raise UnsupportedFormatError(f"unknown coder id {coder_id} in the chunk table")
        counts = np.concatenate([directories[c][0] for c in chunk_ids])
        starts = np.concatenate([directories[c][1] for c in chunk_ids])
        lengths = np.concatenate([directories[c][2] for c in chunk_ids])
        symbols = coder.decode_batch(buf, starts, lengths, counts)
        pos = 0
        for c in chunk_ids:
            streams = []
            for k in directories[c][0]:
                streams.append(symbols[pos : pos + k])
                pos += k
            decoded[c] = streams

    points = np.empty(layout.padded_elements, np.int64)
    a = 0
    for c, size in enumerate(chunk_sizes):
        p = qz.from_streams(decoded[c], size)
        if p is None:
            raise CorruptStreamError(f"chunk {c}: lattice streams are inconsistent")
        points[a : a + size] = p
        a += size
    values = qz.dequantize(points)[: layout.n_elements]
    return values.astype(_FLOAT_DTYPES[layout.dtype]).reshape(layout.shape)


# ---------------------------------------------------------------------------
# inspection
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StreamInfo:
    """What :func:`inspect` reads from a stream's header, without decoding.

    ``expected_mse`` is the dithered quantizer's exact MSE per element,
    ``G·(step^n det)^(2/n)`` (None without dither, where it depends on the data).
    """

    shape: tuple
    dtype: str
    quantizer: str
    lattice: str
    step: float
    dither: bool
    seed: int
    coder: str
    chunk_coders: tuple
    n_elements: int
    n_chunks: int
    n_bytes: int
    bits_per_element: float
    expected_mse: float | None
    format_version: str

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
    layout = _read_layout(parsed)
    qz = layout.quantizer
    names = []
    for entry in parsed.chunks:
        coder = coder_by_id(entry.coder_id)
        names.append(coder.name if coder is not None else f"unknown({entry.coder_id})")
    n_bytes = len(memoryview(blob).cast("B"))
    return StreamInfo(
        shape=layout.shape,
        dtype=layout.dtype,
        quantizer="lattice",
        lattice=qz.lattice.name,
        step=qz.step,
        dither=qz.dither,
        seed=qz.seed,
        coder=str(parsed.header.get("coder", "")),
        chunk_coders=tuple(names),
        n_elements=layout.n_elements,
        n_chunks=len(parsed.chunks),
        n_bytes=n_bytes,
        bits_per_element=8.0 * n_bytes / layout.n_elements if layout.n_elements else math.inf,
        expected_mse=qz.expected_mse() if qz.dither else None,
        format_version="{}.{}".format(*parsed.format_version),
    )
