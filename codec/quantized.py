"""Quantized arrays and their coding: the second tier of the API.

:class:`QuantizedArray` holds an array after quantization and before entropy
coding: integer indices plus the quantizer that maps them back to values.
``codec.encode(x)`` is ``codec.quantize(x).to_bytes()``. Keeping the two steps
apart lets callers change the *shared values* of the indices — fine-tuning in
"Universal Deep Neural Network Compression" (Choi et al.) and "Towards the
Limit of Network Quantization" — and code the result with the same indices.

Coding (NNCodec's split): the quantizer turns the padded indices into integer
symbol streams chunk by chunk, one coder codes every stream of every chunk in
parallel (or, for ``"auto"``, each coder does and the smallest wins per chunk),
and container.py frames the result. Decoding runs the same path backwards.
"""

from __future__ import annotations

import numpy as np

from . import container
from .coders import available_coders, coder_by_id, get_coder
from .quantizers.base import Quantizer

FLOAT_DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}


def coder_candidates(coder) -> tuple[str, ...]:
    """Coder names to try for a ``coder=`` option (``"auto"``: all of them)."""
    if not isinstance(coder, str):
        raise TypeError(f"coder must be a string, got {type(coder).__name__}")
    if coder.lower() == "auto":
        return available_coders()
    return (get_coder(coder).name,)


def pad_to_blocks(flat: np.ndarray, block: int) -> np.ndarray:
    """``flat`` (float64) zero-padded to a multiple of ``block`` elements (no copy if none)."""
    n_pad = -(-flat.size // block) * block
    if n_pad == flat.size:
        return flat
    padded = np.zeros(n_pad, np.float64)
    padded[: flat.size] = flat
    return padded


class QuantizedArray:
    """An array after quantization, before entropy coding.

    Attributes
    ----------
    quantizer : codec.quantizers.base.Quantizer
        The quantizer (e.g. :class:`codec.quantizers.lattice.LatticeQuantizer`).
    shape, dtype
        Of the original array; ``reconstruct()`` returns this shape and dtype.
    chunk_elements : int
        Padded elements per independently coded chunk.
    coder : str
        Default coder of :meth:`to_bytes`.

    Examples
    --------
    >>> import numpy as np, codec
    >>> x = np.linspace(-1, 1, 64)
    >>> q = codec.quantize(x, lattice="Z", step=0.25, dither=False)
    >>> q.indices[:3].tolist(), q.index_offset, q.shared_values[:2].tolist()
    ([-4, -4, -4], -4, [-1.0, -0.75])
    >>> q2 = q.with_shared_values(q.shared_values * 0.5)
    >>> float(codec.decode(q2.to_bytes())[0])
    -0.5
    """

    def __init__(
        self,
        quantizer: Quantizer,
        points: np.ndarray,
        shape,
        dtype,
        n_elements: int,
        chunk_elements: int,
        coder: str = "arithmetic",
    ):
        self.quantizer = quantizer
        self.points = points
        self.shape = tuple(shape)
        self.dtype = str(dtype)
        self.n_elements = int(n_elements)
        self.chunk_elements = int(chunk_elements)
        self.coder = coder
        self._table = None
        self._coded: dict[str, bytes] = {}

    @classmethod
    def from_values(
        cls, quantizer, padded, shape, dtype, n_elements, chunk_elements, coder, weights=None
    ):
        """Quantize the padded flat float64 array ``padded`` with ``quantizer`` (and the
        padded per-element ``weights``, if any)."""
        points = quantizer.quantize(padded, chunk_elements, weights)
        return cls(quantizer, points, shape, dtype, n_elements, chunk_elements, coder)

    @property
    def indices(self) -> np.ndarray:
        """Integer index of each element of the flattened input (lattice: its coordinate)."""
        return self.points[: self.n_elements]

    def _shared(self):
        if self._table is None:
            self._table = self.quantizer.shared_values(self.points)
        return self._table

    @property
    def index_offset(self) -> int:
        """Index of ``shared_values[0]``."""
        return int(self._shared()[0])

    @property
    def shared_values(self) -> np.ndarray:
        """Value shared by all elements with index ``index_offset + i`` (before the dither term)."""
        return self._shared()[1].copy()

    @property
    def shared_value_index(self) -> np.ndarray:
        """``(T, n)`` positions in :attr:`shared_values` that each element sums.

        ``reconstruction() == shared_values[shared_value_index].sum(0) - dither_term``;
        ``T = 1`` for scalar quantizers and lattices (``indices - index_offset``),
        ``T`` = the number of stages for a vector quantizer, whose shared values
        are its codebooks' coordinates.

        Examples
        --------
        >>> import numpy as np, codec
        >>> q = codec.quantize(np.arange(8.0), quantizer="rvq", subvector=2, stages=2, levels=2)
        >>> idx = q.shared_value_index
        >>> idx.shape
        (2, 8)
        >>> bool(np.allclose(q.shared_values[idx].sum(0), q.reconstruction()))
        True
        """
        index = self.quantizer.shared_value_index(self.points, self.index_offset)
        if index.shape[1] != self.n_padded:  # a quantizer that breaks the protocol
            raise ValueError(f"{index.shape[1]} positions for {self.n_padded} padded elements")
        return index[:, : self.n_elements]

    @property
    def dither_term(self) -> np.ndarray:
        """Per-element term subtracted after the shared value (zeros without dither)."""
        return self.quantizer.dither_term(self.n_padded)[: self.n_elements]

    @property
    def n_padded(self) -> int:
        """Elements after padding to whole blocks (a vector quantizer has fewer indices)."""
        block = self.quantizer.block_size
        return -(-self.n_elements // block) * block

    def reconstruction(self) -> np.ndarray:
        """The float64 reconstruction of the flattened input (before the cast to dtype)."""
        return self.quantizer.dequantize(self.points, self.chunk_elements)[: self.n_elements]

    def reconstruct(self) -> np.ndarray:
        """What ``codec.decode(self.to_bytes())`` returns.

        That is ``shared_values[indices - index_offset] - dither_term``, clamped to
        the dtype's finite range (docs/format.md §3: a dithered value near the
        largest float16 may land past it), cast and reshaped.
        """
        values = self.reconstruction()
        limit = float(np.finfo(FLOAT_DTYPES[self.dtype]).max)
        np.clip(values, -limit, limit, out=values)
        return values.astype(FLOAT_DTYPES[self.dtype]).reshape(self.shape)

    def with_shared_values(self, values) -> QuantizedArray:
        """A copy whose shared values are ``values`` (same length as :attr:`shared_values`).

        The indices stay as they are; the new values travel in the stream.
        """
        offset, table = self._shared()
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.shape != table.shape:
            raise ValueError(f"expected {table.size} shared values, got {values.size}")
        if not np.isfinite(values).all():
            raise ValueError("shared values must be finite")
        return QuantizedArray(
            self.quantizer.with_shared_values(offset, values),
            self.points,
            self.shape,
            self.dtype,
            self.n_elements,
            self.chunk_elements,
            self.coder,
        )

    def subset(self, keep) -> QuantizedArray:
        """The elements where ``keep`` is true, in order, as a flat array of the same
        quantizer and coder: their indices unchanged, so each decodes to exactly the
        value it decoded to here.

        Only for quantizers whose reconstruction of an element depends on its index
        alone (``quantizer.elementwise``: scalar codebooks, the Z lattice without
        dither); a dithered, trellis or vector quantizer raises ValueError. The
        torch binding uses it to move kept weights that decode to 0.0 into the
        pruning mask.

        Examples
        --------
        >>> import numpy as np, codec
        >>> q = codec.quantize(np.array([0.9, 0.05, -1.1, 2.0]), quantizer="uniform", step=1.0)
        >>> r = q.subset(q.reconstruction() != 0.0)
        >>> codec.decode(r.to_bytes()).tolist()
        [1.0, -1.0, 2.0]
        """
        if not self.quantizer.elementwise:
            raise ValueError(
                f"a {self.quantizer.kind} quantizer's indices depend on their neighbours "
                "(dither, trellis or blocks); only an elementwise quantizer's can be subset"
            )
        keep = np.asarray(keep)
        if keep.dtype != np.bool_ or keep.size != self.n_elements:
            raise ValueError(f"keep must be a bool array of {self.n_elements} elements")
        points = np.ascontiguousarray(self.indices[keep.reshape(-1)])
        return QuantizedArray(
            self.quantizer,
            points,
            (points.size,),
            self.dtype,
            points.size,
            self.chunk_elements,
            self.coder,
        )

    def to_bytes(self, coder: str | None = None) -> bytes:
        """Entropy-code the indices and frame them (docs/format.md); coded once per coder."""
        request = self.coder if coder is None else coder
        names = coder_candidates(request)
        if names not in self._coded:
            qz = self.quantizer
            symbols, offsets = qz.to_streams(self.points, self.chunk_elements)
            chunks = code_streams(symbols, offsets, qz.streams_per_chunk, names)
            layout = container.Layout(self.shape, self.dtype, self.chunk_elements, len(chunks))
            self._coded[names] = container.pack(layout, qz, chunks)
        return self._coded[names]

    def __repr__(self) -> str:
        return (
            f"QuantizedArray(shape={self.shape}, dtype={self.dtype}, "
            f"quantizer={type(self.quantizer).__name__}({self.quantizer.describe()}))"
        )


def code_streams(symbols, offsets, per_chunk, coder_names):
    """Code every stream with each candidate coder; keep the smallest payload per chunk."""
    n_chunks = (offsets.size - 1) // per_chunk
    best: list = [None] * n_chunks
    counts = np.diff(offsets)
    for name in coder_names:
        coder = get_coder(name)
        buf, starts, lengths = coder.encode_batch(symbols, offsets)
        for c in range(n_chunks):
            k = slice(c * per_chunk, (c + 1) * per_chunk)
            parts = [
                (int(n), buf[a : a + m].tobytes())
                for n, a, m in zip(counts[k], starts[k], lengths[k], strict=True)
            ]
            payload = container.pack_streams(parts)
            if best[c] is None or len(payload) < len(best[c][1]):
                best[c] = (coder.coder_id, payload)
    return best


def parse_checked(blob, *, max_elements: int | None) -> container.ParsedStream:
    """Parse a stream, refuse more than ``max_elements`` elements (before anything is
    allocated), then check every chunk's CRC.

    Raises
    ------
    codec.errors.CodecError
        For anything inconsistent in the framing, header or chunk table.
    ValueError
        If the stream holds more than ``max_elements`` elements.
    """
    parsed = container.parse(blob)
    n = parsed.layout.n_elements
    if max_elements is not None and n > max_elements:
        raise ValueError(
            f"stream holds {n} elements, more than max_elements={max_elements}; "
            "pass a larger max_elements (or None) if you trust it"
        )
    container.verify_payloads(blob, parsed)
    return parsed


def read_quantized(blob, *, max_elements: int | None) -> QuantizedArray:
    """Parse and entropy-decode a stream back to a :class:`QuantizedArray` (all indices
    in memory; :func:`codec.decode` goes chunk by chunk instead).

    Raises
    ------
    codec.errors.CodecError
        For anything inconsistent in the stream.
    ValueError
        If the stream holds more than ``max_elements`` elements.
    """
    from .chunked import decode_points  # the one copy of the chunk decoding

    parsed = parse_checked(blob, max_elements=max_elements)
    layout = parsed.layout
    points = decode_points(blob, parsed, 0, len(parsed.chunks))
    return QuantizedArray(
        parsed.quantizer,
        points,
        layout.shape,
        layout.dtype,
        layout.n_elements,
        layout.chunk_elements,
        chunk_coder_name(parsed),
    )


def chunk_coder_name(parsed: container.ParsedStream) -> str:
    """The coder of every chunk, or ``"auto"`` when chunks differ (``"arithmetic"`` if none)."""
    names = set(chunk_coder_names(parsed))
    if len(names) > 1:
        return "auto"
    return names.pop() if names else "arithmetic"


def chunk_coder_names(parsed: container.ParsedStream) -> tuple[str, ...]:
    """Each chunk's coder name (``"unknown(id)"`` for an id this build does not know)."""
    names = []
    for entry in parsed.chunks:
        coder = coder_by_id(entry.coder_id)
        names.append(coder.name if coder is not None else f"unknown({entry.coder_id})")
    return tuple(names)
