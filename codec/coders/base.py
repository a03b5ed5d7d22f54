"""The entropy-coder interface and registry.

A coder turns one stream of int64 symbols into self-contained bytes and back,
given the symbol count (the container stores counts and byte lengths). Coders
work on *batches* of streams so that the kernels can run them in parallel
(``prange`` over streams); the bytes of each stream never depend on the
thread count because every stream is coded independently.
"""

from __future__ import annotations

import numpy as np

from ..errors import CorruptStreamError, TruncatedStreamError

STATUS_OK, STATUS_TRUNCATED, STATUS_CORRUPT = 0, 1, 2


class Coder:
    """Base class: subclasses set ``name`` and ``coder_id`` and the two batch methods.

    ``encode_batch(symbols, offsets)`` codes stream ``s`` =
    ``symbols[offsets[s]:offsets[s+1]]`` and returns ``(buf, starts, lengths)``;
    ``decode_batch(buf, starts, lengths, counts)`` returns the concatenated
    symbols, raising a :mod:`codec.errors` exception on bad input.
    """

    name: str = ""
    coder_id: int = -1

    def encode_batch(self, symbols, offsets):
        raise NotImplementedError  # abstract

    def decode_batch(self, buf, starts, lengths, counts):
        raise NotImplementedError  # abstract

    def encode(self, symbols) -> bytes:
        """Encode one stream of integer symbols to bytes.

        Examples
        --------
        >>> import numpy as np
        >>> from codec.coders import get_coder
        >>> c = get_coder("arithmetic")
        >>> blob = c.encode(np.array([3, 1, 3, 3, 2]))
        >>> c.decode(blob, 5).tolist()
        [3, 1, 3, 3, 2]
        """
        sym = as_symbol_array(symbols)
        buf, starts, lengths = self.encode_batch(sym, np.array([0, sym.size], np.int64))
        return bytes(buf[starts[0] : starts[0] + lengths[0]])

    def decode(self, data, count: int) -> np.ndarray:
        """Decode ``count`` symbols from bytes produced by :meth:`encode`."""
        buf = np.frombuffer(bytes(data), np.uint8)
        if count < 0:
            raise ValueError("count must be >= 0")
        return self.decode_batch(
            buf,
            np.array([0], np.int64),
            np.array([buf.size], np.int64),
            np.array([count], np.int64),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def as_symbol_array(symbols) -> np.ndarray:
    """Validate and convert integer symbols to a contiguous int64 array."""
    arr = np.asarray(symbols)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"symbols must be an integer array, got dtype {arr.dtype}")
    if arr.dtype == np.uint64 and arr.size and arr.max() >= 2**62:
        raise ValueError("symbols must lie in [-2**62, 2**62)")
    sym = np.ascontiguousarray(arr, dtype=np.int64).ravel()
    if sym.size and (sym.min() < -(2**62) or sym.max() >= 2**62):
        raise ValueError("symbols must lie in [-2**62, 2**62)")
    return sym


def raise_for_status(status: np.ndarray, what: str) -> None:
    """Turn kernel status codes into exceptions (the first failing stream wins)."""
    bad = np.flatnonzero(status)
    if bad.size == 0:
        return
    s = int(bad[0])
    if status[s] == STATUS_TRUNCATED:
        raise TruncatedStreamError(f"{what}: stream {s} is truncated")
    raise CorruptStreamError(f"{what}: stream {s} is corrupt")
