"""Static arithmetic (range) coding with a stored frequency table."""

from __future__ import annotations

from .base import KernelCoder


class ArithmeticCoder(KernelCoder):
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
