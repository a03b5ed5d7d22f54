"""Context-modelled pruning masks (codec.coders.mask) against a slow float64 oracle of
their model, the i.i.d. bound, and bad input."""

from fractions import Fraction
from math import log2

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codec._kernels import mask as mk
from codec.coders.mask import decode_mask, encode_mask, mask_matrix_shape
from codec.errors import CodecError, CorruptStreamError, TruncatedStreamError


def structured_mask(rng, rows, cols, p):
    """Keep probability p·a_i·b_j: rows and columns of varied density, as magnitude
    pruning leaves them."""
    a = rng.lognormal(0, 0.8, rows)
    b = rng.lognormal(0, 0.8, cols)
    q = np.clip(p * np.outer(a / a.mean(), b / b.mean()), 0, 1)
    return rng.random((rows, cols)) < q


def oracle_ratio_class(count, seen, kept, n):
    """floor(log2(((count + 8p) / (seen + 8)) / p)) + 3 clamped to [0, 5], with exact
    rationals (p in the 16-bit fixed point of the format)."""
    p = Fraction(max(1, (kept << 16) // n), 1 << 16)
    x = (count + 8 * p) / (seen + 8) / p
    e = 0
    while x >= 2:
        x /= 2
        e += 1
    while x < 1:
        x *= 2
        e -= 1
    return min(max(e + 3, 0), 5)


def oracle_bits(m2d, model):
    """Ideal adaptive code length (bits) of one tensor's mask under the format's model,
    written independently of the kernel: plain Python, exact ratio classes."""
    rows, cols = m2d.shape
    n, kept = m2d.size, int(m2d.sum())
    f = {}
    row_k, col_k = [0] * rows, [0] * cols
    bits, left_n, left_k = 0.0, n, kept
    for i in range(rows):
        left = 0
        for j in range(cols):
            b = int(m2d[i, j])
            if 0 < left_k < left_n:
                if model == 0:
                    c = 0
                else:
                    rc = oracle_ratio_class(row_k[i], j, kept, n)
                    cc = oracle_ratio_class(col_k[j], i, kept, n)
                    c = (rc * 6 + cc) * 2 + left
                f0, f1 = f.get(c, (1, 1))
                bits -= log2((f1 if b else f0) / (f0 + f1))
                f0, f1 = (f0, f1 + 2) if b else (f0 + 2, f1)
                if f0 + f1 > 1 << 16:
                    f0, f1 = (f0 + 1) >> 1, (f1 + 1) >> 1
                f[c] = (f0, f1)
            left_n -= 1
            left_k -= b
            row_k[i] += b
            col_k[j] += b
            left = b
    return bits


def parse_header(blob, n_members):
    """``(kept counts, models, header bytes)`` of a mask stream (docs/format.md §9)."""
    pos, kept, models = 1, [], []
    for _ in range(n_members):
        v, shift = 0, 0
        while True:
            b = blob[pos]
            pos += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        kept.append(v)
        models.append(blob[pos])
        pos += 1
    return kept, models, pos


def entropy_bits(n, k):
    if k in (0, n):
        return 0.0
    p = k / n
    return -n * (p * log2(p) + (1 - p) * log2(1 - p))


shapes_st = st.lists(
    st.one_of(
        st.tuples(st.integers(0, 30), st.integers(0, 40)),
        st.tuples(st.integers(0, 60)),
        st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3)),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(shapes_st, st.floats(0, 1), st.integers(0, 2**32 - 1), st.booleans())
def test_round_trip(shapes, p, seed, structured):
    rng = np.random.default_rng(seed)
    parts = []
    for s in shapes:
        r, c = mask_matrix_shape(s)
        m = structured_mask(rng, r, c, p) if structured and r and c else rng.random(r * c) < p
        parts.append(m.reshape(-1))
    mask = np.concatenate(parts)
    blob = encode_mask(mask, shapes)
    back = decode_mask(blob, shapes)
    assert back.dtype == bool and back.shape == mask.shape
    assert np.array_equal(back, mask)


@pytest.mark.parametrize("seed", range(4))
def test_code_length_matches_the_oracle_of_the_chosen_model(seed):
    """The stream is the ideal code of its model (oracle above) plus a header and the flush:
    a wrong context, count or update in the kernel shows up here."""
    rng = np.random.default_rng(1000 + seed)
    shapes = [(40, 60), (70,), (12, 3, 2, 2)]
    mats = [structured_mask(rng, *mask_matrix_shape(s), 0.08) for s in shapes]
    blob = encode_mask(np.concatenate([m.reshape(-1) for m in mats]), shapes)
    kept, models, header = parse_header(blob, len(shapes))
    assert kept == [int(m.sum()) for m in mats]
    ideal = sum(oracle_bits(m, md) for m, md in zip(mats, models, strict=True))
    # each model chosen is the shorter one
    for m, md in zip(mats, models, strict=True):
        assert oracle_bits(m, md) <= oracle_bits(m, 1 - md) + 1e-9
    coded = 8 * (len(blob) - header - mk.FLUSH_BYTES)
    # the range coder may end up to a byte either side of the ideal, and loses < 2**-24
    # relative per bit
    assert ideal - 8 <= coded <= ideal + 16


def test_long_masks_rescale_the_counts_as_the_oracle_does():
    """A context's counts are halved once they sum past 2**16 (after about 32,000 bits):
    an i.i.d. mask of 200,000 bits (order-0 model, one context) halves them 5 times; its
    stream is still the oracle's code length, and it decodes."""
    rng = np.random.default_rng(21)
    m = rng.random(200_000) < 0.2
    blob = encode_mask(m, [(200_000,)])
    kept, models, header = parse_header(blob, 1)
    assert models == [mk.MODEL_ORDER0] and kept == [int(m.sum())]
    ideal = oracle_bits(m.reshape(1, -1), 0)
    coded = 8 * (len(blob) - header - mk.FLUSH_BYTES)
    assert ideal - 8 <= coded <= ideal + 8 + 1e-3 * ideal
    assert np.array_equal(decode_mask(blob, [(200_000,)]), m)


def test_rare_kept_bits_after_a_rescale_still_code():
    """A context that sees 32,769 pruned bits in a row is halved while its kept count is
    still the initial 1; halving must keep it at 1 (not 0), or the next kept bit has no
    interval. Masks with a few kept weights far apart round-trip in a few bytes."""
    for n, where in ((100_000, (50_000,)), (300_000, (70_000, 140_000, 250_000))):
        m = np.zeros(n, bool)
        m[list(where)] = True
        for shapes in ([(n,)], [(n // 1000, 1000)]):
            blob = encode_mask(m, shapes)
            assert np.array_equal(decode_mask(blob, shapes), m)
            assert len(blob) < 40 + 8 * len(where)


def test_iid_mask_costs_at_most_the_entropy_plus_learning():
    """On an i.i.d. mask the order-0 model bounds the stream: KT redundancy
    <= log2(n)/2 + 1 bits over n·H(k/n), plus header and flush."""
    rng = np.random.default_rng(7)
    for n, p in ((20000, 0.03), (5000, 0.3), (800, 0.5)):
        m = rng.random(n) < p
        blob = encode_mask(m, [(n,)])
        bound = entropy_bits(n, int(m.sum())) + 0.5 * log2(n) + 1
        assert 8 * len(blob) <= bound + 8 * (1 + 3 + mk.FLUSH_BYTES) + 8


def test_structured_mask_beats_the_iid_code():
    """Rows and columns of varied density (lognormal factors, sigma 0.8) at 5 %: the
    context model is shorter than n·H(p) by over 5 % (10.5-15 % over 20 fresh seeds)."""
    rng = np.random.default_rng(11)
    for _ in range(3):
        m = structured_mask(rng, 300, 500, 0.05)
        blob = encode_mask(m, [m.shape])
        assert parse_header(blob, 1)[1] == [mk.MODEL_ROW_COLUMN]
        assert 8 * len(blob) < 0.95 * entropy_bits(m.size, int(m.sum()))


def test_ratio_class_is_exact():
    rng = np.random.default_rng(3)
    for _ in range(3000):
        n = int(rng.integers(1, 10**7))
        kept = int(rng.integers(0, n + 1))
        seen = int(rng.integers(0, 10**5))
        count = int(rng.integers(0, seen + 1))
        p16 = mk.density_p16(kept, n)
        assert mk.ratio_class(count, seen, p16) == oracle_ratio_class(count, seen, kept, n)


def test_certain_masks_cost_only_the_header():
    shapes = [(30, 40), (50,)]
    for fill in (False, True):
        blob = encode_mask(np.full(1250, fill), shapes)
        header = parse_header(blob, 2)[2]
        assert header == (1 + 2 + 2 if not fill else 1 + 3 + 2)  # 1200 is a 2-byte varint
        assert len(blob) == header + mk.FLUSH_BYTES
        assert np.array_equal(decode_mask(blob, shapes), np.full(1250, fill))


def test_bad_arguments():
    with pytest.raises(ValueError, match="elements"):
        encode_mask(np.ones(10, bool), [(3, 3)])
    with pytest.raises(ValueError, match="non-negative"):
        mask_matrix_shape((-1, 3))


def test_truncated_and_corrupt_streams_raise_codec_errors():
    rng = np.random.default_rng(5)
    shapes = [(40, 50), (20,)]
    m = np.concatenate([structured_mask(rng, 40, 50, 0.1).reshape(-1), rng.random(20) < 0.5])
    blob = encode_mask(m, shapes)
    for cut in range(len(blob)):
        with pytest.raises((TruncatedStreamError, CorruptStreamError)):
            decode_mask(blob[:cut], shapes)
    with pytest.raises(CorruptStreamError):
        decode_mask(blob + b"\x00", shapes)
    with pytest.raises(CorruptStreamError):
        decode_mask(b"\x02" + blob[1:], shapes)  # unknown version
    bad_model = bytearray(blob)
    bad_model[parse_header(blob, 2)[2] - 1] = 7  # the last tensor's model
    with pytest.raises(CorruptStreamError):
        decode_mask(bytes(bad_model), shapes)
    with pytest.raises(CorruptStreamError):  # more kept than elements
        decode_mask(bytes([1, 0x80 | 0x7F, 0x7F, 0, 0, 0]) + bytes(8), [(3, 3), (2,)])
    # flipped bytes: an error or some mask, never a crash or a read past the end
    for _ in range(200):
        bad = bytearray(blob)
        bad[int(rng.integers(len(bad)))] ^= 1 << int(rng.integers(8))
        try:
            out = decode_mask(bytes(bad), shapes)
            assert out.shape == m.shape
        except CodecError:
            pass
