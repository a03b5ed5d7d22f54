"""Quantizer and lossless-coder bounds, entropies."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import (
    ECSQ_HIGH_RATE_GAP_BITS,
    G_CUBIC,
    G_E8,
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


def test_scalar_quantizer_constants():
    assert abs(ECSQ_HIGH_RATE_GAP_BITS - 0.5 * math.log2(math.pi * math.e / 6)) < 1e-15
    assert round(ECSQ_HIGH_RATE_GAP_BITS, 4) == 0.2546
    assert abs(6.02 * ECSQ_HIGH_RATE_GAP_BITS - 1.53) < 0.01  # 1.53 dB
    assert abs(GALLAGER_SIGMA - 0.0860713) < 1e-7
    # The any-rate bound is exactly half a bit above the high-rate redundancy.
    assert ecdq_redundancy_bound(G_E8) - ecdq_high_rate_redundancy(G_E8) == pytest.approx(0.5)
    assert ecdq_rate_bound(1.25, G_CUBIC) == pytest.approx(1.25 + 0.754614, abs=1e-6)
    assert lattice_quantizer_mse(G_E8, 2.0**8, 8) == pytest.approx(4 * G_E8)


@pytest.mark.parametrize(
    "call",
    [
        lambda: ecdq_high_rate_redundancy(0.0),
        lambda: ecdq_redundancy_bound(-1.0),
        lambda: ecdq_rate_bound(-0.1, G_CUBIC),
        lambda: lattice_quantizer_mse(G_CUBIC, 0.0, 1),
        lambda: lattice_quantizer_mse(G_CUBIC, 1.0, 0),
    ],
)
def test_bound_argument_values(call):
    with pytest.raises(ValueError):
        call()


def test_bound_argument_types():
    with pytest.raises(TypeError):
        ecdq_high_rate_redundancy("E8")
    with pytest.raises(TypeError):
        lattice_quantizer_mse(G_CUBIC, 1.0, 2.0)


def test_entropies():
    assert entropy_bits([1.0]) == 0.0
    assert entropy_bits([0.25] * 4) == 2.0
    assert empirical_entropy_bits(np.array([[3, 3], [-7, 10**12]])) == 1.5
    assert empirical_entropy_bits(np.zeros(10, dtype=np.int8)) == 0.0
    with pytest.raises(TypeError, match="integer"):
        empirical_entropy_bits([0.5, 1.5])
    with pytest.raises(TypeError, match="integer"):
        empirical_entropy_bits(np.array([True, False]))
    with pytest.raises(ValueError, match="at least one"):
        empirical_entropy_bits(np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match="sum to 1"):
        entropy_bits([0.5, 0.4])


pmfs = st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=40).map(
    lambda w: np.asarray(w) / np.sum(w)
)
skewed = st.tuples(st.floats(0.5, 0.999), st.integers(1, 30)).map(
    lambda t: np.r_[t[0], np.full(t[1], (1 - t[0]) / t[1])]
)


@given(p=st.one_of(pmfs, skewed))
def test_huffman_within_bounds(p):
    lengths = huffman_code_lengths(p)
    avg = float(np.dot(p, lengths))
    h = entropy_bits(p)
    assert kraft_sum(lengths) == pytest.approx(1.0)
    assert h - 1e-9 <= avg < h + 1.0
    assert avg - h <= huffman_redundancy_bound(p) + 1e-9


def test_huffman_examples():
    assert huffman_code_lengths([0.5, 0.25, 0.125, 0.125]).tolist() == [1, 2, 3, 3]
    assert huffman_code_lengths([7]).tolist() == [0]
    assert huffman_code_lengths([1, 1, 1]).tolist() in ([1, 2, 2], [2, 2, 1], [2, 1, 2])
    # Gallager's bound is tight-ish for near-uniform alphabets of size ~ 2^k ln 2.
    m = 177  # about 2^8 * ln 2
    p = np.full(m, 1 / m)
    gap = float(np.dot(p, huffman_code_lengths(p))) - math.log2(m)
    assert 0.08 < gap <= huffman_redundancy_bound(p)
    assert huffman_redundancy_bound([0.999, 0.001]) <= 1.0
    with pytest.raises(ValueError, match="> 0"):
        huffman_code_lengths([0.5, 0.0, 0.5])
    with pytest.raises(ValueError):
        huffman_code_lengths([])
    with pytest.raises(TypeError):
        kraft_sum([1.5])
    with pytest.raises(ValueError):
        kraft_sum([-1])


def sequential_code_length(seq, k, alpha):
    """-log2 of the product of sequential add-alpha predictions (the definition)."""
    counts = np.zeros(k)
    bits = 0.0
    for t, s in enumerate(seq):
        bits -= math.log2((counts[s] + alpha) / (t + k * alpha))
        counts[s] += 1
    return bits, counts.astype(np.int64)


@given(k=st.integers(1, 6), seq=st.lists(st.integers(0, 5), max_size=60))
def test_adaptive_code_lengths_match_their_definitions(k, seq):
    seq = [s % k for s in seq]
    kt_bits, counts = sequential_code_length(seq, k, 0.5)
    assert kt_code_length_bits(counts) == pytest.approx(kt_bits, abs=1e-9)
    lap_bits, _ = sequential_code_length(seq, k, 1.0)
    assert laplace_code_length_bits(counts) == pytest.approx(lap_bits, abs=1e-9)


def regret(length_bits, counts):
    n = counts.sum()
    nz = counts[counts > 0].astype(float)
    return length_bits - float(np.sum(nz * np.log2(n / nz))) if n else length_bits


@given(
    k=st.integers(1, 256),
    n=st.integers(1, 100_000),
    conc=st.sampled_from([0.05, 0.5, 1.0, 10.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_kt_and_laplace_redundancy_bounds(k, n, conc, seed):
    rng = np.random.default_rng(seed)
    for counts in (
        rng.multinomial(n, rng.dirichlet(np.full(k, conc))),
        np.r_[n, np.zeros(k - 1, dtype=np.int64)],  # the worst case of both estimators
    ):
        assert regret(kt_code_length_bits(counts), counts) <= kt_redundancy_bound(n, k) + 1e-9
        lap = regret(laplace_code_length_bits(counts), counts)
        assert lap <= laplace_redundancy_bound(n, k) + 1e-9
    # The Laplace bound is attained by a constant sequence.
    assert lap == pytest.approx(laplace_redundancy_bound(n, k), abs=1e-6)


def test_kt_bound_tight_at_one_symbol_and_values():
    assert kt_redundancy_bound(1, 5) == pytest.approx(
        kt_code_length_bits(np.array([1, 0, 0, 0, 0]))
    )
    assert kt_redundancy_bound(0, 4) == 0.0
    assert kt_redundancy_bound(1024, 2) == 6.0
    assert laplace_redundancy_bound(0, 3) == 0.0
    with pytest.raises(ValueError):
        kt_redundancy_bound(-1, 2)
    with pytest.raises(ValueError):
        kt_redundancy_bound(10, 0)
    with pytest.raises(TypeError):
        kt_code_length_bits([1.0, 2.0])
    with pytest.raises(ValueError):
        laplace_code_length_bits(np.array([1, -1]))
