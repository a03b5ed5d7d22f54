"""codec.zarr: rdcodec inside Zarr (formats 3 and 2) and numcodecs.

A store written with the codec must read back within the stated distortion
(a dithered lattice's MSE is G·step²·det^(2/n), whatever the data), each
chunk's bytes must depend only on its values and the configuration, and the
configuration must survive JSON.
"""

import json
import pathlib

import numpy as np
import pytest
import tomllib

zarr = pytest.importorskip("zarr")
numcodecs = pytest.importorskip("numcodecs")

import codec  # noqa: E402
from codec.zarr import RDCodec, RDCompressor, RDSerializer, chunk_seed  # noqa: E402

RNG = np.random.default_rng(16)
X = (RNG.standard_normal((300, 260)) * 3 + 1).astype(np.float32)


def _expected_mse(**opts) -> float:
    return codec.inspect(codec.encode(np.zeros(8), **opts)).expected_mse


def _v3(store, **kw):
    return zarr.create_array(store, shape=X.shape, chunks=(128, 100), dtype="float32", **kw)


WRITERS = {
    "v3-serializer": lambda s, o: _v3(s, serializer=RDSerializer(**o), compressors=None),
    "v3-compressors": lambda s, o: _v3(s, compressors=[RDCompressor(**o)]),
    "v2-compressors": lambda s, o: _v3(s, zarr_format=2, compressors=[RDCodec(**o)]),
    "v2-compressor": lambda s, o: zarr.create(
        store=s,
        shape=X.shape,
        chunks=(128, 100),
        dtype="float32",
        zarr_format=2,
        compressor=RDCodec(**o),
    ),
}


@pytest.mark.parametrize("how", sorted(WRITERS))
@pytest.mark.parametrize("opts", [dict(lattice="E8", step=0.05), dict(lattice="Z", step=0.02)])
def test_store_reads_back_within_the_stated_distortion(tmp_path, how, opts):
    z = WRITERS[how](str(tmp_path / "a.zarr"), opts)
    z[:] = X
    y = zarr.open_array(str(tmp_path / "a.zarr"), mode="r")[:]
    assert y.shape == X.shape and y.dtype == np.float32
    err = y.astype(np.float64) - X
    mse = _expected_mse(**opts)
    # 78,000 dithered errors, uniform over the cell: the mean square is within 2 % of G·step²
    assert abs(np.mean(err**2) / mse - 1) < 0.02
    # each chunk's blocks of n elements (C order within the chunk) err by at most the
    # covering radius: E8's is 1, Z's 1/2 (times the step)
    n = codec.quantizers.lattice.get_lattice(opts["lattice"]).dim
    radius = opts["step"] * (1.0 if n == 8 else 0.5) + 1e-5
    for r in range(0, X.shape[0], 128):
        for c in range(0, X.shape[1], 100):
            chunk = np.zeros((128, 100))  # the fill value's elements: no error counted
            part = err[r : r + 128, c : c + 100]
            chunk[: part.shape[0], : part.shape[1]] = part
            assert np.sqrt((chunk.reshape(-1, n) ** 2).sum(axis=1).max()) <= radius


def test_distortion_target_holds_in_every_chunk(tmp_path):
    z = _v3(str(tmp_path / "d.zarr"), serializer=RDSerializer(distortion=1e-4), compressors=None)
    z[:] = X
    y = z[:].astype(np.float64)
    for rows in (slice(0, 128), slice(128, 256)):
        for cols in (slice(0, 100), slice(100, 200)):
            mse = np.mean((y[rows, cols] - X[rows, cols]) ** 2)
            assert abs(mse / 1e-4 - 1) < 0.05


def test_all_float_dtypes_and_edge_chunks_keep_shape_and_dtype(tmp_path):
    for dtype in ("float16", "float32", "float64"):
        x = RNG.standard_normal((37, 23)).astype(dtype)
        z = zarr.create_array(
            str(tmp_path / f"{dtype}.zarr"),
            shape=x.shape,
            chunks=(16, 16),
            dtype=dtype,
            serializer=RDSerializer(lattice="D4", step=0.01),
            compressors=None,
        )
        z[:] = x
        y = z[:]
        assert y.dtype == np.dtype(dtype) and y.shape == x.shape
        assert np.abs(y.astype(np.float64) - x).max() < 0.02


def test_config_round_trips_through_json():
    c = RDCodec(lattice="D4", step=0.125, coder="huffman", seed=5, chunk_size=4096)
    text = json.dumps(c.get_config())
    back = numcodecs.get_codec(json.loads(text))
    assert isinstance(back, RDCodec) and back == c and back.get_config() == c.get_config()
    assert back.encode(X) == c.encode(X)
    for cls in (RDSerializer, RDCompressor):
        v3 = cls(distortion=1e-3, lattice="E8", dither=True)
        data = json.loads(json.dumps(v3.to_dict()))
        assert data["name"] == cls.zarr_name
        assert cls.from_dict(data) == v3


def test_store_metadata_names_the_codec_and_reopens(tmp_path):
    path = tmp_path / "m.zarr"
    z = _v3(str(path), serializer=RDSerializer(lattice="E8", step=0.1, seed=2), compressors=None)
    z[:] = X
    meta = json.loads((path / "zarr.json").read_text())
    assert meta["codecs"] == [
        {"name": "rdcodec", "configuration": {"seed": 2, "lattice": "E8", "step": 0.1}}
    ]
    again = zarr.open_array(str(path), mode="r")
    np.testing.assert_array_equal(again[:], z[:])


def test_same_chunk_same_bytes_and_a_chunk_decodes_alone():
    c = RDCodec(lattice="E8", step=0.05)
    a, b = X[:128, :100], X[128:256, :100]
    assert c.encode(a) == c.encode(a.copy())
    assert codec.inspect(c.encode(a)).seed == chunk_seed(a) != chunk_seed(b)
    assert codec.inspect(RDCodec(lattice="E8", step=0.05, seed=1).encode(a)).seed != chunk_seed(a)
    blob = c.encode(a)
    other = RDCodec(lattice="Z", distortion=1.0, seed=99)  # decoding needs only the bytes
    np.testing.assert_array_equal(other.decode(blob), codec.decode(blob))
    out = np.empty(a.size, np.float32)
    assert other.decode(blob, out=out) is out
    np.testing.assert_array_equal(out.reshape(a.shape), codec.decode(blob))


def test_big_endian_chunks_are_coded_like_native_ones():
    c = RDCodec(lattice="Z", step=0.01)
    y = c.decode(c.encode(X.astype(">f4")))
    np.testing.assert_array_equal(y, c.decode(c.encode(X)))


def test_bad_configurations_say_what_to_do():
    with pytest.raises(ValueError, match="rate= is not meaningful per chunk"):
        RDCodec(rate=4.0)
    with pytest.raises(ValueError, match="exactly one of step= or distortion="):
        RDCodec(lattice="E8")
    with pytest.raises(ValueError, match="exactly one of step= or distortion="):
        RDCodec(step=0.1, distortion=0.01)
    with pytest.raises(ValueError):
        RDCodec(step=0.1, lattice="nope")
    with pytest.raises(TypeError, match="unexpected keyword"):
        RDCodec(step=0.1, colour="blue")
    with pytest.raises(ValueError, match="weights= does not apply per chunk"):
        RDCodec(step=0.1, weights=[1.0])
    with pytest.raises(codec.errors.CodecError):
        RDCodec(step=0.1).decode(b"\x89RDC\r\n\x1a\nnonsense")


def test_entry_points_are_declared_for_numcodecs_and_zarr():
    meta = tomllib.loads((pathlib.Path(__file__).parents[2] / "pyproject.toml").read_text())
    points = meta["project"]["entry-points"]
    assert points["numcodecs.codecs"] == {"rdcodec": "codec.zarr:RDCodec"}
    assert points["zarr.codecs"] == {
        "rdcodec": "codec.zarr:RDSerializer",
        "rdcodec.compressor": "codec.zarr:RDCompressor",
    }
    assert RDCodec.codec_id == "rdcodec" and RDSerializer.zarr_name == "rdcodec"
    assert RDCompressor.zarr_name == "rdcodec.compressor"
