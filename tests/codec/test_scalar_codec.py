"""Scalar codebook quantizers through codec.encode / codec.decode (uniform, ECSQ, k-means)."""

import math

import numpy as np
import pytest

import codec
from codec import container
from codec.errors import CodecError
from codec.quantizers.codebook import CodebookQuantizer

SCALAR = [
    ("uniform", {"step": 0.1}),
    ("uniform", {"step": 0.1, "dead_zone": 0.5}),
    ("ecsq", {"rate": 3.0}),
    ("ecsq", {"lam": 0.01, "method": "clg"}),
    ("kmeans", {"levels": 16}),
    ("kmeans", {"levels": 8, "method": "lloyd"}),
]


@pytest.mark.parametrize("quantizer, opts", SCALAR)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (0,), (1,), (5, 7), (3, 1, 20)])
def test_round_trip_every_quantizer_shape_dtype(quantizer, opts, dtype, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    blob = codec.encode(x, quantizer=quantizer, **opts)
    y = codec.decode(blob)
    assert y.shape == x.shape and y.dtype == x.dtype
    q = codec.quantize(x, quantizer=quantizer, **opts)
    assert np.array_equal(q.reconstruct(), y, equal_nan=True)
    info = codec.inspect(blob)
    assert info.quantizer == "scalar" and info.lattice is None


@pytest.mark.parametrize("quantizer, opts", SCALAR)
def test_reconstruction_is_a_codebook_level(quantizer, opts):
    x = np.random.default_rng(1).standard_normal(3000)
    q = codec.quantize(x, quantizer=quantizer, **opts)
    y = codec.decode(q.to_bytes())
    assert np.isin(y, q.shared_values).all()
    assert np.mean((y - x) ** 2) < 0.1


@pytest.mark.filterwarnings("ignore:could not reach the rate target")
def test_ecsq_gap_to_gaussian_rd_on_real_bytes():
    x = np.random.default_rng(7).standard_normal(2**19)
    for rate in (3.0, 4.0, 5.0, 6.0):
        blob = codec.encode(x, quantizer="ecsq", rate=rate)
        bits = 8 * len(blob) / x.size
        mse = float(np.mean((codec.decode(blob) - x) ** 2))
        gap = bits - 0.5 * math.log2(1.0 / mse)
        assert abs(bits - rate) < 0.02
        assert -0.01 <= gap <= 0.27, (rate, gap)


def test_ecsq_on_laplacian_stays_above_the_slb():
    b = 1.0
    x = np.random.default_rng(8).laplace(scale=b, size=2**17)
    h = math.log2(2 * math.e * b)
    for rate in (2.0, 4.0):
        blob = codec.encode(x, quantizer="ecsq", rate=rate)
        bits = 8 * len(blob) / x.size
        mse = float(np.mean((codec.decode(blob) - x) ** 2))
        assert bits >= h - 0.5 * math.log2(2 * math.pi * math.e * mse)


def test_hessian_weighted_kmeans_lowers_weighted_distortion():
    rng = np.random.default_rng(9)
    x = rng.standard_normal(20_000)
    h = np.where(np.abs(x) > 1.0, 50.0, 1.0) * rng.uniform(0.5, 1.5, x.size)
    plain = codec.decode(codec.encode(x, quantizer="kmeans", levels=8))
    weighted = codec.decode(codec.encode(x, quantizer="kmeans", levels=8, weights=h))
    wd = lambda y: float(np.sum(h * (y - x) ** 2) / h.sum())  # noqa: E731
    assert wd(weighted) < wd(plain)


def test_fine_tuned_levels_travel_in_the_stream():
    x = np.random.default_rng(2).standard_normal(5000).astype(np.float32)
    q = codec.quantize(x, quantizer="kmeans", levels=4)
    new = q.shared_values + 0.125
    y = codec.decode(q.with_shared_values(new).to_bytes())
    assert np.array_equal(y, (new[q.indices]).astype(np.float32))


def test_codebook_shared_values_need_one_value_per_level():
    # CodebookQuantizer is public: its own check, not only QuantizedArray's, must refuse a
    # table that is longer (extra levels no index reaches) or shorter than the codebook.
    q = CodebookQuantizer(np.array([-1.0, 0.0, 1.0]))
    assert q.with_shared_values(0, np.array([-2.0, 0.0, 2.0])).levels.tolist() == [-2, 0, 2]
    for bad in (np.zeros(2), np.zeros(4)):
        with pytest.raises(ValueError, match="expected 3 levels"):
            q.with_shared_values(0, bad)
    with pytest.raises(ValueError, match="starting at index 0"):
        q.with_shared_values(1, np.zeros(3))


@pytest.mark.parametrize("quantizer, method", [("ecsq", "dp"), ("kmeans", "dp")])
def test_default_design_method_is_the_exact_dp(quantizer, method):
    # method=None is the exact dynamic programme (the first of each designer's methods in
    # codec/quantizers/codebook.py), not CLG / Lloyd
    x = np.random.default_rng(4).standard_normal(2000)
    opts = {"lam": 0.01} if quantizer == "ecsq" else {"levels": 4}
    q = codec.quantize(x, quantizer=quantizer, **opts).quantizer
    assert q.method == f"{quantizer}-{method}"


def _forge(blob, quantizer_fields=None, extras=None):
    """The stream with its quantizer's header fields and/or extras replaced (CRCs redone)."""
    parsed = container.parse(blob)
    qz = parsed.quantizer
    fields = container.common_fields(qz.kind_code, parsed.layout) + (
        qz.header_fields() if quantizer_fields is None else quantizer_fields
    )
    chunks = [(e.coder_id, blob[e.offset : e.offset + e.length]) for e in parsed.chunks]
    return container.pack_fields(fields, qz.extras() if extras is None else extras, chunks)


def test_corrupt_codebooks_raise():
    x = np.random.default_rng(3).standard_normal(2000)
    blob = codec.encode(x, quantizer="kmeans", levels=8)
    qz = container.parse(blob).quantizer
    levels = qz.levels
    seven = CodebookQuantizer(levels[:7], method=qz.method, level_dtype=qz.level_dtype)
    cases = [
        _forge(blob, seven.header_fields()),  # count does not match the extras
        _forge(blob, extras=qz.extras()[:-8]),
        _forge(blob, seven.header_fields(), seven.extras()),  # index 7 out of range
        _forge(blob, extras=np.where(levels > 0, np.nan, levels).astype(qz.level_dtype).tobytes()),
        _forge(blob, qz.header_fields()[:-1] + bytes([7])),  # no such level dtype
        _forge(blob, seven.header_fields()[:-2] + bytes([0, 2]), b""),  # zero levels
    ]
    for bad in cases:
        with pytest.raises(CodecError):
            codec.decode(bad)


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"quantizer": "kmeans"}, None),  # default target works
        ({"quantizer": "kmeans", "step": 0.1}, ValueError),
        ({"quantizer": "kmeans", "levels": 0}, ValueError),
        ({"quantizer": "kmeans", "levels": 4, "rate": 2}, ValueError),
        ({"quantizer": "ecsq", "levels": 4}, ValueError),
        ({"quantizer": "uniform", "lam": 0.1}, ValueError),
        ({"quantizer": "uniform", "step": 0.1, "dither": True}, ValueError),
        ({"quantizer": "ecsq", "lattice": "E8"}, ValueError),
        ({"quantizer": "ecsq", "method": "lloyd"}, ValueError),
        ({"quantizer": "kmeans", "levels": 4, "weights": np.ones(3)}, ValueError),
        ({"quantizer": "kmeans", "levels": 4, "weights": -np.ones(10)}, ValueError),
        ({"lattice": "E8", "weights": np.ones(10)}, ValueError),
        ({"lattice": "E8", "dead_zone": 0.5}, ValueError),
        ({"quantizer": "no-such-quantizer"}, ValueError),
        ({"quantizer": "ecsq", "lam": 0.01, "max_levels": 8}, None),
        ({"quantizer": "kmeans", "rate": 1.0, "max_levels": 8}, None),
        ({"max_levels": 8}, ValueError),
        ({"quantizer": "uniform", "step": 0.1, "max_levels": 8}, ValueError),
        ({"quantizer": "kmeans", "levels": 4, "max_levels": 8}, ValueError),
        ({"quantizer": "ecsq", "max_levels": 0}, ValueError),
        ({"quantizer": "ecsq", "max_levels": True}, ValueError),
        ({"quantizer": "ecsq", "max_levels": 2.5}, ValueError),
    ],
)
def test_option_validation(kwargs, exc):
    x = np.random.default_rng(4).standard_normal(10)
    if exc is None:
        codec.decode(codec.encode(x, **kwargs))
    else:
        with pytest.raises(exc):
            codec.encode(x, **kwargs)


@pytest.mark.parametrize("quantizer, method", [("ecsq", "clg"), ("kmeans", "lloyd")])
def test_rates_above_8_bits_need_and_take_max_levels(quantizer, method):
    """256 cells carry at most 8 bits: the error names max_levels, and passing it works."""
    x = np.random.default_rng(21).standard_normal(2**14)
    with pytest.raises(ValueError, match="max_levels"):
        codec.encode(x, quantizer=quantizer, method=method, rate=8.3)
    blob = codec.encode(x, quantizer=quantizer, method=method, rate=8.3, max_levels=1024)
    assert abs(8.0 * len(blob) / x.size - 8.3) <= 0.05
    mse = np.mean((codec.decode(blob) - x) ** 2)
    lower = codec.decode(codec.encode(x, quantizer=quantizer, method=method, rate=7.0))
    assert mse < 0.5 * np.mean((lower - x) ** 2)  # 1.3 bits more buy > 3 dB
