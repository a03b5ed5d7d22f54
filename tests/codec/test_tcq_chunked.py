"""TCQ encoded chunk by chunk: the code-length model comes from the design data (the
whole array up to two chunks, else the one-chunk sample), each chunk's points depend on
that chunk alone, bytes never depend on the thread count, and the decoder's trellis
walk agrees with a plain-Python walk on any stream."""

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import codec
from codec.chunked import encode_chunks
from codec.errors import CorruptStreamError
from codec.quantized import QuantizedArray
from codec.quantizers.tcq import (
    TRELLIS_MASKS,
    TrellisModel,
    TrellisQuantizer,
    tcq_design,
    tcq_from_streams,
    tcq_quantize,
    tcq_reconstruct,
)
from codec.rate_control import sample_positions


def _whole_array_bytes(x, states, step, chunk, weights=None):
    """The encoder before TCQ was chunk-local: the model fitted on all of ``x``, in one piece."""
    flat = np.ascontiguousarray(x).reshape(-1)
    q = TrellisQuantizer(states, step)  # no design values: fits on what it is given
    assert not q.chunk_local
    qa = QuantizedArray.from_values(
        q, flat.astype(np.float64), x.shape, x.dtype.name, flat.size, chunk, "arithmetic", weights
    )
    return qa.to_bytes()


@pytest.mark.parametrize(
    "n, chunk, states",
    [(61, 1 << 20, 8), (3000, 2048, 4), (4096, 2048, 256), (2500, 2048, 8)],
)
def test_arrays_of_at_most_two_chunks_keep_the_whole_array_bytes(n, chunk, states):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    w = np.random.default_rng(1).uniform(0.5, 2.0, n)
    for weights in (None, w):
        blob = codec.encode(
            x, quantizer="tcq", states=states, step=0.1, chunk_size=chunk, weights=weights
        )
        assert blob == _whole_array_bytes(x, states, 0.1, chunk, weights)


def test_exact_designs_on_the_whole_array():
    x = np.random.default_rng(3).standard_normal(20000)
    kw = {"quantizer": "tcq", "states": 8, "step": 0.1, "chunk_size": 2048}
    # exact=True: model passes on all 20000 elements (<= 2 * 2**18), trellis restarting
    # every chunk, as the whole-array encoder did.
    assert codec.encode(x, exact=True, **kw) == _whole_array_bytes(x, 8, 0.1, 2048)
    blob = codec.encode(x, exact=True, quantizer="tcq", rate=3.0, chunk_size=2048)
    assert 8 * len(blob) / x.size == pytest.approx(3.0, abs=0.005)


def test_larger_arrays_take_the_model_from_the_design_sample():
    n, chunk, step = 20000, 2048, 0.15
    x = np.random.default_rng(4).standard_normal(n)
    blob = codec.encode(x, quantizer="tcq", states=8, step=step, chunk_size=chunk)
    # The one-chunk sample of codec.encode, and the model fitted on it alone.
    sample = x[sample_positions(n, chunk, 1)]
    model = tcq_design(sample, step, 8, chunk_elements=chunk)
    expect = tcq_quantize(x, step, 8, chunk_elements=chunk, model=model)
    np.testing.assert_array_equal(codec.decode(blob), tcq_reconstruct(expect, step))
    assert blob != _whole_array_bytes(x, 8, step, chunk)  # another model, other bytes


def test_each_chunk_depends_on_its_own_values_alone():
    x = np.random.default_rng(5).standard_normal(10000)
    chunk = 1024
    q = TrellisQuantizer(8, 0.2, design_values=x[:3000])
    whole = q.quantize(x, chunk)
    for a in range(0, x.size, 3 * chunk):  # groups of three chunks, the last one short
        np.testing.assert_array_equal(
            q.quantize(x[a : a + 3 * chunk], chunk, first=a), whole[a : a + 3 * chunk]
        )
    # Changing one chunk's values changes no other chunk's points.
    y = x.copy()
    y[2 * chunk : 3 * chunk] *= 3.0
    other = q.quantize(y, chunk)
    changed = np.flatnonzero(other != whole)
    assert changed.size and changed.min() >= 2 * chunk and changed.max() < 3 * chunk


def test_quantizer_with_a_given_model():
    x = np.random.default_rng(6).standard_normal(5000)
    model = tcq_design(x, 0.2, 8)
    assert isinstance(model, TrellisModel) and model.lam == pytest.approx(0.4 * 0.2**2)
    q = TrellisQuantizer(8, 0.2, model=model)
    assert q.chunk_local and q.model(512) is model
    np.testing.assert_array_equal(
        q.quantize(x, 512), tcq_quantize(x, 0.2, 8, chunk_elements=512, model=model)
    )
    with pytest.raises(ValueError, match="not both"):
        TrellisQuantizer(8, 0.2, model=model, design_values=x)
    with pytest.raises(ValueError, match="no design values"):
        TrellisQuantizer(8, 0.2).model(512)


def test_single_pass_model_is_the_plain_search():
    x = np.random.default_rng(7).standard_normal(3000)
    model = tcq_design(x, 0.2, 8, passes=1)
    assert model.costs is None and model.lam == 0.0
    np.testing.assert_array_equal(
        tcq_quantize(x, 0.2, 8, model=model), tcq_quantize(x, 0.2, 8, passes=1)
    )


def test_design_sample_errors_name_the_index_in_the_array():
    x = np.zeros(20000)
    x[15910] = np.nan  # the sample's two blocks of 4096 start at 0 and 20000 - 4096
    with pytest.raises(ValueError, match="index 15910"):
        tcq_design(x, 0.1, 8, sample_elements=8192)
    x[5000] = np.inf  # outside the sample: the design does not see it, quantizing does
    with pytest.raises(ValueError, match="index 5000"):
        tcq_quantize(x, 0.1, 8, sample_elements=8192)
    with pytest.raises(ValueError, match="weights have 3 elements"):
        tcq_design(np.zeros(10), 0.1, 8, weights=np.ones(3))


def test_chunk_groups_do_not_depend_on_the_thread_count():
    """More than two chunks (sample design), several groups, weights and a rate target."""
    x = np.random.default_rng(8).standard_normal(30000).astype(np.float32)
    w = np.random.default_rng(9).uniform(0.5, 2.0, x.size)
    kw = {"quantizer": "tcq", "states": 8, "rate": 2.5, "weights": w, "chunk_size": 2048}
    blobs = set()
    before = numba.get_num_threads()
    try:
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(threads)
            blobs.add(codec.encode(x, **kw))
    finally:
        numba.set_num_threads(before)
    assert len(blobs) == 1
    # ... and equal the whole array quantized by the same quantizer at once.
    assert blobs == {codec.quantize(x, **kw).to_bytes()}


def test_encode_chunks_with_a_fixed_model_matches_quantize():
    x = np.random.default_rng(10).standard_normal(9000)
    q = TrellisQuantizer(8, 0.2, model=tcq_design(x, 0.2, 8))
    blob = encode_chunks(q, x, x.shape, "float64", 1024, "arithmetic", None)
    np.testing.assert_array_equal(codec.decode(blob), tcq_reconstruct(q.quantize(x, 1024), 0.2))


# -- the decoder's trellis walk against a plain-Python walk ---------------------------
def _parity(v):
    return bin(v).count("1") & 1


def _reference_walk(states, stream0, stream1, n):
    """The points of one chunk from its two streams, or None where the kernel must refuse."""
    h0, h1 = TRELLIS_MASKS[states]
    p = [0, 0]
    streams = (stream0, stream1)
    s, out = 0, []
    for _ in range(n):
        u = _parity(s & h0)
        if p[u] >= len(streams[u]):
            return None
        i = streams[u][p[u]]
        p[u] += 1
        if abs(i) > 2**60:
            return None
        out.append(2 * i + u)
        s = ((s << 1) | ((i & 1) ^ _parity(s & h1))) % states
    return out if p == [len(stream0), len(stream1)] else None


@given(
    st.sampled_from([4, 8, 256]),
    st.lists(
        st.integers(-3, 3) | st.sampled_from([2**60, -(2**60), 2**60 + 1, -(2**61)]), max_size=30
    ),
    st.integers(0, 30),
    st.integers(1, 30),
)
def test_decoder_walk_matches_a_plain_python_walk(states, symbols, split, n):
    split = min(split, len(symbols))
    s0, s1 = symbols[:split], symbols[split:]
    expect = _reference_walk(states, s0, s1, n)
    offsets = np.array([0, split, len(symbols)], np.int64)
    try:
        got = tcq_from_streams(np.array(symbols, np.int64), offsets, states, n, max(n, 1))
    except CorruptStreamError:
        assert expect is None
        return
    assert got.tolist() == expect


def test_encode_groups_bound_the_survivor_memory():
    """A chunk per thread up to 64 states (8 bytes of survivors per element); 128 and 256
    states (16 and 32 bytes) group by streams like the other quantizers."""
    from codec.chunked import encode_group_chunks, group_chunks

    x = np.zeros(10)
    for states, parallel in ((4, True), (64, True), (128, False), (256, False)):
        q = TrellisQuantizer(states, 0.1, design_values=x)
        assert q.parallel_chunks is parallel
        expect = group_chunks(1) if parallel else group_chunks(q.streams_per_chunk)
        assert encode_group_chunks(q) == expect
