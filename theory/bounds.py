"""Redundancy bounds of quantizers and lossless coders, and entropies.

Rates are in bits (per element / per dimension / per symbol, as stated).

References
----------
R. Zamir and M. Feder, "On universal quantization by randomized
uniform/lattice quantizers", IEEE Trans. Inf. Theory 38(2):428–436, 1992.
H. Gish and J. N. Pierce, "Asymptotically efficient quantizing", IEEE Trans.
Inf. Theory 14(5):676–683, 1968.
R. G. Gallager, "Variations on a theme by Huffman", IEEE Trans. Inf. Theory
24(6):668–674, 1978.
R. E. Krichevsky and V. K. Trofimov, "The performance of universal encoding",
IEEE Trans. Inf. Theory 27(2):199–207, 1981.
T. J. Tjalkens, Y. M. Shtarkov and F. M. J. Willems, "Sequential weighting
algorithms for multi-alphabet sources", 6th Joint Swedish-Russian Int.
Workshop on Information Theory, 1993.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
from scipy.special import gammaln

from ._validation import (
    positive_array,
    positive_int,
    positive_scalar,
    probability_vector,
    real_scalar,
)

__all__ = [
    "ECSQ_HIGH_RATE_GAP_BITS",
    "GALLAGER_SIGMA",
    "ecdq_high_rate_redundancy",
    "ecdq_rate_bound",
    "ecdq_redundancy_bound",
    "empirical_entropy_bits",
    "entropy_bits",
    "huffman_code_lengths",
    "huffman_redundancy_bound",
    "kraft_sum",
    "kt_code_length_bits",
    "kt_redundancy_bound",
    "laplace_code_length_bits",
    "laplace_redundancy_bound",
    "lattice_quantizer_mse",
]

_LN2 = math.log(2.0)

ECSQ_HIGH_RATE_GAP_BITS = 0.5 * math.log2(math.pi * math.e / 6.0)
"""High-rate gap of entropy-coded scalar quantization to :math:`R(D)`:
:math:`\\tfrac12\\log_2(\\pi e/6) \\approx 0.2546` bit (1.53 dB), Gish & Pierce 1968."""

GALLAGER_SIGMA = 1.0 - math.log2(math.e) + math.log2(math.log2(math.e))
"""Gallager's constant :math:`\\sigma = 1 - \\log_2 e + \\log_2\\log_2 e \\approx 0.0861`."""


def ecdq_high_rate_redundancy(normalized_second_moment) -> float:
    """High-rate redundancy of entropy-coded dithered lattice quantization.

    .. math:: \\lim_{D \\to 0} \\left[ \\tfrac1n H(Q(X+U) \\mid U) - R(D) \\right]
              = \\tfrac12 \\log_2(2\\pi e G)

    bits per dimension: 0.2546 for the cube (:math:`G = 1/12`, the ECSQ gap),
    0 at the sphere bound :math:`G = 1/(2\\pi e)`.

    Parameters
    ----------
    normalized_second_moment : float
        The lattice's :math:`G` (e.g. ``lattice_constants("E8").G``).

    Returns
    -------
    float
        Bits per dimension.

    Raises
    ------
    TypeError, ValueError
        If the argument is not a finite positive real number.

    References
    ----------
    Zamir & Feder 1992; Gish & Pierce 1968.

    Examples
    --------
    >>> from theory import G_E8, ecdq_high_rate_redundancy
    >>> round(ecdq_high_rate_redundancy(G_E8), 4)
    0.146
    """
    g = positive_scalar(normalized_second_moment, "normalized_second_moment")
    return 0.5 * math.log2(2.0 * math.pi * math.e * g)


def ecdq_redundancy_bound(normalized_second_moment) -> float:
    """Any-rate bound on the redundancy of entropy-coded dithered quantization.

    For every source and every rate (Zamir & Feder 1992, Theorem 1):

    .. math:: \\tfrac1n H(Q(X+U) \\mid U) \\le R(D) + \\tfrac12 \\log_2(4\\pi e G)

    bits per dimension, :math:`D` the (input-independent) dithered MSE: 0.7546
    for the cube, 0.5 at the sphere bound.

    Parameters
    ----------
    normalized_second_moment : float
        The lattice's :math:`G`.

    Returns
    -------
    float
        Bits per dimension.

    Raises
    ------
    TypeError, ValueError
        If the argument is not a finite positive real number.

    References
    ----------
    Zamir & Feder 1992.

    Examples
    --------
    >>> from theory import G_CUBIC, ecdq_redundancy_bound
    >>> round(ecdq_redundancy_bound(G_CUBIC), 4)
    0.7546
    """
    g = positive_scalar(normalized_second_moment, "normalized_second_moment")
    return 0.5 * math.log2(4.0 * math.pi * math.e * g)


def ecdq_rate_bound(rate_distortion_bits, normalized_second_moment) -> float:
    """Upper bound on the ECDQ rate given :math:`R(D)` at its distortion.

    .. math:: R_{\\mathrm{ECDQ}} \\le R(D) + \\tfrac12 \\log_2(4\\pi e G)

    Parameters
    ----------
    rate_distortion_bits : float
        :math:`R(D)` of the source at the dithered quantizer's MSE :math:`D`
        (bits per dimension, ``>= 0``), e.g. from
        :func:`theory.gaussian_rate_distortion`.
    normalized_second_moment : float
        The lattice's :math:`G`.

    Returns
    -------
    float
        Bits per dimension.

    Raises
    ------
    TypeError, ValueError
        If an argument is not a finite real number, ``rate_distortion_bits``
        is negative or ``normalized_second_moment <= 0``.

    References
    ----------
    Zamir & Feder 1992.

    Examples
    --------
    >>> from theory import G_CUBIC, ecdq_rate_bound
    >>> round(ecdq_rate_bound(2.0, G_CUBIC), 4)
    2.7546
    """
    r = real_scalar(rate_distortion_bits, "rate_distortion_bits")
    if r < 0:
        raise ValueError(f"rate_distortion_bits must be >= 0, got {r!r}")
    return r + ecdq_redundancy_bound(normalized_second_moment)


def lattice_quantizer_mse(normalized_second_moment, cell_volume, dimension) -> float:
    """Per-dimension MSE of a uniform error over a lattice's Voronoi cell.

    .. math:: D = G\\, V^{2/n}

    Exact for subtractively dithered lattice quantization at every rate, and
    the high-rate MSE of plain lattice rounding.

    Parameters
    ----------
    normalized_second_moment : float
        :math:`G > 0`.
    cell_volume : float
        :math:`V > 0`, e.g. ``step**n * det`` for a lattice scaled by ``step``.
    dimension : int
        :math:`n \\ge 1`.

    Returns
    -------
    float
        Mean squared error per dimension.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is not positive.

    Examples
    --------
    >>> from theory import G_CUBIC, lattice_quantizer_mse
    >>> lattice_quantizer_mse(G_CUBIC, 0.5, 1) == 0.5**2 / 12
    True
    """
    g = positive_scalar(normalized_second_moment, "normalized_second_moment")
    v = positive_scalar(cell_volume, "cell_volume")
    n = positive_int(dimension, "dimension")
    return g * v ** (2.0 / n)


def entropy_bits(pmf) -> float:
    """Shannon entropy of a probability vector, in bits.

    .. math:: H(p) = -\\sum_i p_i \\log_2 p_i \\qquad (0 \\log 0 = 0)

    Parameters
    ----------
    pmf : array_like
        1-D, non-negative, summing to 1 within 1e-6.

    Returns
    -------
    float
        :math:`H(p) \\ge 0`.

    Raises
    ------
    TypeError, ValueError
        If ``pmf`` is not a probability vector.

    Examples
    --------
    >>> from theory import entropy_bits
    >>> entropy_bits([0.5, 0.25, 0.25, 0.0])
    1.5
    """
    p = probability_vector(pmf, "pmf")
    nz = p[p > 0]
    return float(max(-np.dot(nz, np.log2(nz)), 0.0))


def empirical_entropy_bits(symbols) -> float:
    """Entropy (bits/symbol) of the empirical distribution of an integer array.

    .. math:: \\hat H = -\\sum_k \\frac{n_k}{n} \\log_2 \\frac{n_k}{n}

    with :math:`n_k` the count of value :math:`k`. :math:`n \\hat H` is the
    ideal static order-0 code length of the array (model cost excluded).

    Parameters
    ----------
    symbols : array_like of int
        Integer array of any shape (flattened); at least one element.

    Returns
    -------
    float
        Bits per symbol.

    Raises
    ------
    TypeError
        If the array is not of an integer dtype (floats, bools, objects).
    ValueError
        If it is empty.

    Examples
    --------
    >>> from theory import empirical_entropy_bits
    >>> empirical_entropy_bits([0, 0, 1, 2])
    1.5
    """
    arr = np.asarray(symbols)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"symbols must be an integer array, got dtype {arr.dtype}; quantize first")
    if arr.size == 0:
        raise ValueError("symbols must hold at least one element")
    _, counts = np.unique(arr.ravel(), return_counts=True)
    return entropy_bits(counts / arr.size)


def huffman_code_lengths(weights) -> np.ndarray:
    """Codeword lengths of a binary Huffman code (reference implementation).

    Repeatedly merges the two lightest nodes; ties are broken by creation
    order (leaves in index order first), so the result is deterministic. The
    average length satisfies

    .. math:: H(p) \\le \\bar L = \\sum_i p_i \\ell_i < H(p) + 1, \\qquad
              \\sum_i 2^{-\\ell_i} = 1 .

    Parameters
    ----------
    weights : array_like
        1-D positive weights (probabilities or counts; need not sum to 1).
        Drop zero-weight symbols first. A single symbol gets length 0.

    Returns
    -------
    numpy.ndarray
        ``int64`` lengths, one per weight.

    Raises
    ------
    TypeError
        If ``weights`` is not real-valued.
    ValueError
        If it is empty, not 1-D, or has a non-positive or non-finite entry.

    References
    ----------
    D. A. Huffman, "A method for the construction of minimum-redundancy
    codes", Proc. IRE 40(9):1098–1101, 1952.

    Examples
    --------
    >>> from theory import huffman_code_lengths
    >>> huffman_code_lengths([0.5, 0.25, 0.125, 0.125]).tolist()
    [1, 2, 3, 3]
    """
    w = positive_array(weights, "weights", ndim=1)
    k = w.size
    if k == 0:
        raise ValueError("weights must hold at least one symbol")
    if k == 1:
        return np.zeros(1, dtype=np.int64)
    parent = np.empty(2 * k - 1, dtype=np.int64)
    heap = [(float(w[i]), i) for i in range(k)]
    heapq.heapify(heap)
    node = k
    while len(heap) > 1:
        w1, a = heapq.heappop(heap)
        w2, b = heapq.heappop(heap)
        parent[a] = parent[b] = node
        heapq.heappush(heap, (w1 + w2, node))
        node += 1
    depth = np.zeros(2 * k - 1, dtype=np.int64)
    for v in range(2 * k - 3, -1, -1):  # root is 2k-2; parents are created after children
        depth[v] = depth[parent[v]] + 1
    return depth[:k].copy()


def kraft_sum(lengths) -> float:
    """Kraft sum of codeword lengths.

    .. math:: K = \\sum_i 2^{-\\ell_i}

    A prefix code with these lengths exists iff :math:`K \\le 1`; a full
    binary tree (e.g. Huffman) has :math:`K = 1`.

    Parameters
    ----------
    lengths : array_like of int
        Non-negative integer lengths.

    Returns
    -------
    float
        The sum.

    Raises
    ------
    TypeError
        If ``lengths`` is not an integer array.
    ValueError
        If a length is negative.

    Examples
    --------
    >>> from theory import kraft_sum
    >>> kraft_sum([1, 2, 3, 3])
    1.0
    """
    arr = np.asarray(lengths)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"lengths must be integers, got dtype {arr.dtype}")
    if np.any(arr < 0):
        raise ValueError("lengths must be >= 0")
    return float(np.sum(np.exp2(-arr.astype(np.float64))))


def huffman_redundancy_bound(pmf) -> float:
    """Gallager's upper bound on the redundancy of a Huffman code.

    With :math:`p_1` the largest probability and
    :math:`\\sigma = 1 - \\log_2 e + \\log_2\\log_2 e \\approx 0.0861`:

    .. math::

        \\bar L - H(p) \\le
        \\begin{cases}
            p_1 + \\sigma, & p_1 < \\tfrac12, \\\\
            \\min(p_1 + \\sigma,\\; 2 - p_1 - h(p_1)), & p_1 \\ge \\tfrac12,
        \\end{cases}

    with :math:`h` the binary entropy, and never more than 1 bit/symbol.

    Parameters
    ----------
    pmf : array_like
        Probability vector (zeros allowed; they are ignored).

    Returns
    -------
    float
        The bound in bits per symbol.

    Raises
    ------
    TypeError, ValueError
        If ``pmf`` is not a probability vector.

    References
    ----------
    Gallager 1978, Theorems 1–2.

    Examples
    --------
    >>> from theory import huffman_redundancy_bound
    >>> round(huffman_redundancy_bound([0.25] * 4), 4)
    0.3361
    """
    p = probability_vector(pmf, "pmf")
    p1 = float(p.max())
    bound = p1 + GALLAGER_SIGMA
    if p1 >= 0.5:
        h1 = 0.0 if p1 >= 1.0 else -(p1 * math.log2(p1) + (1 - p1) * math.log2(1 - p1))
        bound = min(bound, 2.0 - p1 - h1)
    return min(bound, 1.0)


def _counts(counts) -> np.ndarray:
    arr = np.asarray(counts)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"counts must be integers, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"counts must be a non-empty 1-D array, got shape {arr.shape}")
    if np.any(arr < 0):
        raise ValueError("counts must be >= 0")
    return arr.astype(np.float64)


def kt_code_length_bits(counts) -> float:
    """Ideal code length of a sequence under the adaptive KT estimator, in bits.

    The Krichevsky–Trofimov estimator predicts symbol :math:`k` with
    probability :math:`(n_k + \\tfrac12)/(t + K/2)` after :math:`t` symbols; the
    product over a sequence depends only on the final counts:

    .. math::

        L_{KT} = -\\log_2 \\left[ \\frac{\\Gamma(K/2)}{\\Gamma(n + K/2)}
                 \\prod_{k=1}^{K} \\frac{\\Gamma(n_k + \\tfrac12)}{\\Gamma(\\tfrac12)} \\right].

    An adaptive arithmetic coder with this model spends this many bits plus
    a few bits of termination.

    Parameters
    ----------
    counts : array_like of int
        Occurrences :math:`n_k \\ge 0` of each of the :math:`K` symbols.

    Returns
    -------
    float
        Bits for the whole sequence.

    Raises
    ------
    TypeError
        If ``counts`` is not an integer array.
    ValueError
        If it is empty, not 1-D or has a negative entry.

    References
    ----------
    Krichevsky & Trofimov 1981.

    Examples
    --------
    >>> from theory import kt_code_length_bits
    >>> round(kt_code_length_bits([1, 0]), 12)   # first symbol of a binary sequence: 1 bit
    1.0
    """
    c = _counts(counts)
    k = c.size
    n = c.sum()
    log_p = (
        float(np.sum(gammaln(c + 0.5))) - k * gammaln(0.5) + gammaln(0.5 * k) - gammaln(n + 0.5 * k)
    )
    return float(max(-log_p / _LN2, 0.0))


def kt_redundancy_bound(num_symbols, alphabet_size) -> float:
    """Upper bound on the KT estimator's redundancy over the empirical entropy.

    For every sequence of :math:`n` symbols over an alphabet of :math:`K`,

    .. math:: L_{KT} - n \\hat H \\le \\frac{K-1}{2}\\log_2 n + \\log_2 K

    bits in total (:math:`\\hat H` the empirical entropy; equality at
    :math:`n = 1`). For :math:`K = 2` this is the classical
    :math:`\\tfrac12\\log_2 n + 1`; the general form is the one given by
    Tjalkens, Shtarkov & Willems (1993). The tests of this module check it
    against :func:`kt_code_length_bits` on extreme and random count vectors
    (:math:`K \\le 256`, :math:`n \\le 10^5`).

    Parameters
    ----------
    num_symbols : int
        Sequence length :math:`n \\ge 0` (the bound is 0 for :math:`n = 0`).
    alphabet_size : int
        :math:`K \\ge 1`.

    Returns
    -------
    float
        Bits for the whole sequence.

    Raises
    ------
    TypeError
        If an argument is not an integer.
    ValueError
        If ``num_symbols < 0`` or ``alphabet_size < 1``.

    References
    ----------
    Krichevsky & Trofimov 1981; Tjalkens, Shtarkov & Willems 1993.

    Examples
    --------
    >>> from theory import kt_redundancy_bound
    >>> kt_redundancy_bound(1024, 2)
    6.0
    """
    n = positive_int(num_symbols, "num_symbols", minimum=0)
    k = positive_int(alphabet_size, "alphabet_size")
    if n == 0:
        return 0.0
    return 0.5 * (k - 1) * math.log2(n) + math.log2(k)


def laplace_code_length_bits(counts) -> float:
    """Ideal code length under the adaptive Laplace (add-one) estimator, in bits.

    Predicting :math:`(n_k + 1)/(t + K)` gives, for the whole sequence,

    .. math:: L_{L} = \\log_2 \\frac{(n + K - 1)!}{(K - 1)!\\, \\prod_k n_k!} .

    Parameters
    ----------
    counts : array_like of int
        Occurrences :math:`n_k \\ge 0` of each of the :math:`K` symbols.

    Returns
    -------
    float
        Bits for the whole sequence.

    Raises
    ------
    TypeError
        If ``counts`` is not an integer array.
    ValueError
        If it is empty, not 1-D or has a negative entry.

    References
    ----------
    P.-S. Laplace, *Essai philosophique sur les probabilités*, 1814 (rule of
    succession); Cover & Thomas 2006, section 13.2.

    Examples
    --------
    >>> from theory import laplace_code_length_bits
    >>> laplace_code_length_bits([1, 1])   # 1/2 * 1/3
    2.584962500721156
    """
    c = _counts(counts)
    k = c.size
    n = c.sum()
    log_len = gammaln(n + k) - gammaln(k) - float(np.sum(gammaln(c + 1.0)))
    return float(max(log_len / _LN2, 0.0))


def laplace_redundancy_bound(num_symbols, alphabet_size) -> float:
    """Exact worst-case redundancy of the Laplace estimator over the empirical entropy.

    .. math:: \\max_{x^n} \\left(L_L - n\\hat H\\right) = \\log_2 \\binom{n + K - 1}{K - 1}
              \\approx (K - 1) \\log_2 n

    (twice the KT rate: the reason adaptive coders use KT-like estimators).
    It is attained by a sequence of one repeated symbol.

    Parameters
    ----------
    num_symbols : int
        :math:`n \\ge 0`.
    alphabet_size : int
        :math:`K \\ge 1`.

    Returns
    -------
    float
        Bits for the whole sequence.

    Raises
    ------
    TypeError
        If an argument is not an integer.
    ValueError
        If ``num_symbols < 0`` or ``alphabet_size < 1``.

    Examples
    --------
    >>> from theory import laplace_redundancy_bound
    >>> round(laplace_redundancy_bound(3, 2), 6)   # log2(4)
    2.0
    """
    n = positive_int(num_symbols, "num_symbols", minimum=0)
    k = positive_int(alphabet_size, "alphabet_size")
    return float((gammaln(n + k) - gammaln(k) - gammaln(n + 1)) / _LN2)
