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
from .quantized import FLOAT_DTYPES, QuantizedArray, coder_candidates, read_quantized
from .quantizers.codebook import MAX_LEVELS as MAX_CODEBOOK_LEVELS
from .quantizers.codebook import CodebookQuantizer
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
_RATE_TOL_BITS = 0.005
_MAX_SOLVER_STEPS = 24


# ---------------------------------------------------------------------------
# argument validation
# ---------------------------------------------------------------------------
def _as_float_array(x) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind == "c":
        raise TypeError("complex arrays are not supported; encode the real and imaginary parts")
    if arr.dtype.kind != "f" or arr.dtype.name not in FLOAT_DTYPES:
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
    dither: bool | None = None,
    seed: int = 0,
    chunk_size: int | None = None,
    levels: int | None = None,
    lam: float | None = None,
    weights=None,
    dead_zone: float = 0.0,
    method: str | None = None,
    max_levels: int | None = None,
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
    dead_zone : float
        Uniform: widen the zero cell by ``dead_zone·step``.
    method : str, optional
        Design algorithm: ``"dp"`` (exactly optimal dynamic programming, the
        default) or ``"clg"`` (Chou–Lookabaugh–Gray iteration) for ECSQ;
        ``"dp"`` (default) or ``"lloyd"`` for k-means.
    max_levels : int, optional
        ECSQ, and k-means under ``rate=``/``distortion=``: the most cells the
        design may use (default 256). The index entropy stays below
        ``log2(max_levels)`` (k-means' well below it), so a rate above about
        8 bits per element needs more; the exact designs slow down with it.

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
    return _plan(x, dict(locals())).run()[1]


def quantize(x, **options) -> QuantizedArray:
    """Quantize without entropy coding: the first half of :func:`encode`.

    Takes exactly the keyword options of :func:`encode`; returns a
    :class:`~codec.quantized.QuantizedArray` whose ``to_bytes()`` gives the
    bytes :func:`encode` would return.

    Examples
    --------
    >>> import numpy as np, codec
    >>> x = np.random.default_rng(1).standard_normal(1000)
    >>> q = codec.quantize(x, lattice="E8", step=0.1, seed=2)
    >>> q.to_bytes() == codec.encode(x, lattice="E8", step=0.1, seed=2)
    True
    """
    unknown = set(options) - set(_ENCODE_OPTIONS)
    if unknown:
        raise TypeError(f"quantize() got unexpected keyword arguments {sorted(unknown)}")
    opts = dict(_ENCODE_OPTIONS, **options)
    return _plan(x, opts).run()[0]


_ENCODE_OPTIONS = {
    "lattice": None,
    "quantizer": None,
    "step": None,
    "rate": None,
    "distortion": None,
    "coder": "arithmetic",
    "dither": None,
    "seed": 0,
    "chunk_size": None,
    "levels": None,
    "lam": None,
    "weights": None,
    "dead_zone": 0.0,
    "method": None,
    "max_levels": None,
}
SCALAR_QUANTIZERS = ("uniform", "ecsq", "kmeans")
# Which rate-control options each quantizer accepts (at most one may be given).
_TARGETS = {
    "lattice": ("step", "rate", "distortion"),
    "uniform": ("step", "rate", "distortion"),
    "ecsq": ("lam", "rate", "distortion"),
    "kmeans": ("levels", "rate", "distortion"),
}
_METHODS = {"ecsq": ("dp", "clg"), "kmeans": ("dp", "lloyd")}


def _plan(x, opts: dict):
    """Validate the input and options of encode/quantize; return a plan to run."""
    arr = _as_float_array(x)
    kind = "lattice" if opts["quantizer"] is None else opts["quantizer"]
    if kind not in _TARGETS:
        raise ValueError(
            f"unknown quantizer {kind!r}; use 'lattice' (the default), 'uniform', 'ecsq' "
            "or 'kmeans'"
        )
    allowed = _TARGETS[kind]
    given = [k for k in ("step", "rate", "distortion", "levels", "lam") if opts[k] is not None]
    for k in given:
        if k not in allowed:
            raise ValueError(
                f"{k}= does not apply to quantizer={kind!r}; give one of "
                + ", ".join(f"{a}=" for a in allowed)
            )
    if len(given) > 1:
        raise ValueError(f"give at most one of {', '.join(a + '=' for a in allowed)} (got {given})")
    target = {}
    for k in given:
        if k == "levels":
            v = opts[k]
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"levels must be a positive integer, got {v!r}")
            target[k] = int(v)
        else:
            target[k] = _positive_finite(k, opts[k])
    seed = _check_seed(opts["seed"])
    coder_candidates(opts["coder"])  # validates the name
    flat = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)
    common = dict(
        shape=arr.shape,
        dtype=arr.dtype.name,
        n_elements=flat.size,
        seed=seed,
        coder=opts["coder"],
        target=target,
    )
    if kind == "lattice":
        for k in ("weights", "method"):
            if opts[k] is not None:
                raise ValueError(f"{k}= applies to the scalar quantizers (uniform, ecsq, kmeans)")
        if opts["max_levels"] is not None:
            raise ValueError("max_levels= applies to quantizer='ecsq' or 'kmeans'")
        if opts["dead_zone"]:
            raise ValueError("dead_zone= applies to quantizer='uniform'")
        lat = get_lattice(DEFAULT_LATTICE if opts["lattice"] is None else opts["lattice"])
        dither = True if opts["dither"] is None else opts["dither"]
        if not isinstance(dither, bool | np.bool_):
            raise TypeError("dither must be True or False")
        chunk_elements = _check_chunk_size(opts["chunk_size"], lat.dim)
        n_pad = -(-flat.size // lat.dim) * lat.dim
        padded = np.zeros(n_pad, np.float64)
        padded[: flat.size] = flat
        return _Plan(
            padded=padded, lattice=lat, dither=bool(dither), chunk_elements=chunk_elements, **common
        )
    if opts["lattice"] is not None:
        raise ValueError(f"lattice= applies to quantizer='lattice', not {kind!r}")
    if opts["dither"]:
        raise ValueError(
            "dither= applies to lattice quantizers; for dithered uniform quantization "
            "use lattice='Z'"
        )
    method = opts["method"]
    if kind == "uniform" and method is not None:
        raise ValueError("method= applies to quantizer='ecsq' or 'kmeans'")
    if kind in _METHODS and method is not None and method not in _METHODS[kind]:
        raise ValueError(f"method for {kind} must be one of {_METHODS[kind]}, got {method!r}")
    dead_zone = opts["dead_zone"]
    if kind != "uniform" and dead_zone:
        raise ValueError("dead_zone= applies to quantizer='uniform'")
    if isinstance(dead_zone, bool) or not isinstance(dead_zone, numbers.Real) or dead_zone < 0:
        raise ValueError(f"dead_zone must be a number >= 0, got {dead_zone!r}")
    weights = opts["weights"]
    if weights is not None:
        w = np.asarray(weights)
        if w.dtype.kind not in "fiu":
            raise TypeError(f"weights must be a real array, got dtype {w.dtype}")
        if w.shape != arr.shape:
            raise ValueError(f"weights must have the shape of x {arr.shape}, got {w.shape}")
        w = np.ascontiguousarray(w, np.float64).reshape(-1)
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("weights must be finite and non-negative")
        weights = w
    max_levels = opts["max_levels"]
    if max_levels is not None:
        if kind not in _METHODS or "levels" in target:
            raise ValueError(
                "max_levels= applies to quantizer='ecsq', and to 'kmeans' with rate= or "
                "distortion= (levels= fixes the number of levels)"
            )
        if (
            isinstance(max_levels, bool)
            or not isinstance(max_levels, numbers.Integral)
            or not 1 <= max_levels <= MAX_CODEBOOK_LEVELS
        ):
            raise ValueError(
                f"max_levels must be an integer in [1, {MAX_CODEBOOK_LEVELS}], got {max_levels!r}"
            )
        max_levels = int(max_levels)
    chunk_elements = _check_chunk_size(opts["chunk_size"], 1)
    return _ScalarPlan(
        values=flat,
        kind=kind,
        weights=weights,
        dead_zone=float(dead_zone),
        method=method or ("dp" if kind in _METHODS else None),
        max_levels=max_levels,
        chunk_elements=chunk_elements,
        **common,
    )


@dataclass
class _Plan:
    """A lattice encode call; ``run`` picks the step and codes."""

    shape: tuple
    dtype: str
    padded: np.ndarray
    n_elements: int
    lattice: object
    dither: bool
    seed: int
    chunk_elements: int
    coder: str
    target: dict

    def quantize(self, step: float) -> QuantizedArray:
        peak = float(np.abs(self.padded).max()) if self.padded.size else 0.0
        if peak / step + 2.0 * self.lattice.dim > MAX_SCALED_MAGNITUDE:
            raise ValueError(
                f"step {step!r} is too small for values up to {peak!r}: |x|/step must stay "
                f"below 2**50; use a larger step or a lower rate"
            )
        qz = LatticeQuantizer(self.lattice, step, dither=self.dither, seed=self.seed)
        points = qz.quantize(self.padded)
        return QuantizedArray(
            qz, points, self.shape, self.dtype, self.n_elements, self.chunk_elements, self.coder
        )

    def coded(self, step: float) -> tuple[QuantizedArray, bytes]:
        q = self.quantize(step)
        return q, q.to_bytes()

    def run(self) -> tuple[QuantizedArray, bytes]:
        if "step" in self.target:
            return self.coded(self.target["step"])
        if "rate" in self.target:
            return _solve_rate(self, self.target["rate"])
        if "distortion" in self.target:
            return _solve_distortion(self, self.target["distortion"])
        x = self.padded[: self.n_elements]
        var = float(x.var()) if x.size else 0.0
        if var > 0:
            return self.coded(self.lattice.step_for_mse(var * DEFAULT_RELATIVE_MSE))
        # Constant input has no scale of its own: take one from its magnitude.
        peak = float(np.abs(x).max()) if x.size else 0.0
        return self.coded(peak / 256.0 if peak > 0 else ZERO_INPUT_STEP)


@dataclass
class _ScalarPlan:
    """A scalar-codebook encode call (uniform, ECSQ, k-means)."""

    shape: tuple
    dtype: str
    values: np.ndarray
    n_elements: int
    kind: str
    weights: np.ndarray | None
    dead_zone: float
    method: str | None
    max_levels: int | None
    seed: int
    chunk_elements: int
    coder: str
    target: dict

    def _design_data(self):
        if self.values.size:
            return self.values, self.weights
        return np.zeros(1), None  # an empty array still gets a (one-level) codebook

    def level_dtype(self, levels: np.ndarray) -> str:
        """Precision to store levels in: the array's dtype, float32 for float64 arrays
        where rounding a level to float32 moves it by < 1e-4 of the closest level gap."""
        if self.dtype != "float64":
            return self.dtype
        err = np.abs(levels.astype(np.float32).astype(np.float64) - levels)
        gap = np.diff(levels).min() if levels.size > 1 else np.inf
        with np.errstate(over="ignore"):
            fits = np.isfinite(levels.astype(np.float32)).all()
        return "float32" if fits and err.max(initial=0.0) < 1e-4 * gap else "float64"

    def from_codebook(self, cb) -> QuantizedArray:
        qz = CodebookQuantizer(
            cb.levels, cb.thresholds, method=cb.method, level_dtype=self.level_dtype(cb.levels)
        )
        points = qz.quantize(self.values)
        return QuantizedArray(
            qz, points, self.shape, self.dtype, self.n_elements, self.chunk_elements, self.coder
        )

    def coded(self, cb) -> tuple[QuantizedArray, bytes]:
        q = self.from_codebook(cb)
        return q, q.to_bytes()

    def design(self, **target):
        """Codebook for one of ``step=`` (uniform), ``levels=`` (k-means), ``lam=`` (ECSQ),
        ``entropy=`` (index entropy) or ``mse=``."""
        from .quantizers import scalar as S

        x, w = self._design_data()
        common = {"weights": w}
        if self.kind == "uniform":
            extra = {"dead_zone": self.dead_zone}
        else:
            extra = {"method": self.method}
            if self.kind == "kmeans":
                extra["seed"] = self.seed
            if self.max_levels is not None and "levels" not in target:
                extra["max_levels"] = self.max_levels
        if "entropy" in target:
            return S.design_for_rate(x, target["entropy"], quantizer=self.kind, **common, **extra)
        if "mse" in target:
            return S.design_for_distortion(x, target["mse"], quantizer=self.kind, **common, **extra)
        if self.kind == "uniform":
            return S.design_uniform(x, target["step"], **common, **extra)
        if self.kind == "kmeans":
            return S.design_kmeans(x, target["levels"], **common, **extra)
        return S.design_ecsq(x, lam=target["lam"], **common, **extra)

    def run(self) -> tuple[QuantizedArray, bytes]:
        t = self.target
        if "rate" in t:
            return self._solve_rate(t["rate"])
        if "distortion" in t:
            return self.coded(self.design(mse=t["distortion"]))
        if t:
            return self.coded(self.design(**t))
        x = self.values
        var = float(x.var()) if x.size else 0.0
        if var > 0:
            return self.coded(self.design(mse=var * DEFAULT_RELATIVE_MSE))
        # Constant input: one level suffices for every design.
        if self.kind == "kmeans":
            return self.coded(self.design(levels=1))
        if self.kind == "ecsq":
            return self.coded(self.design(lam=1.0))
        peak = float(np.abs(x).max(initial=0.0))
        return self.coded(self.design(step=peak / 256.0 if peak > 0 else ZERO_INPUT_STEP))

    def _solve_rate(self, target: float):
        """Hit ``target`` bits/element of the real bytes by re-targeting the design's
        index entropy (the bytes add the coder's overhead, the codebook and the header)."""
        n = max(self.n_elements, 1)
        cache = {}

        # An index entropy above log2(#distinct values) is unreachable (tiny arrays).
        x, _ = self._design_data()
        top = math.log2(np.unique(x).size)

        def measure(entropy):
            with warnings.catch_warnings():
                # Missing the entropy by a hull gap is fine: the secant re-targets, and
                # warns itself if the byte target stays out of reach.
                warnings.simplefilter("ignore", UserWarning)
                cb = self.design(entropy=min(max(entropy, 0.0), top))
            key = (cb.levels.tobytes(), cb.thresholds.tobytes())
            if key not in cache:
                q, blob = self.coded(cb)
                cache[key] = (8.0 * len(blob) / n, (q, blob))
            return cache[key]

        # Each step is a full design, and exact designs move in discrete steps: few tries.
        return _secant(
            measure, target, target, slope=1.0, tol=_RATE_TOL_BITS, what="rate", max_steps=8
        )


def _solve_rate(plan: _Plan, target: float):
    """Secant search on log2(step) for the rate ``target`` (bits/element of the real bytes)."""
    n = max(plan.n_elements, 1)

    def measure(log_step):
        q, blob = plan.coded(2.0**log_step)
        return 8.0 * len(blob) / n, (q, blob)

    # High-rate guess: R ≈ h(X) - log2(step · det^(1/n)) with a Gaussian h(X).
    x = plan.padded[: plan.n_elements]
    sigma = float(x.std()) if x.size else 1.0
    sigma = sigma if sigma > 0 else max(float(np.abs(x).max(initial=0.0)), 1.0)
    h = 0.5 * math.log2(2 * math.pi * math.e * sigma**2)
    log_step = h - target - math.log2(plan.lattice.det) / plan.lattice.dim
    # Under dither the MSE grows with the step without limit, and a step whose MSE
    # exceeds the variance is worse than sending the mean: a rate target below what
    # the coder reaches there stops at that step, not at a constant stream with an
    # enormous step. (Without dither large steps round everything to a few points.)
    var = float(x.var()) if x.size else 0.0
    upper = math.log2(plan.lattice.step_for_mse(var)) if plan.dither and var > 0 else None
    if upper is not None:
        log_step = min(log_step, upper)
    return _secant(
        measure, log_step, target, slope=-1.0, tol=_RATE_TOL_BITS, what="rate", upper=upper
    )


def _solve_distortion(plan: _Plan, target: float):
    """Step for a target MSE: closed form under dither, else a search on the measured MSE."""
    x = plan.padded[: plan.n_elements]
    if plan.dither or x.size == 0:
        return plan.coded(plan.lattice.step_for_mse(target))

    def measure(log_step):
        q = plan.quantize(2.0**log_step)
        mse = float(np.mean((q.quantizer.dequantize(q._points)[: plan.n_elements] - x) ** 2))
        return math.log2(max(mse, 1e-300)), 2.0**log_step

    log_step = math.log2(plan.lattice.step_for_mse(target))
    step = _secant(measure, log_step, math.log2(target), slope=2.0, tol=0.01, what="distortion")
    return plan.coded(step)


def _secant(measure, x0, target, *, slope, tol, what, max_steps=_MAX_SOLVER_STEPS, upper=None):
    """Find x with measure(x)[0] ≈ target for a monotone measure; return the payload.

    Keeps a bracket once one exists and otherwise extrapolates with the last
    secant slope (or ``slope`` at first); x never exceeds ``upper``. If the
    target cannot be met within ``tol`` (e.g. a tiny array whose header
    dominates, or a rate below what the coder reaches before ``upper``), the
    closest point that stays within the budget is returned with a warning, or
    the closest point of all when none does.
    """
    increasing = slope > 0
    below = above = None  # (x, value) closest to the target from below / above
    tried = []
    x, prev = x0, None
    for _ in range(max_steps):
        value, payload = measure(x)
        tried.append((abs(value - target), value, payload))
        if abs(value - target) <= tol:
            return payload
        if value < target:
            if below is None or value > below[1]:
                below = (x, value)
        elif above is None or value < above[1]:
            above = (x, value)
        if prev is not None and prev[0] != x and prev[1] != value:
            slope = (value - prev[1]) / (x - prev[0])
            if (slope > 0) != increasing or abs(slope) < 1e-3:
                slope = 1e-3 if increasing else -1e-3
        prev = (x, value)
        nxt = x + (target - value) / slope
        if below is not None and above is not None:
            lo, hi = sorted((below[0], above[0]))
            if hi - lo < 1e-12:
                break
            if not lo < nxt < hi:
                nxt = 0.5 * (lo + hi)
        nxt = float(np.clip(nxt, x - 8.0, x + 8.0))
        if upper is not None:
            nxt = min(nxt, upper)
        if nxt == x:  # pinned at the bound: nothing new to try
            break
        x = nxt
    ok = [t for t in tried if t[1] <= target + tol]
    pick = min(ok or tried, key=lambda t: t[0])
    warnings.warn(
        f"could not reach the {what} target {target:.6g} within {tol}; "
        f"closest reached: {pick[1]:.6g}",
        RuntimeWarning,
        stacklevel=4,
    )
    return pick[2]


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
    return read_quantized(blob, max_elements=max_elements).reconstruct()


@dataclass(frozen=True)
class StreamInfo:
    """What :func:`inspect` reads from a stream's header, without decoding.

    ``expected_mse`` is a dithered lattice quantizer's exact MSE per element,
    ``G·(step^n det)^(2/n)`` (None where it depends on the data).
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
    from .coders import coder_by_id
    from .quantized import _read_layout, chunk_coder_name

    parsed = container.parse(blob)
    qz, shape, dtype, n, _, _ = _read_layout(parsed)
    names = []
    for entry in parsed.chunks:
        coder = coder_by_id(entry.coder_id)
        names.append(coder.name if coder is not None else f"unknown({entry.coder_id})")
    n_bytes = len(memoryview(blob).cast("B"))
    is_lattice = isinstance(qz, LatticeQuantizer)
    return StreamInfo(
        shape=shape,
        dtype=dtype,
        quantizer=parsed.header["quantizer"],
        lattice=qz.lattice.name if is_lattice else None,
        step=getattr(qz, "step", None),
        dither=bool(getattr(qz, "dither", False)),
        seed=getattr(qz, "seed", None),
        coder=chunk_coder_name(parsed),
        chunk_coders=tuple(names),
        n_elements=n,
        n_chunks=len(parsed.chunks),
        n_bytes=n_bytes,
        bits_per_element=8.0 * n_bytes / n if n else math.inf,
        expected_mse=qz.expected_mse() if is_lattice and qz.dither else None,
        format_version="{}.{}".format(*parsed.format_version),
    )
