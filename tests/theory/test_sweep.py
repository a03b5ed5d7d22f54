"""rd_sweep with an injected toy codec, the JSON schema, and BD-rate."""

import json
import math
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import (
    RD_RECORD_FIELDS,
    GaussianSource,
    LaplacianSource,
    bd_rate,
    curve_from_records,
    parse_rd_json,
    rd_sweep,
    read_rd_json,
    records_to_json,
)

HEADER = struct.Struct("<dqQ?")  # step, size, seed, dither


def fake_encode(x, *, rate, seed=0, dither=True, level=6):
    """Uniform quantizer with optional subtractive dither + zlib (a stand-in codec)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    step = math.sqrt(12.0 * max(float(np.var(x)), 1e-12)) * 2.0 ** (-rate)
    u = np.random.default_rng(seed).uniform(-0.5, 0.5, x.size) * step if dither else 0.0
    idx = np.round((x + u) / step).astype(np.int32)
    return HEADER.pack(step, x.size, seed, dither) + zlib.compress(idx.tobytes(), level)


def fake_decode(blob):
    step, size, seed, dither = HEADER.unpack_from(blob)
    idx = np.frombuffer(zlib.decompress(blob[HEADER.size :]), dtype=np.int32)
    u = np.random.default_rng(seed).uniform(-0.5, 0.5, size) * step if dither else 0.0
    return idx * step - u


class ShapeKeeper:
    """Wraps the fake codec so decode returns the input's shape."""

    def __init__(self):
        self.shape = None

    def encode(self, x, **kw):
        self.shape = np.shape(x)
        return fake_encode(x, **kw)

    def decode(self, blob):
        return fake_decode(blob).reshape(self.shape)


CONFIGS = {"dithered": {"dither": True}, "plain": {"dither": False, "level": 9}}
RATES = [1.0, 2.0, 4.0]


def sweep(x, **kw):
    codec = ShapeKeeper()
    kw.setdefault("encode", codec.encode)
    kw.setdefault("decode", codec.decode)
    return rd_sweep(x, CONFIGS, RATES, **kw)


def strip_time(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.fixture(scope="module")
def gaussian_x():
    return np.random.default_rng(11).normal(0.0, 2.0, size=(64, 125))


def test_records_schema_and_values(gaussian_x):
    x = gaussian_x
    records = sweep(x, source=GaussianSource(4.0))
    assert len(records) == len(CONFIGS) * len(RATES)
    assert [(r["name"], r["target_rate"]) for r in records] == [
        (n, r) for n in CONFIGS for r in RATES
    ]
    for rec in records:
        assert tuple(rec) == RD_RECORD_FIELDS
        blob = fake_encode(x, rate=rec["target_rate"], seed=0, **rec["config"])
        assert rec["num_bytes"] == len(blob)
        assert rec["bits_per_element"] == 8 * len(blob) / x.size
        x_hat = fake_decode(blob).reshape(x.shape)
        assert rec["mse"] == pytest.approx(np.mean((x_hat - x) ** 2))
        assert rec["snr_db"] == pytest.approx(10 * math.log10(np.var(x) / rec["mse"]))
        assert rec["reference"] == "gaussian_rate_distortion"
        assert rec["reference_rate"] == pytest.approx(0.5 * math.log2(4.0 / rec["mse"]))
        assert rec["gap_bits"] == rec["bits_per_element"] - rec["reference_rate"]
        assert rec["seconds"] >= 0
    # A dithered uniform quantizer + a real coder never beats R(D).
    assert all(r["gap_bits"] > 0 for r in records)


def test_sweep_is_reproducible(gaussian_x):
    a = sweep(gaussian_x, seed=5)
    b = sweep(gaussian_x, seed=5)
    assert strip_time(a) == strip_time(b)
    c = sweep(gaussian_x, seed=6)
    dithered = [r["mse"] for r in a if r["name"] == "dithered"]
    assert dithered != [r["mse"] for r in c if r["name"] == "dithered"]


def test_default_reference_is_empirical_slb():
    x = np.random.default_rng(1).laplace(size=5000)
    records = sweep(x)
    assert {r["reference"] for r in records} == {"shannon_lower_bound"}
    assert all(np.isfinite(r["gap_bits"]) for r in records)
    lap = sweep(x, source=LaplacianSource(1.0))
    for r in lap:
        assert r["reference_rate"] == pytest.approx(
            LaplacianSource(1.0).shannon_lower_bound(r["mse"])
        )


def test_atom_in_data_gives_no_reference():
    x = np.r_[np.zeros(3000), np.random.default_rng(2).normal(size=1000)]
    records = sweep(x)
    assert {r["reference"] for r in records} == {"none"}
    assert all(math.isnan(r["gap_bits"]) for r in records)


def test_list_of_configs_and_seed_passing():
    seen = []

    def enc(x, **kw):
        seen.append(kw)
        return fake_encode(x, **kw)

    x = np.linspace(-1, 1, 101)
    recs = rd_sweep(x, [{"dither": False}, {}], [3], seed=9, encode=enc, decode=fake_decode)
    assert [r["name"] for r in recs] == ["dither=False", "default"]
    assert seen == [{"dither": False, "rate": 3.0, "seed": 9}, {"rate": 3.0, "seed": 9}]


def test_json_round_trip(gaussian_x, tmp_path):
    records = sweep(gaussian_x)
    text = records_to_json(records, "toy-uniform", "uniform quantizer + zlib on N(0, 4)")
    doc = json.loads(text)
    assert set(doc) == {"name", "description", "results"}
    assert list(doc["results"]) == list(RD_RECORD_FIELDS)
    assert all(len(col) == len(records) for col in doc["results"].values())
    parsed = parse_rd_json(text)
    assert parsed["name"] == "toy-uniform"
    assert parsed["records"] == records  # exact, timings included
    path = tmp_path / "rd.json"
    assert records_to_json(records, "n", "d", path=path) == path.read_text().rstrip("\n")
    assert read_rd_json(path)["records"] == records
    assert curve_from_records(parsed["records"], "plain")[0].tolist() == sorted(
        r["bits_per_element"] for r in records if r["name"] == "plain"
    )


def test_json_non_finite_and_extra_fields():
    recs = [{"bits_per_element": 1.0, "snr_db": math.inf, "mse": 0.0, "note": "x"}]
    text = records_to_json(recs, "n", "d")
    assert "Infinity" not in text and "NaN" not in text
    back = parse_rd_json(text)["records"][0]
    assert math.isnan(back["snr_db"]) and back["note"] == "x"
    np_recs = [
        {
            "bits_per_element": np.float32(2.0),
            "num_bytes": np.int64(3),
            "config": {"dither": np.bool_(True)},
        }
    ]
    assert parse_rd_json(records_to_json(np_recs, "n", "d"))["records"] == [
        {"bits_per_element": 2.0, "num_bytes": 3, "config": {"dither": True}}
    ]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"description": "d", "results": {}}', "'name'"),
        ('{"name": "n", "description": "d", "results": []}', "'results'"),
        ('{"name": "n", "description": "d", "results": {"mse": 1}}', "must be a list"),
        (
            '{"name": "n", "description": "d", "results": {"mse": [1], "snr_db": []}}',
            "differ in length",
        ),
    ],
)
def test_parse_rejects_bad_documents(text, match):
    with pytest.raises(ValueError, match=match):
        parse_rd_json(text)


def test_serialisation_errors():
    with pytest.raises(TypeError):
        parse_rd_json(123)
    with pytest.raises(TypeError, match="name and description"):
        records_to_json([], 1, "d")
    with pytest.raises(ValueError, match="same fields"):
        records_to_json([{"a": 1}, {"b": 2}], "n", "d")
    with pytest.raises(TypeError, match="JSON"):
        records_to_json([{"config": {"f": object()}}], "n", "d")


@given(
    factor=st.floats(0.2, 5.0),
    steps=st.lists(st.floats(0.1, 10.0), min_size=1, max_size=7),
    base=st.floats(0.1, 4.0),
    wiggle=st.floats(0.0, 0.5),
)
def test_bd_rate_of_a_scaled_curve(factor, steps, base, wiggle):
    snr = np.concatenate([[0.0], np.cumsum(steps)])
    bits = base * 2.0 ** (snr / 6.02) * (1.0 + wiggle * np.sin(snr) ** 2)
    got = bd_rate((bits, snr), (factor * bits, snr))
    assert got == pytest.approx(100 * (factor - 1), rel=1e-9, abs=1e-9)
    back = bd_rate((factor * bits, snr), (bits, snr))
    assert (1 + got / 100) * (1 + back / 100) == pytest.approx(1.0)


def test_bd_rate_conventions():
    a = {"bits_per_element": [1.0, 2.0, 3.0, 4.0], "snr_db": [6.0, 12.0, 18.0, 24.0]}
    b = ([1.0, 2.0, 3.0, 4.0], [7.0, 13.0, 19.0, 25.0])  # better quality at equal rate
    assert bd_rate(a, b) < 0
    assert bd_rate(a, a) == 0.0
    # Only the overlapping SNR range counts: PCHIP reproduces log-linear data, so
    # extending a log-linear curve beyond the other one changes nothing.
    snr = np.array([6.0, 12.0, 18.0, 24.0])
    line = (2.0 ** (snr / 6.0), snr)
    longer = (2.0 ** (np.r_[0.0, snr, 30.0] / 6.0), np.r_[0.0, snr, 30.0])
    assert bd_rate(line, longer) == pytest.approx(0.0, abs=1e-12)
    half = (0.5 * longer[0], longer[1])
    assert bd_rate(line, half) == pytest.approx(-50.0)


@pytest.mark.parametrize(
    ("a", "b", "exc", "match"),
    [
        (([1.0, 2.0], [1.0, 2.0]), ([1.0, 2.0], [3.0, 4.0]), ValueError, "do not overlap"),
        (([1.0], [1.0]), ([1.0, 2.0], [1.0, 2.0]), ValueError, "at least 2"),
        (([0.0, 2.0], [1.0, 2.0]), ([1.0, 2.0], [1.0, 2.0]), ValueError, "> 0"),
        (([1.0, 2.0], [1.0, 1.0]), ([1.0, 2.0], [1.0, 2.0]), ValueError, "distinct"),
        (([1.0, 2.0], [1.0]), ([1.0, 2.0], [1.0, 2.0]), ValueError, "differ in length"),
        (({"mse": [1]}), ([1.0, 2.0], [1.0, 2.0]), ValueError, "bits_per_element"),
        ((1.0), ([1.0, 2.0], [1.0, 2.0]), TypeError, "pair"),
    ],
)
def test_bd_rate_errors(a, b, exc, match):
    with pytest.raises(exc, match=match):
        bd_rate(a, b)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"x": np.array([])}, ValueError, "at least one"),
        ({"x": np.array([1.0, np.nan])}, ValueError, "finite"),
        ({"x": np.array([1 + 1j])}, TypeError, "real"),
        ({"configs": {"a": {"rate": 2}}}, ValueError, "rate"),
        ({"configs": {"a": {"seed": 2}}}, ValueError, "seed"),
        ({"configs": [{"step": 0.1}]}, ValueError, "step"),
        ({"configs": {}}, ValueError, "at least one"),
        ({"configs": "E8"}, TypeError, "configs"),
        ({"configs": ["E8"]}, TypeError, "config"),
        ({"configs": [{}, {}]}, ValueError, "duplicate"),
        ({"rates": []}, ValueError, "empty"),
        ({"rates": [1.0, 0.0]}, ValueError, "rate must be > 0"),
        ({"rates": "1"}, TypeError, "rates"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"source": "gaussian"}, TypeError, "Source"),
    ],
)
def test_rd_sweep_bad_arguments(kwargs, exc, match):
    args = {"x": np.arange(10.0), "configs": {"a": {}}, "rates": [2.0]}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        rd_sweep(
            args.pop("x"),
            args.pop("configs"),
            args.pop("rates"),
            encode=fake_encode,
            decode=fake_decode,
            **args,
        )


def test_rd_sweep_checks_codec_outputs():
    x = np.arange(12.0).reshape(3, 4)
    with pytest.raises(ValueError, match="shape"):
        rd_sweep(x, {"a": {}}, [2.0], encode=fake_encode, decode=fake_decode)
    with pytest.raises(TypeError, match="bytes"):
        rd_sweep(x, {"a": {}}, [2.0], encode=lambda x, **kw: "text", decode=lambda b: x)
