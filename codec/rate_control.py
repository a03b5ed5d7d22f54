"""Rate control: the quantizer for a target rate (bits per element) or MSE.

A designer (codec/quantizers/base.py) describes a one-parameter family of
quantizers (:class:`~codec.quantizers.base.Search`: log2 of the lattice step, a
design's index entropy, ...); this module searches the parameter with a
secant method until the *measured* quantity hits the target: the bits per
element of the real bytes (header, tables and all), or the MSE of the
reconstruction.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np

from .quantizers.base import Quantizer, Search

#: A rate target is met when the real bytes are within this many bits per element.
RATE_TOL_BITS = 0.005
#: A distortion target is met when log2(MSE) is within this of log2(target).
DISTORTION_TOL_LOG2 = 0.01


def solve_rate(search: Search, target: float, code: Callable[[Quantizer], tuple]):
    """The payload ``code(q)`` of the quantizer whose bytes are ``target`` bits/element.

    ``code(q)`` returns ``(bits_per_element, payload)``; quantizers met twice
    (discrete designs) are coded once.
    """
    cache: dict = {}

    def measure(p):
        q = search.make(p)
        key = (type(q), q.header_fields(), q.extras())
        if key not in cache:
            cache[key] = code(q)
        return cache[key]

    return secant(
        measure,
        search.start,
        target,
        slope=search.slope,
        tol=RATE_TOL_BITS,
        what="rate",
        max_steps=search.max_steps,
        upper=search.upper,
    )


#: Elements per run of a rate-search sample (rounded up to whole blocks).
SAMPLE_RUN = 4096


def sample_positions(n: int, sample_size: int, block: int) -> np.ndarray:
    """Indices of a ``sample_size``-element sample of ``n`` elements: evenly spaced,
    non-overlapping runs of whole ``block``-element blocks (neighbours stay together,
    as in the array; ``sample_size`` a multiple of ``block``, at most ``n``).

    Examples
    --------
    >>> p = sample_positions(20_000, 8192, 8)
    >>> p.size, p[:2].tolist(), p[4095:4097].tolist()
    (8192, [0, 1], [4095, 15904])
    """
    run = min(-(-SAMPLE_RUN // block) * block, sample_size)
    runs = sample_size // run
    n_blocks = n // block
    run_blocks = run // block
    starts = np.linspace(0, n_blocks - run_blocks, runs).astype(np.int64) * block
    return (starts[:, None] + np.arange(run)[None, :]).reshape(-1)


def solve_distortion(search: Search, target: float, mse: Callable[[Quantizer], float]):
    """The quantizer of ``search`` whose measured ``mse(q)`` is ``target``."""

    def measure(p):
        q = search.make(p)
        return math.log2(max(mse(q), 1e-300)), q

    return secant(
        measure,
        search.start,
        math.log2(target),
        slope=search.slope,
        tol=DISTORTION_TOL_LOG2,
        what="distortion",
        max_steps=search.max_steps,
        upper=search.upper,
    )


def secant(measure, x0, target, *, slope, tol, what, max_steps=24, upper=None):
    """Find x with ``measure(x)[0] ≈ target`` for a monotone measure; return the payload.

    Keeps a bracket once one exists and otherwise extrapolates with the last
    secant slope (or ``slope`` at first); x never exceeds ``upper``. If the
    target cannot be met within ``tol`` (e.g. a tiny array whose header
    dominates, or a rate below what the coder reaches before ``upper``), the
    closest point that stays within the budget is returned with a warning, or
    the closest point of all when none does.

    Examples
    --------
    >>> secant(lambda x: (2 * x, x), 0.0, 3.0, slope=1.0, tol=1e-9, what="demo")
    1.5
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
        stacklevel=5,
    )
    return pick[2]
