"""Entropy-coded trellis-coded quantization (ECTCQ; Marcellin & Fischer 1990) as a codec
quantizer, ``quantizer="tcq"``: :class:`TrellisQuantizer` and :class:`TrellisDesigner`.

The trellis itself (the Viterbi search, the index code-length model and its design, the
streams; the reproduction points, unions and masks are described there) is in
:mod:`codec.quantizers.tcq_trellis`; its public names are exported here too.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np

from ..errors import UnsupportedFormatError
from ..framing import F64, FieldReader
from .base import Designer, Quantizer, Search, default_scale, finite_variance
from .tcq_trellis import (
    DEFAULT_CHUNK_ELEMENTS,
    DEFAULT_KAPPA,
    DEFAULT_PASSES,
    DEFAULT_STATES,
    GRANULAR_G,
    TRELLIS_MASKS,
    IndexCostModel,
    TrellisModel,
    tcq_design,
    tcq_from_streams,
    tcq_index_entropy,
    tcq_quantize,
    tcq_reconstruct,
    tcq_to_streams,
    tcq_union_histograms,
    tcq_viterbi,
    trellis_masks,
)

__all__ = [
    "TrellisQuantizer",
    "TrellisDesigner",
    "TRELLIS_MASKS",
    "GRANULAR_G",
    "DEFAULT_KAPPA",
    "DEFAULT_PASSES",
    "DEFAULT_CHUNK_ELEMENTS",
    "IndexCostModel",
    "trellis_masks",
    "tcq_viterbi",
    "tcq_quantize",
    "tcq_design",
    "TrellisModel",
    "tcq_reconstruct",
    "tcq_to_streams",
    "tcq_from_streams",
    "tcq_union_histograms",
    "tcq_index_entropy",
]


# ---------------------------------------------------------------------------
# the codec-facing quantizer and its designer (codec/quantizers/base.py)
# ---------------------------------------------------------------------------
class TrellisQuantizer(Quantizer):
    """Entropy-coded TCQ as a codec quantizer: ``quantizer="tcq"``.

    Indices are the trellis points ``j`` (reconstruction ``step·j``); each
    chunk's points become two symbol streams, the union indices of the
    elements in union-0 and union-1 states (docs/format.md, TCQ section). The
    header holds ``nu = log2(states)`` (u8) and ``step`` (f64). ``kappa`` and
    ``passes`` steer the encoder only and are not stored; per-element weights
    come with the data (:meth:`quantize`).

    The code-length model of the Viterbi search (:func:`tcq_design`) is
    fitted once on ``design_values`` (what :class:`TrellisDesigner` was
    given: the whole array when it has at most two chunks, else a one-chunk
    sample of it) and applied to every chunk, so the quantizer is
    chunk-local: ``codec.encode`` quantizes and codes chunk group by chunk
    group. Without design values (a quantizer read from a header, or made by
    hand) :meth:`quantize` fits the model to the values it is given.

    Parameters
    ----------
    states : int
        Trellis states: 4, 8, 16, 32, 64, 128 or 256.
    step : float
        Spacing of the reproduction points.
    kappa : float, optional
        ``λ / step²`` (None: rate-adaptive, see :func:`tcq_quantize`).
    passes : int
        Viterbi passes.
    design_values : numpy.ndarray, optional
        Flat float values the model is fitted on (any float dtype).
    design_weights : numpy.ndarray, optional
        Their weights (None: all ones).
    model : TrellisModel, optional
        A model fitted beforehand (e.g. by :func:`tcq_design` on other data),
        used as it is for every chunk (instead of design values).

    Examples
    --------
    >>> q = TrellisQuantizer(8, 0.25)
    >>> x = np.random.default_rng(0).normal(size=100)
    >>> j = q.quantize(x, 64)
    >>> s, o = q.to_streams(j, 64)
    >>> bool(np.array_equal(q.from_streams(s, o, 64, 100), j))
    True
    >>> TrellisQuantizer(8, 0.25, design_values=x).chunk_local
    True
    """

    kind = "tcq"
    kind_code = 2
    block_size = 1
    streams_per_chunk = 2

    def __init__(
        self,
        states: int,
        step: float,
        *,
        kappa: float | None = DEFAULT_KAPPA,
        passes: int = DEFAULT_PASSES,
        design_values: np.ndarray | None = None,
        design_weights: np.ndarray | None = None,
        model: TrellisModel | None = None,
    ):
        self.nu, self.h0, self.h1 = trellis_masks(states)
        self.states = int(states)
        self.step = float(step)
        if not (math.isfinite(self.step) and self.step > 0):
            raise ValueError(f"step must be positive and finite, got {step!r}")
        self.kappa = kappa
        self.passes = int(passes)
        if model is not None and design_values is not None:
            raise ValueError("give design_values= or model=, not both")
        self._design = None if design_values is None else (design_values, design_weights)
        self._fixed = model
        self._models: dict[int, TrellisModel] = {}

    @property
    def parallel_chunks(self) -> bool:
        """Encode a chunk per thread (the Viterbi search runs one thread per chunk) where
        its survivors take at most 8 bytes per element (64 states or fewer); with 128 or
        256 states (16 and 32 bytes) chunks are grouped by streams like the other
        quantizers, so the survivors in flight stay within about the input's size
        at 2 threads (the Viterbi then runs on half the threads)."""
        return self.states <= 64

    @property
    def chunk_local(self) -> bool:
        """True when the model is given or comes from design values: each chunk's points
        then depend on that chunk alone."""
        return self._design is not None or self._fixed is not None

    def model(self, chunk_elements: int) -> TrellisModel:
        """The code-length model fitted on the design values (once per chunk size: the
        model passes on a small design array restart the trellis at every chunk, as
        the last pass does).

        Raises
        ------
        ValueError
            The quantizer has no design values.
        """
        if self._fixed is not None:
            return self._fixed
        if self._design is None:
            raise ValueError("this TCQ quantizer has no design values: pass design_values=")
        if chunk_elements not in self._models:
            values, weights = self._design
            self._models[chunk_elements] = tcq_design(
                values,
                self.step,
                self.states,
                chunk_elements=chunk_elements,
                weights=weights,
                passes=self.passes,
                kappa=self.kappa,
            )
        return self._models[chunk_elements]

    def quantize(self, x: np.ndarray, chunk_elements: int, weights=None, first=0) -> np.ndarray:
        """Trellis points of the padded array (entropy-constrained Viterbi per chunk),
        the distortion of element ``k`` weighted by ``weights[k]`` when given.

        Raises
        ------
        ValueError
            ``max|x| / step`` exceeds 2**52, or the weights do not match ``x``.
        """
        model = self.model(chunk_elements) if self.chunk_local else None
        return tcq_quantize(
            x,
            self.step,
            self.states,
            chunk_elements=chunk_elements,
            weights=weights,
            passes=self.passes,
            kappa=self.kappa,
            model=model,
        )

    def dequantize(self, points: np.ndarray, chunk_elements=None, first=0) -> np.ndarray:
        """Reconstruction ``step·j`` (float64)."""
        return tcq_reconstruct(points, self.step)

    def header_fields(self) -> bytes:
        return bytes([self.nu]) + F64.pack(self.step)

    @classmethod
    def from_header(cls, fields: FieldReader, extras: bytes) -> TrellisQuantizer:
        nu = fields.byte()
        if not 2 <= nu <= 8:
            raise UnsupportedFormatError(f"unsupported TCQ trellis with 2**{nu} states")
        step = fields.f64()
        if not (math.isfinite(step) and step > 0):
            raise ValueError("step is not positive and finite")
        if extras:
            raise ValueError("unexpected header extras for a TCQ quantizer")
        return cls(1 << nu, step)

    def describe(self) -> dict:
        return {"step": self.step, "states": self.states}

    def to_streams(self, points: np.ndarray, chunk_elements: int):
        return tcq_to_streams(points, self.states, chunk_elements)

    def stream_counts_ok(self, counts: list[int], n_elements: int) -> bool:
        return (
            len(counts) == 2
            and counts[0] >= 0
            and counts[1] >= 0
            and counts[0] + counts[1] == n_elements
        )

    def from_streams(self, symbols, offsets, chunk_elements: int, n_padded: int) -> np.ndarray:
        return tcq_from_streams(symbols, offsets, self.states, n_padded, chunk_elements)


class TrellisDesigner(Designer):
    """``quantizer="tcq"``: ``states=`` (default 8) and ``step=``, ``rate=`` or
    ``distortion=``; ``weights=`` weight the Viterbi distortion.

    Rate control searches ``log2(step)`` from the high-rate guess
    :math:`\\log_2 \\mathrm{step} \\approx h(X) - R - 1` (Gaussian ``h``; the
    union alphabet has spacing ``2·step``); a distortion target searches the
    measured MSE from :math:`\\mathrm{step} = \\sqrt{D / (4 G)}`, ``G`` the
    granular constant of the trellis.

    The Viterbi's code-length model (:func:`tcq_design`) is fitted on the
    design data: the whole array when it has at most two chunks (bytes as a
    whole-array encoder gives), else the one-chunk sample ``codec.encode``
    designs on, which also carries the default step and the rate and
    distortion searches; every chunk is then quantized with that model
    alone, chunk group by chunk group. Measured
    (``benchmarks/tcq_sample_model.py``, 8 states, float32 Gaussian 2^22–2^24
    and all-MiniLM-L6-v2's 11.7 M word embeddings and 10.6 M Linear weights,
    benchmarks/results/tcq_sample_model.json): at equal step the sample's
    model's bytes differ by at most 0.0013 bit per element (at most 0.0002 bit
    of equivalent rate once the MSE change is counted) from those of a model
    fitted on every element;
    ``rate=`` 2 and 4 land within 0.006 bit of the target on the Gaussian
    arrays, 0.009 bit below on the Linear weights and 0.021–0.032 bit below
    on the word embeddings (the sample's runs miss how the rows vary);
    ``distortion=`` lands within 0.5 %. ``exact=True`` fits the model on
    2^18 elements spread over the whole array (the bytes of the encoder
    before it was chunk-local) and runs ``rate=``/``distortion=`` searches
    on all of it (rate within 0.005 bit; memory proportional to the array
    for those searches, chunk-bounded with ``step=``).

    Examples
    --------
    >>> import codec
    >>> x = np.random.default_rng(0).normal(size=2000)
    >>> blob = codec.encode(x, quantizer="tcq", states=8, step=0.1)
    >>> codec.inspect(blob).quantizer
    'tcq'
    >>> bool(np.abs(codec.decode(blob) - x).max() < 0.2)
    True
    """

    name = "tcq"
    targets = ("step",)
    options = MappingProxyType({"states": DEFAULT_STATES})
    accepts_weights = True

    def __init__(self, values, weights, seed, dtype, *, states):
        super().__init__(values, weights, seed, dtype)
        trellis_masks(states)  # validates
        self.states = int(states)

    def at_step(self, step: float) -> TrellisQuantizer:
        # The model is fitted on the design data (the array, or its one-chunk sample).
        return TrellisQuantizer(
            self.states, step, design_values=self.values, design_weights=self.weights
        )

    def _step_for_mse(self, mse: float) -> float:
        return math.sqrt(mse / (4.0 * GRANULAR_G[self.states]))

    def quantizer(self, *, step: float | None = None) -> TrellisQuantizer:
        if step is not None:
            return self.at_step(step)
        scale = default_scale(self.values)
        if scale.mse is not None:
            return self.at_step(self._step_for_mse(scale.mse))
        return self.at_step(scale.step)

    def rate_search(self, rate: float) -> Search:
        x = self.values
        var = finite_variance(x)
        sigma2 = var if var > 0 else max(float(np.abs(x).max(initial=0.0)), 1.0) ** 2
        h = 0.5 * math.log2(2 * math.pi * math.e * sigma2)
        return Search(lambda p: self.at_step(2.0**p), h - rate - 1.0, slope=-1.0)

    def for_distortion(self, mse: float):
        step = self._step_for_mse(mse)
        if self.values.size == 0:
            return self.at_step(step)
        return Search(lambda p: self.at_step(2.0**p), math.log2(step), slope=2.0)
