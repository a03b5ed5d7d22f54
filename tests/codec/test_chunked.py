"""codec.encode/decode run chunk group by chunk group; the bytes are those of the
whole-array path and never depend on the thread count (docs/architecture.md)."""

import numba
import numpy as np
import pytest

import codec
from codec.quantized import read_quantized

CASES = [
    {"lattice": "E8", "step": 0.3, "seed": 4},
    {"lattice": "Z", "step": 0.3, "dither": False, "coder": "auto"},
    {"lattice": "D4", "step": 0.3, "coder": "huffman"},
    {"quantizer": "kmeans", "levels": 6, "method": "lloyd", "coder": "lzw"},
    {"quantizer": "tcq", "states": 8, "step": 0.3},
    {"quantizer": "vq", "levels": 16, "coder": "adaptive"},
]


@pytest.mark.parametrize("opts", CASES, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_chunk_groups_give_the_whole_array_bytes(opts):
    x = np.random.default_rng(9).standard_normal((37, 301)).astype(np.float32)
    kw = dict(opts, chunk_size=512)  # 22 chunks: several groups at any thread count
    whole = codec.quantize(x, **kw)
    blobs = set()
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            blobs.add(codec.encode(x, **kw))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert blobs == {whole.to_bytes()}
    blob = blobs.pop()
    y = codec.decode(blob)
    assert np.array_equal(y, whole.reconstruct())
    assert np.array_equal(y, read_quantized(blob, max_elements=None).reconstruct())


def test_chunk_groups_with_several_indices_per_element_block():
    """PQ/RVQ blocks carry stages x subspaces indices: per-chunk decoding slices by chunk."""
    x = np.random.default_rng(2).standard_normal(5000)
    kw = {"quantizer": "rvq", "subvector": 2, "levels": 8, "stages": 2, "chunk_size": 256}
    whole = codec.quantize(x, **kw)
    assert codec.encode(x, **kw) == whole.to_bytes()
    assert np.array_equal(codec.decode(whole.to_bytes()), whole.reconstruct())
