"""The entropy-coder interface and registry.

A coder turns one stream of int64 symbols into self-contained bytes and back,
given the symbol count (the container stores counts and byte lengths). Coders
work on *batches* of streams so that the kernels can run them in parallel
(threads take streams from a shared counter, see ``_kernels/batch.py``); the
bytes of each stream never depend on the thread count because every stream
is coded independently.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numba
import numpy as np

from .._kernels import batch as batch_kernels
from .._kernels import status as kernel_status
from ..errors import CorruptStreamError, TruncatedStreamError


class Coder(ABC):
    """Base class: subclasses set ``name`` and ``coder_id`` and the two batch methods.

    ``encode_batch(symbols, offsets)`` codes stream ``s`` =
    ``symbols[offsets[s]:offsets[s+1]]`` and returns ``(buf, starts, lengths)``;
    ``decode_batch(buf, starts, lengths, counts)`` returns the concatenated
    symbols, raising a :mod:`codec.errors` exception on bad input.
    """

    name: str = ""
    coder_id: int = -1

    @abstractmethod
    def encode_batch(self, symbols, offsets):
        """Code every stream; return ``(buf, starts, lengths)``."""

    @abstractmethod
    def decode_batch(self, buf, starts, lengths, counts):
        """Decode every stream; return the concatenated symbols."""

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


def raise_for_status(status, what: str) -> None:
    """Turn kernel status codes (``_kernels/status.py``) into exceptions.

    ``status`` is one code or an array of them, one per stream; the first
    stream whose status is not ``OK`` wins: ``TRUNCATED`` raises
    :class:`~codec.errors.TruncatedStreamError`, ``CORRUPT`` (or any other
    code) :class:`~codec.errors.CorruptStreamError`.

    Examples
    --------
    >>> import numpy as np
    >>> raise_for_status(np.array([0, 0]), "demo")
    >>> raise_for_status(np.array([0, 1]), "demo")
    Traceback (most recent call last):
        ...
    codec.errors.TruncatedStreamError: demo: stream 1 is truncated
    """
    status = np.atleast_1d(np.asarray(status))
    bad = np.flatnonzero(status != kernel_status.OK)
    if bad.size == 0:
        return
    s = int(bad[0])
    if status[s] == kernel_status.TRUNCATED:
        raise TruncatedStreamError(f"{what}: stream {s} is truncated")
    raise CorruptStreamError(f"{what}: stream {s} is corrupt")


def n_workers(n_streams: int) -> int:
    """Threads for a batch: one per stream up to numba's thread count (at least 1)."""
    return max(1, min(n_streams, numba.get_num_threads()))


#: Output room reserved per symbol beyond the token codes, in bits, before the
#: streams are coded: streams whose extra bits (tokens.py) need more are coded
#: again with their exact bound (:meth:`KernelCoder.encode_batch`).
GUESS_EXTRA_BITS = 2


class KernelCoder(Coder):
    """A coder whose stream kernels ``_kernels/batch.py`` dispatches to by ``coder_id``.

    A whole batch is one compiled call of ``_kernels/batch.py``: threads take
    the streams, largest first, from a shared counter. The rare stream that
    outgrows the room the encoder planned from its symbol count is coded again
    with ``batch.encode_bound`` (an upper bound from one min/max pass).
    Subclasses may pass coder parameters through :meth:`_encode_args` (the
    adaptive coder's four).
    """

    def _encode_args(self) -> tuple:
        return (0, 0, 0, 0)

    def encode_batch(self, symbols, offsets):
        """Code every stream; return ``(buf, starts, lengths)``.

        Stream ``s`` is ``buf[starts[s]:starts[s] + lengths[s]]``; ``buf`` may
        hold unused bytes between streams. The room of each stream is set
        before coding from its symbol count alone (token codes plus
        ``GUESS_EXTRA_BITS`` per symbol), so no pass over the symbols precedes
        the coding; the rare stream that may not fit (large values with many
        extra bits) is coded again afterwards, with its exact bound.
        """
        symbols = np.ascontiguousarray(symbols, np.int64)
        offsets = np.ascontiguousarray(offsets, np.int64)
        if (
            offsets.ndim != 1
            or offsets.size == 0
            or offsets[0] < 0
            or offsets[-1] > symbols.size
            or (offsets[1:] < offsets[:-1]).any()
        ):
            raise ValueError(
                "offsets must be a non-empty, non-decreasing 1-d array within the symbols "
                "(stream s is symbols[offsets[s]:offsets[s + 1]])"
            )
        k = offsets.size - 1
        params = np.array(self._encode_args(), np.int64)
        buf, buf_starts, caps, lengths, n_over = batch_kernels.encode_batch(
            self.coder_id, params, symbols, offsets, GUESS_EXTRA_BITS, n_workers(k)
        )
        if n_over:
            over = np.flatnonzero(lengths < 0)
            exact = np.array(
                [
                    batch_kernels.encode_bound(self.coder_id, symbols[offsets[s] : offsets[s + 1]])
                    for s in over
                ],
                np.int64,
            )
            grown = np.empty(buf.size + int(exact.sum()), np.uint8)
            grown[: buf.size] = buf
            buf_starts[over] = buf.size + np.cumsum(exact) - exact
            caps[over] = exact
            order = over[batch_kernels.largest_first(np.diff(offsets)[over])]
            room = (grown, buf_starts, caps, lengths)
            batch_kernels.encode_workers(
                n_workers(over.size), self.coder_id, params, symbols, offsets, order, *room
            )
            buf = grown
            if (lengths < 0).any():  # pragma: no cover - encode_bound is an upper bound
                raise AssertionError(f"{self.name}: a stream exceeded its exact bound")
        return buf, buf_starts[:-1], lengths

    def decode_batch(self, buf, starts, lengths, counts):
        buf = np.ascontiguousarray(buf, np.uint8)
        if buf.flags.writeable:  # one compiled specialisation: decoders take read-only bytes
            buf = buf.view()
            buf.flags.writeable = False
        starts = np.ascontiguousarray(starts, np.int64)
        lengths = np.ascontiguousarray(lengths, np.int64)
        counts = np.ascontiguousarray(counts, np.int64)
        k = counts.size
        if starts.size != k or lengths.size != k:
            raise ValueError("starts, lengths and counts must have the same size")
        ok, out, status, worst = batch_kernels.decode_batch(
            self.coder_id, buf, starts, lengths, counts, n_workers(k)
        )
        if not ok:
            raise ValueError("negative counts, or stream extents outside the buffer")
        if worst:
            raise_for_status(status, f"{self.name} decoder")
        return out
