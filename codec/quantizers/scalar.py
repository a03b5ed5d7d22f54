"""Scalar quantizer design: uniform, k-means (Lloyd and exact DP), ECSQ (CLG and exact DP).

Every quantizer designed here has contiguous cells, so it is a
:class:`ScalarCodebook`: ``K`` sorted reconstruction ``levels`` and ``K - 1``
sorted ``thresholds``. Cell ``i`` is ``[t_{i-1}, t_i)`` (the outer cells are
unbounded), so :func:`quantize` is a ``searchsorted`` on the thresholds.

Objectives, with optional non-negative importance weights ``h`` (e.g. a
diagonal Hessian estimate; Choi, El-Khamy & Lee 2017) and ``N`` elements:

.. math::

    D = \\frac{\\sum_j h_j (x_j - c_{q(x_j)})^2}{\\sum_j h_j}, \\qquad
    R = -\\sum_i \\frac{n_i}{N} \\log_2 \\frac{n_i}{N}

``D`` is the (weighted) mean squared error and ``R`` the empirical entropy of
the indices in bits per element (``n_i`` elements fall in cell ``i``): the
rate an ideal entropy coder pays for the indices, so weights act on the
distortion only. k-means minimises ``D`` with ``K`` levels; ECSQ minimises
``D + λ R``.

Designs run on sorted data collapsed into runs of equal values, with prefix
sums of ``n``, ``h``, ``h·z`` and ``h·z²`` (``z`` the centred, scaled value),
so any cell's statistics cost O(1). Lloyd and CLG use every distinct value
(exact); the dynamic programmes merge runs into at most ``max_bins`` bins when
there are more (see :func:`design_kmeans` for the resulting error bound).

The implementation is in three modules: :mod:`~codec.quantizers.scalar_codebook` (the
codebook, applying it, the prepared data), :mod:`~codec.quantizers.scalar_design` (a
design for a given setting) and :mod:`~codec.quantizers.scalar_targets` (a design for a
target rate or distortion).
"""

from __future__ import annotations

from .scalar_codebook import (
    DEFAULT_MAX_BINS,
    DEFAULT_MAX_LEVELS,
    ScalarCodebook,
    dequantize,
    evaluate,
    index_entropy,
    quantize,
)
from .scalar_design import design_ecsq, design_kmeans, design_uniform
from .scalar_targets import design_ecsq_for_rate, design_for_distortion, design_for_rate

__all__ = [
    "ScalarCodebook",
    "quantize",
    "dequantize",
    "evaluate",
    "index_entropy",
    "design_uniform",
    "design_kmeans",
    "design_ecsq",
    "design_for_rate",
    "design_ecsq_for_rate",
    "design_for_distortion",
    "DEFAULT_MAX_BINS",
    "DEFAULT_MAX_LEVELS",
]
