"""Entropy coders: Huffman (2), LZW (3), adaptive arithmetic (4), and the static range coder (1).

Round trips, coding bounds from docs/theory.md, byte-exact reference encoders
written from docs/format.md §5, parallel batches, and fuzzing.

The byte-exact references below use the PRODUCTION model tables
(``tokens.choose_mapping``, ``range_coder.normalize_frequencies``,
``huffman_code_lengths``): a byte match pins the layout and the coding loops,
not the quality of the model. The models are checked by independent oracles in
test_coder_oracle.py (own stream parser, own optimal 16-bit table, own heap
Huffman and package-merge).
"""

import heapq
import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import codec
from codec._kernels import bitio, range_coder, tokens
from codec._kernels import huffman as huffman_kernels
from codec._kernels import status as kernel_status
from codec._kernels.batch import fetch_add, largest_first
from codec.coders import (
    AdaptiveArithmeticCoder,
    available_coders,
    coder_by_id,
    get_coder,
    huffman_code_lengths,
    lzw_compress,
    lzw_decompress,
)
from codec.coders.base import n_workers, raise_for_status
from codec.errors import CodecError, CorruptStreamError, TruncatedStreamError

CODERS = ["arithmetic", "huffman", "lzw", "adaptive"]
_rng = np.random.default_rng(12345)

ADVERSARIAL = {
    "empty": np.array([], np.int64),
    "one": np.array([-5]),
    "repeated": np.full(10_000, 7),
    "two_values_far": np.array([5000, 5001] * 30),
    "distinct": np.arange(5000) * 3 - 7000,
    "beyond_2_16": _rng.integers(0, 2**20, 20_000),
    "huge": np.array([2**62 - 1, -(2**62), 0, 1, -1] * 50),
    "full_range": _rng.integers(-(2**62), 2**62, 2000),
    "long_runs": np.repeat(_rng.integers(-3, 3, 50), 1000),
    "skewed": (_rng.random(100_000) < 0.001).astype(np.int64),
    "skewed_far": np.where(_rng.random(30_000) < 0.01, 10**12, 0),
    "gaussian": np.round(_rng.standard_normal(100_000) * 4).astype(np.int64),
    "wide_gaussian": np.round(_rng.standard_normal(20_000) * 1e6).astype(np.int64),
}


def entropy_bits(x):
    """n times the empirical entropy of x, in bits."""
    _, c = np.unique(x, return_counts=True)
    return float(-(c * np.log2(c / c.sum())).sum())


def round_trip(coder, x):
    return coder.decode(coder.encode(x), x.size)


# ---------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(ADVERSARIAL))
@pytest.mark.parametrize("coder", CODERS)
def test_adversarial_round_trip(coder, name):
    x = ADVERSARIAL[name]
    y = round_trip(get_coder(coder), x)
    assert y.dtype == np.int64 and np.array_equal(y, x)


@pytest.mark.parametrize("coder", CODERS)
@given(x=hnp.arrays(np.int64, st.integers(0, 600), elements=st.integers(-(2**62), 2**62 - 1)))
def test_round_trip_any_int64(coder, x):
    assert np.array_equal(round_trip(get_coder(coder), x), x)


@pytest.mark.parametrize("coder", CODERS)
@given(
    x=hnp.arrays(np.int64, st.integers(1, 3000), elements=st.integers(-40, 40)),
    shift=st.integers(-(2**40), 2**40),
)
def test_round_trip_small_alphabets(coder, x, shift):
    x = x + shift
    assert np.array_equal(round_trip(get_coder(coder), x), x)


@pytest.mark.parametrize("context", ["none", "magnitude", "position", "auto"])
def test_adaptive_context_options_round_trip(context):
    c = AdaptiveArithmeticCoder(context=context, classes=5, period=7, rescale_bits=13)
    for x in (ADVERSARIAL["gaussian"], ADVERSARIAL["wide_gaussian"], ADVERSARIAL["skewed"]):
        assert np.array_equal(round_trip(c, x), x)


def test_adaptive_options_are_validated():
    with pytest.raises(ValueError):
        AdaptiveArithmeticCoder(rescale_bits=12)
    with pytest.raises(ValueError):
        AdaptiveArithmeticCoder(context="previous")
    with pytest.raises(TypeError):
        AdaptiveArithmeticCoder(classes=2.5)


@pytest.mark.parametrize("coder", CODERS)
def test_batches_are_independent_of_threads_and_plan(coder):
    """Many streams of very different sizes: same bytes with 1 or 2 threads, exact decode."""
    c = get_coder(coder)
    rng = np.random.default_rng(3)
    streams = [rng.integers(-4, 5, int(rng.integers(0, 5000))) for _ in range(13)]
    # Streams whose extra bits exceed the room reserved up front (coded again after
    # the others, see KernelCoder.encode_batch) between ordinary ones.
    streams.insert(4, ADVERSARIAL["full_range"])
    streams.insert(9, ADVERSARIAL["wide_gaussian"])
    streams += [np.array([], np.int64), np.full(9, 3), ADVERSARIAL["huge"]]
    offsets = np.zeros(len(streams) + 1, np.int64)
    np.cumsum([s.size for s in streams], out=offsets[1:])
    symbols = np.concatenate(streams)
    before = numba.get_num_threads()
    try:
        got = []
        for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(threads)
            buf, starts, lengths = c.encode_batch(symbols, offsets)
            got.append([buf[a : a + n].tobytes() for a, n in zip(starts, lengths, strict=True)])
            out = c.decode_batch(buf, starts, lengths, np.diff(offsets))
            assert np.array_equal(out, symbols)
    finally:
        numba.set_num_threads(before)
    assert got[0] == got[-1]
    for s, data in zip(streams, got[0], strict=True):
        assert data == c.encode(s)


def test_streams_are_taken_largest_first_one_thread_per_stream_at_most():
    sizes = np.array([5, 100, 3, 100, 7, 0, 50])
    assert largest_first(sizes).tolist() == [1, 3, 6, 4, 0, 2, 5]
    assert n_workers(sizes.size) == min(sizes.size, numba.get_num_threads())
    assert n_workers(1) == 1
    assert n_workers(0) == 1


@numba.njit(parallel=True)
def _take_all(n_items, n_workers, taken, times_taken, worker_of):
    for w in numba.prange(n_workers):
        while True:
            j = fetch_add(taken, 0, 1)
            if j >= n_items:
                break
            times_taken[j] += 1  # each j is handed to one worker only: no race
            worker_of[j] = w


def test_shared_counter_hands_out_every_item_once():
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        for _ in range(20):
            taken = np.zeros(1, np.int64)
            times_taken = np.zeros(5000, np.int64)
            worker_of = np.full(5000, -1, np.int64)
            _take_all(5000, 2, taken, times_taken, worker_of)
            assert (times_taken == 1).all()
            assert taken[0] == 5000 + 2  # one failed take per worker
    finally:
        numba.set_num_threads(before)


@pytest.mark.parametrize("coder", CODERS)
def test_many_small_streams_with_two_threads(coder):
    c = get_coder(coder)
    rng = np.random.default_rng(11)
    counts = rng.integers(0, 40, 600)
    offsets = np.zeros(counts.size + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    symbols = rng.integers(-3, 4, int(offsets[-1]))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        buf, starts, lengths = c.encode_batch(symbols, offsets)
        assert np.array_equal(c.decode_batch(buf, starts, lengths, counts), symbols)
    finally:
        numba.set_num_threads(before)
    for s in range(0, counts.size, 37):
        a, b = starts[s], starts[s] + lengths[s]
        assert buf[a:b].tobytes() == c.encode(symbols[offsets[s] : offsets[s + 1]])


@pytest.mark.parametrize("offsets", [[0, 5, 3, 10], [0, 20], [], [-5, 5], [[0, 10]]])
def test_encode_batch_rejects_bad_offsets(offsets):
    with pytest.raises(ValueError, match="offsets"):
        get_coder("huffman").encode_batch(np.arange(10), np.array(offsets, np.int64))


def test_decode_batch_rejects_extents_outside_the_buffer():
    c = get_coder("huffman")
    with pytest.raises(ValueError):
        c.decode_batch(np.zeros(4, np.uint8), np.array([2]), np.array([5]), np.array([3]))
    with pytest.raises(ValueError):
        c.decode_batch(np.zeros(4, np.uint8), np.array([0]), np.array([4]), np.array([-1]))
    with pytest.raises(ValueError):  # start + length overflows int64
        c.decode_batch(np.zeros(4, np.uint8), np.array([2**62]), np.array([2**62]), np.array([3]))
    with pytest.raises(ValueError):
        c.decode_batch(np.zeros(4, np.uint8), np.array([3]), np.array([2**63 - 2]), np.array([3]))


def test_registry_ids_are_fixed():
    assert {get_coder(n).coder_id for n in CODERS} == {1, 2, 3, 4}
    assert [coder_by_id(i).name for i in (1, 2, 3, 4)] == CODERS
    assert set(available_coders()) == set(CODERS)
    with pytest.raises(ValueError, match="huffman"):
        get_coder("rans")


# ---------------------------------------------------------------------------
# through codec.encode / codec.decode
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("lattice", ["Z", "D4", "E8"])
def test_codec_encode_with_each_coder_and_auto(lattice):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(40_000) * np.repeat([0.2, 2.0], 20_000)).astype(np.float32)
    opts = dict(lattice=lattice, step=0.1, seed=5, chunk_size=8192)
    reference = codec.decode(codec.encode(x, **opts))
    sizes = {}
    for name in CODERS + ["auto"]:
        blob = codec.encode(x, coder=name, **opts)
        assert np.array_equal(codec.decode(blob), reference), name
        info = codec.inspect(blob)
        assert info.coder == name
        if name != "auto":
            assert set(info.chunk_coders) == {name}
        sizes[name] = len(blob)
    # auto keeps the smallest payload per chunk; only the header's coder name differs.
    for name in CODERS:
        assert sizes["auto"] <= sizes[name] + len("auto") - len(name)


def test_auto_mixes_coders_per_chunk():
    rng = np.random.default_rng(8)
    smooth = np.round(rng.standard_normal(20_000) * 3)  # entropy coders win
    periodic = np.tile(rng.standard_normal(64).round(), 400)  # LZW wins on repeats
    x = np.concatenate([smooth, periodic]).astype(np.float64)
    blob = codec.encode(x, lattice="Z", step=1.0, dither=False, coder="auto", chunk_size=20_000)
    info = codec.inspect(blob)
    assert "lzw" in info.chunk_coders and len(set(info.chunk_coders)) > 1
    assert np.array_equal(codec.decode(blob), np.round(x))


# ---------------------------------------------------------------------------
# Huffman: code construction and length bounds
# ---------------------------------------------------------------------------
def reference_huffman_cost(counts):
    """Total weighted length of an (unlimited) Huffman code, by the classic heap merge."""
    heap = [int(c) for c in counts if c > 0]
    if len(heap) == 1:
        return heap[0]
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        cost += a + b
        heapq.heappush(heap, a + b)
    return cost


@given(hnp.arrays(np.int64, st.integers(1, 300), elements=st.integers(0, 10**6)))
def test_huffman_lengths_are_optimal_and_kraft_full(counts):
    if not counts.any():
        counts[0] = 1
    lengths = huffman_code_lengths(counts, max_bits=30)
    used = counts > 0
    assert ((lengths > 0) == used).all()
    kraft = sum(2.0 ** -int(b) for b in lengths[used])
    if used.sum() > 1:
        assert kraft == 1.0  # a full tree
        assert int((counts * lengths).sum()) == reference_huffman_cost(counts)
    else:
        assert lengths[used].tolist() == [1]


@given(
    hnp.arrays(np.int64, st.integers(2, 6), elements=st.integers(1, 1000)),
    st.integers(3, 4),
)
@settings(max_examples=30)
def test_length_limited_code_is_optimal_by_brute_force(counts, max_bits):
    lengths = huffman_code_lengths(counts, max_bits=max_bits)
    assert lengths.max() <= max_bits
    assert sum(2.0 ** -int(b) for b in lengths) <= 1.0
    best = math.inf
    for combo in np.ndindex(*([max_bits] * counts.size)):
        ls = np.array(combo) + 1
        if (2.0**-ls).sum() <= 1.0:
            best = min(best, int((ls * counts).sum()))
    assert int((lengths * counts).sum()) == best


def test_length_limit_binds_on_fibonacci_counts():
    fib = [1, 1]
    while len(fib) < 25:
        fib.append(fib[-1] + fib[-2])
    counts = np.array(fib)
    assert reference_huffman_cost(counts) < int((counts * huffman_code_lengths(counts)).sum())
    lengths = huffman_code_lengths(counts)
    assert lengths.max() == huffman_kernels.MAX_CODE_BITS  # unlimited Huffman needs 24 bits here
    assert sum(2.0 ** -int(b) for b in lengths) <= 1.0
    x = np.random.default_rng(1).permutation(np.repeat(np.arange(25), counts))
    assert np.array_equal(round_trip(get_coder("huffman"), x), x)


def huffman_header_bytes(blob):
    """Bytes before the coded bits of a Huffman stream (kind, offset, flags, A, length table)."""
    buf = np.frombuffer(blob, np.uint8)
    _, pos = bitio.read_varint(buf, 1, buf.size)
    alphabet, pos = bitio.read_varint(buf, pos + 1, buf.size)
    _, pos = huffman_kernels.read_length_table(
        buf, pos, buf.size, alphabet, huffman_kernels.MAX_CODE_BITS
    )
    return pos


def test_huffman_codes_longer_than_the_primary_table_round_trip():
    """Codes of 12-15 bits (longer than the decoder's 11-bit primary table) take the
    decoder's slow path; counts 2^(15-k) give symbol k a code of about k bits. A wrong
    shift there survived the coders' mutation selection (docs/testing.md)."""
    counts = [1 << (15 - k) for k in range(1, 16)] + [1]
    x = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    x = x[np.random.default_rng(0).permutation(x.size)]
    lengths = huffman_code_lengths(np.array(counts, np.int64))
    assert lengths.max() == 15 and (lengths > 11).sum() >= 4  # the slow path is used
    c = get_coder("huffman")
    np.testing.assert_array_equal(c.decode(c.encode(x), x.size), x)


@given(
    hnp.arrays(np.int64, st.integers(2, 4000), elements=st.integers(-30, 30)),
    st.sampled_from(["uniform", "square", "geometric"]),
)
def test_huffman_payload_within_one_bit_of_entropy(x, shape):
    if shape == "square":
        x = x * np.abs(x) // 8
    elif shape == "geometric":
        x = np.floor(np.log2(np.abs(x) + 1)).astype(np.int64)
    if np.unique(x).size < 2:
        return
    blob = get_coder("huffman").encode(x)
    counts = np.unique(x, return_counts=True)[1]
    # Production lengths: this pins the stream = table + payload layout; the payload's
    # optimality against independent constructions is in test_coder_oracle.py.
    lengths = huffman_code_lengths(counts)
    payload = int((counts * lengths).sum())
    # The stream holds exactly the table and the payload bits, zero-padded to a byte.
    assert len(blob) == huffman_header_bytes(blob) + (payload + 7) // 8
    h = entropy_bits(x)
    assert h - 1e-9 <= payload < h + x.size


def test_huffman_decoder_handles_long_codes():
    """Codes longer than the 11-bit primary table go through the canonical fallback."""
    rng = np.random.default_rng(4)
    x = np.minimum(rng.geometric(0.45, 200_000), 60)
    assert huffman_code_lengths(np.bincount(x)).max() > huffman_kernels.PRIMARY_BITS
    assert np.array_equal(round_trip(get_coder("huffman"), x), x)


@pytest.mark.parametrize("p_zero", [0.5, 0.97, 0.999])
def test_huffman_decoder_multi_symbol_lookups_at_every_length(p_zero):
    """Skewed streams (up to four codes per table lookup) of every length from 1 to 60,
    with one large value (a token with extra bits: the slow path), so that the fast path,
    the tail of the last three symbols and the slow path meet in many arrangements."""
    rng = np.random.default_rng(int(p_zero * 1000))
    c = get_coder("huffman")
    for n in range(1, 61):
        x = np.where(rng.random(n) < p_zero, 0, rng.integers(-3, 4, n))
        if n > 8:
            x[rng.integers(0, n)] = 10**6
        assert np.array_equal(round_trip(c, x), x), n


# ---------------------------------------------------------------------------
# byte-exact reference encoders from docs/format.md §5
# ---------------------------------------------------------------------------
def _varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _zigzag(v):
    return (v << 1) ^ (v >> 63)


def _gamma(m):
    m = int(m)
    return "0" * (m.bit_length() - 1) + format(m, "b")


def _bits_to_bytes(bits):
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))


def _tokens(x):
    # Production mapping choice (median estimate): shared, see the module docstring.
    offset, use_zz = tokens.choose_mapping(x)
    us = [int(tokens.to_unsigned(v, offset, use_zz)) for v in x]
    toks = []
    for u in us:
        if u < tokens.DIRECT_TOKENS:
            toks.append((u, 0, ""))
        else:
            nb = u.bit_length()
            toks.append((tokens.DIRECT_TOKENS + nb - 13, nb - 1, format(u, "b")[1:]))
    head = _varint(_zigzag(int(offset))) + bytes([int(use_zz)])
    return toks, head


def reference_huffman(x):
    """Huffman bytes from §5 with production's code lengths (their optimality is checked
    against a heap Huffman / package-merge oracle in test_coder_oracle.py)."""
    toks, head = _tokens(x)
    alphabet = max(t for t, _, _ in toks) + 1
    counts = np.bincount([t for t, _, _ in toks], minlength=alphabet)
    lengths = huffman_code_lengths(counts)
    table, run, prev = "", 0, 0
    for b in lengths:
        if b == 0:
            run += 1
            continue
        table += _gamma(run + 1) + _gamma(_zigzag(int(b) - prev) + 1)
        run, prev = 0, int(b)
    # canonical codes: by (length, token)
    code, codes = 0, {}
    order = sorted((int(b), t) for t, b in enumerate(lengths) if b)
    last_len = order[0][0]
    for b, t in order:
        code <<= b - last_len
        last_len = b
        codes[t] = format(code, f"0{b}b")
        code += 1
    bits = "".join(codes[t] + extra for t, _, extra in toks)
    return b"\x01" + head + _varint(alphabet) + _bits_to_bytes(table) + _bits_to_bytes(bits)


def reference_lzw(x):
    toks, head = _tokens(x)
    alphabet = max(t for t, _, _ in toks) + 1
    dictionary = {(t,): t for t in range(alphabet)}
    bits, j, w = [], 0, (toks[0][0],)
    for t, _, _ in toks[1:]:
        if w + (t,) in dictionary:
            w = w + (t,)
            continue
        d = alphabet + j
        bits.append(format(dictionary[w], f"0{max(1, (d - 1).bit_length())}b"))
        if d < 1 << 16:
            dictionary[w + (t,)] = d
            j += 1
        else:
            dictionary = {(s,): s for s in range(alphabet)}
            j = 0
        w = (t,)
    d = alphabet + j
    bits.append(format(dictionary[w], f"0{max(1, (d - 1).bit_length())}b"))
    extras = "".join(e for _, _, e in toks)
    out = b"\x01" + head + _varint(alphabet) + _bits_to_bytes("".join(bits))
    return out + (_bits_to_bytes(extras) if extras else b"")


def reference_range_coder(x):
    """The static range coder's bytes with the coding loop of §5 in exact integers.

    The frequency table is production's ``normalize_frequencies`` (byte-exactness
    needs the same table); its quality is tested in test_coder_oracle.py.
    """
    toks, head = _tokens(x)
    counts = np.bincount([t for t, _, _ in toks])
    freq = range_coder.normalize_frequencies(counts, range_coder.PROB_BITS)
    cum = np.concatenate([[0], np.cumsum(freq)])
    table = "".join(
        _gamma(run + 1) + _gamma(int(f))
        for run, f in zip(
            np.diff(np.concatenate([[-1], np.flatnonzero(freq)])) - 1, freq[freq > 0], strict=True
        )
    )
    out, low, rng = bytearray(), 0, 2**32 - 1

    def interval(c, f, s):
        nonlocal low, rng
        r = rng >> s
        low += c * r
        rng = f * r
        if low >= 2**32:
            low -= 2**32
            j = len(out) - 1
            while out[j] == 0xFF:
                out[j] = 0
                j -= 1
            out[j] += 1
        while rng < 2**24:
            out.append(low >> 24)
            low = (low << 8) & 0xFFFFFFFF
            rng <<= 8

    for t, nb, extra in toks:
        interval(int(cum[t]), int(freq[t]), 16)
        while nb > 0:
            k = min(nb, 16)
            nb -= k
            interval(int(extra[:k], 2), 1, k)
            extra = extra[k:]
    for _ in range(4):
        out.append(low >> 24)
        low = (low << 8) & 0xFFFFFFFF
    return b"\x01" + head + _varint(len(cum) - 1) + _bits_to_bytes(table) + bytes(out)


REFERENCES = {
    "huffman": reference_huffman,
    "lzw": reference_lzw,
    "arithmetic": reference_range_coder,
}


@pytest.mark.parametrize("coder", list(REFERENCES))
@given(
    x=hnp.arrays(np.int64, st.integers(2, 400), elements=st.integers(-6, 6))
    | hnp.arrays(np.int64, st.integers(2, 60), elements=st.integers(-(2**62), 2**62 - 1))
)
@settings(max_examples=25)
def test_bytes_match_the_reference_encoder(coder, x):
    if np.unique(x).size < 2:
        return
    assert get_coder(coder).encode(x) == REFERENCES[coder](x)


@pytest.mark.parametrize("dominant", [-3, 0, 3])  # lowest, middle, highest token
@pytest.mark.parametrize("p_other", [0.9, 0.05, 0.003])
def test_skewed_range_coder_bytes_match_the_reference(dominant, p_other):
    """Skewed streams, where a dominant highest token sits at the top of the interval
    and carries often: the same bytes as the exact-integer reference."""
    rng = np.random.default_rng(abs(dominant) * 7 + int(p_other * 1000))
    x = np.where(rng.random(20_000) < p_other, rng.integers(-3, 4, 20_000), dominant)
    blob = get_coder("arithmetic").encode(x)
    assert blob == reference_range_coder(x)
    assert np.array_equal(get_coder("arithmetic").decode(blob, x.size), x)


def test_lzw_reference_through_a_dictionary_reset():
    rng = np.random.default_rng(9)
    x = rng.integers(0, 64, 150_000)  # > 2**16 codes: at least one reset
    blob = get_coder("lzw").encode(x)
    assert blob == reference_lzw(x)
    assert np.array_equal(get_coder("lzw").decode(blob, x.size), x)


# ---------------------------------------------------------------------------
# adaptive arithmetic coding
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("k", [2, 5, 16, 40])
@pytest.mark.parametrize("n", [100, 20_000])
@pytest.mark.parametrize("shape", ["uniform", "geometric", "one_dominant"])
def test_adaptive_kt_redundancy_bound(k, n, shape):
    r"""i.i.d. data: total bits − n·Ĥ (empirical entropy) ≤ (K−1)/2·log2 n + C_K + overhead.

    C_K = max(0, log2(Γ(1/2)^K / Γ(K/2))) + 2 is the KT estimator's constant,
    the overhead is the stream header plus the 7 flush bytes of the coder.
    """
    rng = np.random.default_rng(k * n)
    p = {
        "uniform": np.ones(k),
        "geometric": 0.5 ** np.arange(k),
        "one_dominant": np.r_[1e3, np.ones(k - 1)],
    }[shape]
    x = rng.choice(k, n, p=p / p.sum())
    x[0], x[-1] = 0, k - 1  # alphabet exactly k tokens
    blob = get_coder("adaptive").encode(x)
    header = 1 + 1 + 1 + 1 + 2  # kind, zigzag(offset = 0), flags, A, R, mode
    c_k = max(0.0, (k * math.lgamma(0.5) - math.lgamma(k / 2)) / math.log(2)) + 2
    bound = (k - 1) / 2 * math.log2(n) + c_k + 8 * (header + 7)
    assert 8 * len(blob) - entropy_bits(x) <= bound


def test_adaptive_follows_a_drifting_source():
    """Variance switching every 25 000 symbols: halving the counts pays off."""
    rng = np.random.default_rng(2)
    scale = np.repeat(rng.permutation([0.5, 6.0] * 6), 25_000)
    x = np.round(rng.standard_normal(scale.size) * scale).astype(np.int64)
    static = len(get_coder("arithmetic").encode(x))
    adaptive = len(get_coder("adaptive").encode(x))
    frozen = len(AdaptiveArithmeticCoder(rescale_bits=24).encode(x))
    assert 8 * (static - adaptive) / x.size > 0.1  # measured: 0.19 bit/symbol
    assert adaptive < frozen


def test_adaptive_sends_no_table():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 200, 300)
    assert len(get_coder("adaptive").encode(x)) < len(get_coder("arithmetic").encode(x))


# ---------------------------------------------------------------------------
# LZW
# ---------------------------------------------------------------------------
def test_lzw_excess_rate_decreases_with_length():
    """Stationary i.i.d. source: bits/symbol − H falls at n = 10^4, 10^5, 10^6."""
    rng = np.random.default_rng(0)
    p = 0.5 ** np.arange(1, 12)
    p /= p.sum()
    h = float(-(p * np.log2(p)).sum())
    x = rng.choice(p.size, 10**6, p=p)
    excess = [8 * len(get_coder("lzw").encode(x[:n])) / n - h for n in (10**4, 10**5, 10**6)]
    assert excess[0] > excess[1] > excess[2] > 0


@given(st.binary(max_size=3000))
def test_lzw_bytes_round_trip(data):
    assert lzw_decompress(lzw_compress(data)) == data


def test_lzw_bytes_compress_text_and_guard_size():
    text = b"TOBEORNOTTOBEORTOBEORNOT#" * 400
    blob = lzw_compress(text)
    assert len(blob) < len(text) / 8
    assert lzw_decompress(bytearray(blob)) == text
    with pytest.raises(ValueError):
        lzw_decompress(blob, max_size=100)
    with pytest.raises(CodecError):
        lzw_decompress(blob + b"\x00")
    with pytest.raises(CorruptStreamError):
        lzw_decompress(b"\xff\xff\xff\xff\x7f")  # announces far more than 5 bytes can hold
    with pytest.raises(TruncatedStreamError):
        lzw_decompress(b"\xff\xff")  # the size varint runs past the end
    with pytest.raises(TruncatedStreamError):
        lzw_decompress(blob[:-1])


def test_kernel_statuses_map_to_exceptions():
    raise_for_status(kernel_status.OK, "x")
    raise_for_status(np.zeros(3, np.int64), "x")
    with pytest.raises(TruncatedStreamError, match="x: stream 1 is truncated"):
        raise_for_status(np.array([kernel_status.OK, kernel_status.TRUNCATED]), "x")
    with pytest.raises(CorruptStreamError, match="x: stream 0 is corrupt"):
        raise_for_status(kernel_status.CORRUPT, "x")
    codes = {kernel_status.OK, kernel_status.TRUNCATED, kernel_status.CORRUPT}
    assert len(codes) == 3 and kernel_status.OK == 0


# ---------------------------------------------------------------------------
# corrupt and truncated input
# ---------------------------------------------------------------------------
FUZZ_INPUT = np.concatenate(
    [np.round(np.random.default_rng(5).standard_normal(1500) * 3), [2**40, -(2**45), 7777]]
).astype(np.int64)


@pytest.mark.parametrize("coder", CODERS)
def test_every_truncation_raises(coder):
    c = get_coder(coder)
    blob = c.encode(FUZZ_INPUT)
    for cut in range(len(blob)):
        with pytest.raises(CodecError):
            c.decode(blob[:cut], FUZZ_INPUT.size)
    with pytest.raises(CodecError):
        c.decode(blob + b"\x00", FUZZ_INPUT.size)


@pytest.mark.parametrize("coder", CODERS)
@given(data=st.data())
def test_bit_flips_never_crash(coder, data):
    c = get_coder(coder)
    blob = bytearray(c.encode(FUZZ_INPUT))
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] ^= 1 << data.draw(st.integers(0, 7))
    try:
        out = c.decode(bytes(blob), FUZZ_INPUT.size)
    except CodecError:
        return
    assert out.shape == FUZZ_INPUT.shape


@pytest.mark.parametrize("coder", CODERS)
@given(data=st.binary(max_size=300), n=st.integers(0, 2000), kind=st.sampled_from([None, 0, 1, 2]))
def test_random_bytes_never_crash(coder, data, n, kind):
    if kind is not None:  # steer past the kind byte into the table and coder parsing
        data = bytes([kind]) + data
    try:
        out = get_coder(coder).decode(data, n)
    except CodecError:
        return
    assert out.size == n


@given(data=st.binary(max_size=200))
def test_lzw_decompress_random_bytes(data):
    try:
        lzw_decompress(data, max_size=1 << 20)
    except (CodecError, ValueError):
        pass
