"""Static arithmetic (range) coding with a stored frequency table."""

from __future__ import annotations

import numpy as np

from .._kernels import range_coder as rc
from .base import Coder, raise_for_status


class ArithmeticCoder(Coder):
    """Static range coder: one frequency table per stream, sent in the stream.

    The table is the stream's token histogram scaled to sum to 2**16 exactly
    (docs/format.md §5), so decoding needs integer arithmetic only. The cost
    is at most ``n*H + table + 32`` bits for ``n`` symbols of empirical
    entropy ``H`` (plus the tiny loss of 16-bit probabilities).

    Examples
    --------
    >>> import numpy as np
    >>> c = ArithmeticCoder()
    >>> x = np.random.default_rng(0).integers(-3, 4, 1000)
    >>> bool((c.decode(c.encode(x), x.size) == x).all())
    True
    """

    name = "arithmetic"
    coder_id = 1

    def encode_batch(self, symbols, offsets):
        symbols = np.ascontiguousarray(symbols, np.int64)
        offsets = np.ascontiguousarray(offsets, np.int64)
        k = offsets.size - 1
        bounds = np.zeros(k, np.int64)
        rc.encode_stream_bounds(symbols, offsets, bounds)
        buf_starts = np.zeros(k + 1, np.int64)
        np.cumsum(bounds, out=buf_starts[1:])
        buf = np.zeros(int(buf_starts[-1]), np.uint8)
        lengths = np.zeros(k, np.int64)
        rc.encode_streams(symbols, offsets, buf, buf_starts, lengths)
        return buf, buf_starts[:-1], lengths

    def decode_batch(self, buf, starts, lengths, counts):
        counts = np.ascontiguousarray(counts, np.int64)
        out_offsets = np.zeros(counts.size + 1, np.int64)
        np.cumsum(counts, out=out_offsets[1:])
        out = np.empty(int(out_offsets[-1]), np.int64)
        status = np.zeros(counts.size, np.int64)
        rc.decode_streams(
            np.ascontiguousarray(buf, np.uint8),
            np.ascontiguousarray(starts, np.int64),
            np.ascontiguousarray(lengths, np.int64),
            out,
            out_offsets,
            status,
        )
        raise_for_status(status, "arithmetic decoder")
        return out
