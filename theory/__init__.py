"""Rate-distortion theory: sources, bounds, lattice constants, Blahut-Arimoto, RD sweeps.

Pure numpy/scipy; never imports torch, and imports :mod:`codec` only inside
:func:`rd_sweep` when no encoder is injected. Rates are in bits, distortions
are mean squared errors. Modules:

- :mod:`theory.sources` — Gaussian/Laplacian/uniform/empirical sources,
  closed-form and bounding :math:`R(D)`, the Shannon lower bound.
- :mod:`theory.blahut_arimoto` — :math:`R(D)` of discrete sources.
- :mod:`theory.discrete` — discrete sources, their MSE distortion matrices, densities
  discretized on a grid.
- :mod:`theory.lattices` — normalised second moments and other constants.
- :mod:`theory.bounds` — ECDQ/ECSQ redundancies, Huffman and adaptive-coding
  bounds, entropies.
- :mod:`theory.sweep` — codec rate–distortion sweeps, BD-rate, JSON results.
"""

from .blahut_arimoto import (
    BlahutArimotoResult,
    RateDistortionCurve,
    blahut_arimoto,
    blahut_arimoto_curve,
    blahut_arimoto_mse,
    blahut_arimoto_mse_curve,
)
from .bounds import (
    ECSQ_HIGH_RATE_GAP_BITS,
    GALLAGER_SIGMA,
    ecdq_high_rate_redundancy,
    ecdq_rate_bound,
    ecdq_redundancy_bound,
    empirical_entropy_bits,
    entropy_bits,
    huffman_code_lengths,
    huffman_redundancy_bound,
    kraft_sum,
    kt_code_length_bits,
    kt_redundancy_bound,
    laplace_code_length_bits,
    laplace_redundancy_bound,
    lattice_quantizer_mse,
)
from .discrete import DiscreteSource, discretize_density, mse_distortion_matrix
from .errors import ConvergenceError
from .lattices import (
    G_A2,
    G_CUBIC,
    G_D4,
    G_E8,
    G_LEECH,
    G_SPHERE_BOUND,
    LatticeConstants,
    dn_normalized_second_moment,
    granular_gain_db,
    lattice_constants,
    lattice_names,
    unit_ball_volume,
)
from .sources import (
    EmpiricalSource,
    GaussianSource,
    LaplacianSource,
    Source,
    UniformSource,
    differential_entropy_estimate,
    gaussian_distortion_rate,
    gaussian_rate_distortion,
    shannon_lower_bound,
)
from .sweep import (
    RD_RECORD_FIELDS,
    bd_rate,
    curve_from_records,
    parse_rd_json,
    rd_sweep,
    read_rd_json,
    records_to_json,
)

__all__ = [
    "BlahutArimotoResult",
    "ConvergenceError",
    "DiscreteSource",
    "ECSQ_HIGH_RATE_GAP_BITS",
    "EmpiricalSource",
    "GALLAGER_SIGMA",
    "G_A2",
    "G_CUBIC",
    "G_D4",
    "G_E8",
    "G_LEECH",
    "G_SPHERE_BOUND",
    "GaussianSource",
    "LaplacianSource",
    "LatticeConstants",
    "RD_RECORD_FIELDS",
    "RateDistortionCurve",
    "Source",
    "UniformSource",
    "bd_rate",
    "blahut_arimoto",
    "blahut_arimoto_curve",
    "blahut_arimoto_mse",
    "blahut_arimoto_mse_curve",
    "curve_from_records",
    "differential_entropy_estimate",
    "discretize_density",
    "dn_normalized_second_moment",
    "ecdq_high_rate_redundancy",
    "ecdq_rate_bound",
    "ecdq_redundancy_bound",
    "empirical_entropy_bits",
    "entropy_bits",
    "gaussian_distortion_rate",
    "gaussian_rate_distortion",
    "granular_gain_db",
    "huffman_code_lengths",
    "huffman_redundancy_bound",
    "kraft_sum",
    "kt_code_length_bits",
    "kt_redundancy_bound",
    "laplace_code_length_bits",
    "laplace_redundancy_bound",
    "lattice_constants",
    "lattice_names",
    "lattice_quantizer_mse",
    "mse_distortion_matrix",
    "parse_rd_json",
    "rd_sweep",
    "read_rd_json",
    "records_to_json",
    "shannon_lower_bound",
    "unit_ball_volume",
]
