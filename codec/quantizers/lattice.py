"""Lattice vector quantizers Z^n, D_n and E8 with optional subtractive dither.

A lattice quantizer with scale ``step`` maps a block ``x`` of ``n`` values to
the nearest point of ``step·Λ``. With subtractive dither the encoder sends
``Q(x/step + v)`` and the decoder outputs ``step·(Q(x/step + v) − v)``, ``v``
uniform over a fundamental cell and regenerated from the seed; the error is
then uniform over the Voronoi cell and independent of ``x`` (Zamir & Feder
1992), with mean squared error per dimension

.. math:: D = G(\\Lambda)\\, V^{2/n}, \\qquad V = \\mathrm{step}^n \\det\\Lambda .

Standard (unit-scale) lattices used here, all with integer or half-integer
coordinates: ``Z^n`` (det 1), ``D_n`` = integer vectors with even sum (det 2),
``E8`` = D8 ∪ (D8 + ½) (det 1).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .._kernels import lattice as kernels
from ..errors import CorruptStreamError, UnsupportedFormatError
from ..framing import F64, FieldReader, unzigzag, varint, zigzag
from .base import Designer, Quantizer, Search, default_scale, finite_variance

# Normalised second moments (Conway & Sloane, SPLAG ch. 2 & 21).
G_CUBIC = 1.0 / 12.0
G_E8 = 929.0 / 12960.0


def dn_normalized_second_moment(n: int) -> float:
    """Normalised second moment of D_n (Conway & Sloane 1982, Theorem 7).

    .. math:: G(D_n) = 2^{-2/n}\\left(\\frac{1}{12} + \\frac{1}{2n(n+1)}\\right)

    (D_2 gives 1/12 as a rotated Z^2 must; D_3, the fcc lattice, 0.0787451.)

    Examples
    --------
    >>> round(dn_normalized_second_moment(4), 7)
    0.0766032
    """
    return 2.0 ** (-2.0 / n) * (1.0 / 12.0 + 1.0 / (2.0 * n * (n + 1)))


@dataclass(frozen=True)
class Lattice:
    """A lattice at unit scale: generator matrix (rows = basis), det and G.

    Examples
    --------
    >>> e8 = get_lattice("E8")
    >>> e8.dim, e8.det, round(e8.G, 7)
    (8, 1.0, 0.0716821)
    """

    name: str
    dim: int
    kind: int  # kernel code: kernels.LATTICE_Z / LATTICE_D / LATTICE_E8
    basis: np.ndarray = field(repr=False)
    det: float
    G: float

    @property
    def volume_scale(self) -> float:
        """det^(2/n): the MSE of a unit-step dithered quantizer is ``G * volume_scale``."""
        return self.det ** (2.0 / self.dim)

    def dithered_mse(self, step: float) -> float:
        """Exact MSE per dimension under subtractive dither: ``G * (step^n det)^(2/n)``."""
        return self.G * self.volume_scale * step * step

    def step_for_mse(self, mse: float) -> float:
        """The ``step`` whose dithered MSE per dimension equals ``mse``."""
        return float(np.sqrt(mse / (self.G * self.volume_scale)))

    def nearest_point(self, t: np.ndarray) -> np.ndarray:
        """Nearest unit-scale lattice point(s) to ``t`` (shape (..., dim)), float64.

        Examples
        --------
        >>> get_lattice("D4").nearest_point(np.array([0.6, 0.6, 0.1, 0.0])).tolist()
        [1.0, 1.0, 0.0, 0.0]
        """
        t = np.asarray(t, np.float64)
        if t.shape[-1:] != (self.dim,):
            raise ValueError(f"last axis must have length {self.dim}")
        flat = np.ascontiguousarray(t).reshape(-1)
        points = np.empty(flat.size, np.int64)
        kernels.quantize_blocks(
            flat, 1.0, self.kind, self.dim, self.basis, np.uint64(0), False, _FIRST, points
        )
        out = points.astype(np.float64)
        if self.kind == kernels.LATTICE_E8:
            out *= 0.5
        return out.reshape(t.shape)

    def dither(self, seed: int, n_blocks: int) -> np.ndarray:
        """Unit-scale dither vectors of the first ``n_blocks`` blocks, shape (n_blocks, dim)."""
        zeros = np.zeros(n_blocks * self.dim, np.int64)
        out = np.empty(n_blocks * self.dim, np.float64)
        kernels.dequantize_blocks(
            zeros, -1.0, self.kind, self.dim, self.basis, dither_key(seed), True, _FIRST, out
        )
        return out.reshape(n_blocks, self.dim)


_FIRST = np.int64(0)  # element offset of arrays that start the padded array


def dither_key(seed: int) -> np.uint64:
    """The dither generator's key for ``seed`` (an int in [0, 2**64))."""
    return np.uint64(kernels.dither_key(np.uint64(seed)))


def _dn_basis(n: int) -> np.ndarray:
    b = np.zeros((n, n))
    b[0, 0] = b[0, 1] = -1.0
    for i in range(1, n):
        b[i, i - 1] = 1.0
        b[i, i] = -1.0
    return b


def _e8_basis() -> np.ndarray:
    b = np.zeros((8, 8))
    b[0, 0] = 2.0
    for i in range(1, 7):
        b[i, i - 1] = -1.0
        b[i, i] = 1.0
    b[7, :] = 0.5
    return b


_Z = Lattice("Z", 1, kernels.LATTICE_Z, np.ones((1, 1)), 1.0, G_CUBIC)
_E8 = Lattice("E8", 8, kernels.LATTICE_E8, _e8_basis(), 1.0, G_E8)
_DN = re.compile(r"^D(\d+)$")
MAX_DN = 64


def get_lattice(name: str) -> Lattice:
    """Look up a lattice by name: ``"Z"`` (alias ``"cubic"``), ``"D<n>"`` (2 <= n <= 64), ``"E8"``.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the accepted ones).
    """
    if not isinstance(name, str):
        raise TypeError(f"lattice must be a string such as 'E8', got {type(name).__name__}")
    key = name.strip().upper()
    if key in ("Z", "CUBIC", "Z1"):
        return _Z
    if key == "E8":
        return _E8
    m = _DN.match(key)
    if m and 2 <= int(m.group(1)) <= MAX_DN:
        n = int(m.group(1))
        return Lattice(
            f"D{n}", n, kernels.LATTICE_D, _dn_basis(n), 2.0, dn_normalized_second_moment(n)
        )
    raise ValueError(
        f"unknown lattice {name!r}; use 'Z' (or 'cubic'), 'D4' (any 'D<n>', 2 <= n <= {MAX_DN}) "
        "or 'E8'"
    )


# Header codes of the lattices (docs/format.md §2): (code, n).
_LATTICE_CODES = {kernels.LATTICE_Z: 0, kernels.LATTICE_D: 1, kernels.LATTICE_E8: 2}
_FLAG_DITHER, _FLAG_VALUE_TABLE = 1, 2
#: Largest |x| / step accepted: lattice indices stay exact in float64 and int64.
MAX_SCALED_MAGNITUDE = 2.0**50


class LatticeQuantizer(Quantizer):
    """``step``-scaled lattice quantizer with optional subtractive dither.

    Indices are lattice coordinates (E8: doubled, so they are integers); a
    chunk's indices become 1 (Z), 2 (D_n: the first n − 1 coordinates of each
    block, then the last given the parity) or 5 (E8: coset bit, then
    coordinates and last coordinate per coset) symbol streams
    (docs/format.md §6). Reconstruction is ``step·(p − v)``, ``v`` the dither,
    or ``table[p − offset] − step·v`` after fine-tuning of the shared values.

    Parameters
    ----------
    lattice : Lattice
        The unit-scale lattice.
    step : float
        Scale: the quantizer's lattice is ``step·Λ``.
    dither : bool
        Subtractive dither regenerated from ``seed``.
    seed : int
        Dither seed in [0, 2**64).
    value_table : (int, ndarray), optional
        Fine-tuned value of each coordinate index: ``(offset, float64 table)``.

    Examples
    --------
    >>> q = LatticeQuantizer(get_lattice("E8"), 0.5, dither=True, seed=1)
    >>> x = np.linspace(-1, 1, 16)
    >>> x_hat = q.dequantize(q.quantize(x))
    >>> bool(np.abs(x_hat - x).max() < 0.5)
    True
    """

    kind = "lattice"
    kind_code = 0
    #: Most distinct indices a table of shared values may hold.
    MAX_TABLE = 1 << 24

    def __init__(
        self,
        lattice: Lattice,
        step: float,
        *,
        dither: bool = True,
        seed: int = 0,
        value_table: tuple[int, np.ndarray] | None = None,
    ):
        if not (math.isfinite(step) and step > 0):
            raise ValueError(f"step must be positive and finite, got {step!r}")
        self.lattice = lattice
        self.step = float(step)
        self.dither = bool(dither)
        self.seed = int(seed)
        self._key = dither_key(self.seed)
        self.value_table = value_table

    @property
    def dim(self) -> int:
        return self.lattice.dim

    @property
    def block_size(self) -> int:
        return self.lattice.dim

    @property
    def elementwise(self) -> bool:
        # Z without dither: the reconstruction is step·j (or a value table's entry j)
        return self.block_size == 1 and not self.dither

    @property
    def streams_per_chunk(self) -> int:
        return {kernels.LATTICE_Z: 1, kernels.LATTICE_D: 2, kernels.LATTICE_E8: 5}[
            self.lattice.kind
        ]

    def expected_mse(self) -> float | None:
        """MSE per element under dither (exact in expectation, for any input); None without."""
        return self.lattice.dithered_mse(self.step) if self.dither else None

    def quantize(self, x: np.ndarray, chunk_elements=None, weights=None, first=0) -> np.ndarray:
        """Lattice points (int64; E8 doubled) of the flat float64 array ``x``.

        ``x[0]`` is element ``first`` of the padded array (a multiple of the
        block size; 0 for the whole array): an element's dither depends on its
        index there, so slices quantize exactly like the whole.

        Raises
        ------
        ValueError
            ``|x| / step`` reaches 2**50, where indices stop being exact.
        """
        peak = float(np.abs(x).max()) if x.size else 0.0
        if peak / self.step + 2.0 * self.dim > MAX_SCALED_MAGNITUDE:
            raise ValueError(
                f"step {self.step!r} is too small for values up to {peak!r}: |x|/step must "
                "stay below 2**50; use a larger step or a lower rate"
            )
        points = np.empty(x.size, np.int64)
        L = self.lattice
        kernels.quantize_blocks(
            x,
            1.0 / self.step,
            L.kind,
            L.dim,
            L.basis,
            self._key,
            self.dither,
            np.int64(first),
            points,
        )
        return points

    def dequantize(self, points: np.ndarray, chunk_elements=None, first=0) -> np.ndarray:
        """Reconstruction ``step·(p − v)`` as float64 (``table[p] − step·v`` with a value
        table); ``points[0]`` is element ``first`` of the padded array.

        Raises
        ------
        CorruptStreamError
            A point has no entry in the value table.
        """
        if self.value_table is not None:
            offset, table = self.value_table
            k = points - offset
            if k.size and (k.min() < 0 or k.max() >= table.size):
                raise CorruptStreamError("a lattice index lies outside the stored value table")
            return table[k] - self.dither_term(points.size, first)
        out = np.empty(points.size, np.float64)
        L = self.lattice
        kernels.dequantize_blocks(
            points,
            self.step,
            L.kind,
            L.dim,
            L.basis,
            self._key,
            self.dither,
            np.int64(first),
            out,
        )
        return out

    # -- header (docs/format.md §2) -------------------------------------------------
    def header_fields(self) -> bytes:
        L = self.lattice
        out = bytearray([_LATTICE_CODES[L.kind], L.dim])
        out += F64.pack(self.step)
        table = self.value_table is not None
        out.append((_FLAG_DITHER if self.dither else 0) | (_FLAG_VALUE_TABLE if table else 0))
        out += varint(self.seed)
        if table:
            out += varint(zigzag(int(self.value_table[0])))
            out += varint(int(self.value_table[1].size))
        return bytes(out)

    def extras(self) -> bytes:
        """The value table (float64 little-endian), if any."""
        if self.value_table is None:
            return b""
        return self.value_table[1].astype("<f8").tobytes()

    @classmethod
    def from_header(cls, fields: FieldReader, extras: bytes) -> LatticeQuantizer:
        code, n = fields.byte(), fields.byte()
        if (code, n) == (0, 1):
            lat = get_lattice("Z")
        elif (code, n) == (2, 8):
            lat = get_lattice("E8")
        elif code == 1:
            lat = get_lattice(f"D{n}")
        else:
            raise UnsupportedFormatError(f"unsupported lattice code ({code}, {n}) in header")
        step = fields.f64()
        if not (math.isfinite(step) and step > 0):
            raise ValueError("step is not positive and finite")
        flags = fields.byte()
        if flags & ~(_FLAG_DITHER | _FLAG_VALUE_TABLE):
            raise CorruptStreamError("unknown lattice flags in header")
        seed = fields.varint()
        table = None
        if flags & _FLAG_VALUE_TABLE:
            offset = unzigzag(fields.varint())
            size = fields.varint(1 << 40)
            if size < 1 or len(extras) != 8 * size:
                raise ValueError("value table size does not match the header extras")
            values = np.frombuffer(extras, "<f8").astype(np.float64)
            if not np.isfinite(values).all():
                raise ValueError("value table holds NaN or Inf")
            table = (offset, values)
        elif extras:
            raise ValueError("unexpected header extras for a lattice quantizer")
        return cls(lat, step, dither=bool(flags & _FLAG_DITHER), seed=seed, value_table=table)

    def describe(self) -> dict:
        return {
            "lattice": self.lattice.name,
            "step": self.step,
            "dither": self.dither,
            "seed": self.seed,
        }

    # -- symbol streams (docs/format.md §6) -----------------------------------------
    def to_streams(self, points: np.ndarray, chunk_elements: int):
        L = self.lattice
        n_chunks = -(-points.size // chunk_elements)
        sizes = np.zeros(n_chunks * self.streams_per_chunk, np.int64)
        if sizes.size == 0:
            return np.zeros(0, np.int64), np.zeros(1, np.int64)
        kernels.stream_sizes(points, L.kind, L.dim, chunk_elements, sizes)
        offsets = np.zeros(sizes.size + 1, np.int64)
        np.cumsum(sizes, out=offsets[1:])
        if L.kind == kernels.LATTICE_Z:
            return points, offsets  # the points are the stream: no copy
        symbols = np.empty(int(offsets[-1]), np.int64)
        kernels.points_to_stream_buffer(points, L.kind, L.dim, chunk_elements, offsets, symbols)
        return symbols, offsets

    def stream_counts_ok(self, counts: list[int], n_elements: int) -> bool:
        L = self.lattice
        nb = n_elements // L.dim
        if len(counts) != self.streams_per_chunk:
            return False
        if L.kind == kernels.LATTICE_Z:
            return counts[0] == n_elements
        if L.kind == kernels.LATTICE_D:
            return counts[0] == nb * (L.dim - 1) and counts[1] == nb
        even, odd = counts[3], counts[4]
        return (
            counts[0] == nb and even + odd == nb and counts[1] == 7 * even and counts[2] == 7 * odd
        )

    def from_streams(self, symbols, offsets, chunk_elements: int, n_padded: int) -> np.ndarray:
        L = self.lattice
        if L.kind == kernels.LATTICE_Z:
            return symbols
        points = np.empty(n_padded, np.int64)
        ok = np.ones(-(-n_padded // chunk_elements), np.int64)
        kernels.stream_buffer_to_points(symbols, offsets, L.kind, L.dim, chunk_elements, points, ok)
        bad = np.flatnonzero(ok == 0)
        if bad.size:
            raise CorruptStreamError(f"chunk {int(bad[0])}: streams are inconsistent")
        return points

    # -- fine-tuning ----------------------------------------------------------------
    def shared_values(self, points: np.ndarray) -> tuple[int, np.ndarray]:
        """``(offset, table)``: the value shared by every element with coordinate index
        ``offset + i`` is ``table[i]`` (``step·p``, E8: ``step·P/2``, unless fine-tuned).

        Raises
        ------
        ValueError
            The indices span more than 2**24 values (too many to tabulate).
        """
        if self.value_table is not None:
            return self.value_table
        lo = int(points.min()) if points.size else 0
        hi = int(points.max()) if points.size else 0
        if hi - lo + 1 > self.MAX_TABLE:
            raise ValueError(
                f"indices span {hi - lo + 1} values, more than {self.MAX_TABLE}: "
                "use a larger step to fine-tune shared values"
            )
        scale = 0.5 if self.lattice.kind == kernels.LATTICE_E8 else 1.0
        return lo, np.arange(lo, hi + 1, dtype=np.float64) * (self.step * scale)

    def with_shared_values(self, offset: int, table: np.ndarray) -> LatticeQuantizer:
        """The same quantizer reconstructing index ``offset + i`` as ``table[i] − step·v``."""
        return LatticeQuantizer(
            self.lattice,
            self.step,
            dither=self.dither,
            seed=self.seed,
            value_table=(int(offset), np.ascontiguousarray(table, np.float64)),
        )

    def dither_term(self, n_padded: int, first: int = 0) -> np.ndarray:
        """``step·v`` of padded elements ``first .. first + n_padded`` (zeros without
        dither): the reconstruction is ``shared value of p - dither_term``."""
        if not self.dither:
            return np.zeros(n_padded, np.float64)
        out = np.empty(n_padded, np.float64)
        L = self.lattice
        zeros = np.zeros(n_padded, np.int64)
        kernels.dequantize_blocks(
            zeros, -self.step, L.kind, L.dim, L.basis, self._key, True, np.int64(first), out
        )
        return out


class LatticeDesigner(Designer):
    """``quantizer="lattice"`` (the default): ``lattice=`` (default ``"E8"``), ``dither=``
    (default True), and ``step=``, ``rate=`` or ``distortion=``.

    Rate control: a rate target searches ``log2(step)`` from the high-rate guess
    :math:`\\log_2 \\mathrm{step} \\approx h(X) - R - \\log_2(\\det\\Lambda)/n`
    (Gaussian ``h``); a distortion target is closed form under dither,
    :math:`\\mathrm{step} = \\sqrt{D / (G \\det\\Lambda^{2/n})}`, and searched without.
    """

    name = "lattice"
    targets = ("step",)
    options = MappingProxyType({"lattice": "E8", "dither": True})

    def __init__(self, values, weights, seed, dtype, *, lattice, dither):
        super().__init__(values, weights, seed, dtype)
        self.lattice = get_lattice(lattice)
        if not isinstance(dither, bool | np.bool_):
            raise TypeError("dither must be True or False")
        self.dither = bool(dither)

    @property
    def block_size(self) -> int:
        return self.lattice.dim

    def at_step(self, step: float) -> LatticeQuantizer:
        return LatticeQuantizer(self.lattice, step, dither=self.dither, seed=self.seed)

    def quantizer(self, *, step: float | None = None) -> LatticeQuantizer:
        if step is not None:
            q = self.at_step(step)
            var = finite_variance(self.values)
            mse = q.expected_mse()
            if mse is not None and var > 0 and mse > var:
                warnings.warn(
                    f"step={step!r} gives a dithered MSE of {mse:.3g}, above the data's "
                    f"variance {var:.3g}: the decoded values are mostly dither noise; a step "
                    f"of at most {self.lattice.step_for_mse(var):.3g} keeps the MSE below it",
                    UserWarning,
                    stacklevel=4,
                )
            return q
        scale = default_scale(self.values)
        if scale.mse is not None:
            return self.at_step(self.lattice.step_for_mse(scale.mse))
        return self.at_step(scale.step)

    def rate_search(self, rate: float) -> Search:
        x = self.values
        var = finite_variance(x)
        sigma2 = var if var > 0 else max(float(np.abs(x).max(initial=0.0)), 1.0) ** 2
        h = 0.5 * math.log2(2 * math.pi * math.e * sigma2)
        start = h - rate - math.log2(self.lattice.det) / self.lattice.dim
        # Under dither the MSE grows with the step without limit, and a step whose MSE
        # exceeds the variance is worse than sending the mean: a rate target below what
        # the coder reaches there stops at that step, not at a constant stream with an
        # enormous step. (Without dither large steps round everything to a few points.)
        upper = math.log2(self.lattice.step_for_mse(var)) if self.dither and var > 0 else None
        if upper is not None:
            start = min(start, upper)
        return Search(lambda p: self.at_step(2.0**p), start, slope=-1.0, upper=upper)

    def for_distortion(self, mse: float):
        step = self.lattice.step_for_mse(mse)
        if self.dither or self.values.size == 0:
            return self.at_step(step)
        return Search(lambda p: self.at_step(2.0**p), math.log2(step), slope=2.0)
