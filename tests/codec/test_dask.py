"""codec.dask: a Dask array compressed chunk by chunk on a cluster equals the local path.

The cluster is a real ``distributed.LocalCluster`` of two worker *processes*
(each imports codec and runs its own kernels), so the codec configuration,
the hash seeds and the Zarr writes all cross a process boundary, as on a
cluster of machines.
"""

import json
import os
import pathlib

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")

import codec  # noqa: E402
import codec.dask  # noqa: E402
from codec.zarr import RDSerializer  # noqa: E402

N = 1 << 24
CHUNK = 1 << 21
# the cheapest configuration to code (a quiet machine codes it at ~10 M elements/s per core)
OPTS = dict(lattice="Z", step=0.25, coder="huffman", seed=4)


def _array():
    """2**24 float32 values, generated chunk by chunk where they are computed."""
    return da.random.default_rng(24).standard_normal(N, chunks=CHUNK, dtype=np.float32)


def _chunk_files(path: pathlib.Path) -> dict:
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != "zarr.json"
    }


@pytest.fixture(scope="module")
def client():
    # Numba threads per worker: 1, so two workers use the two cores once each.
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env={"NUMBA_NUM_THREADS": "1"},
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_cluster_encode_equals_the_local_path(client, tmp_path):
    x = _array()
    config = codec.dask.encode(x, str(tmp_path / "cluster.zarr"), **OPTS)
    assert config == {"seed": 4, **OPTS}
    ran_on = client.run(os.getpid)
    assert len(ran_on) == 2 and os.getpid() not in ran_on.values()

    local = x.compute(scheduler="synchronous")  # the same values, in this process
    z = zarr.create_array(
        str(tmp_path / "local.zarr"),
        shape=local.shape,
        chunks=(CHUNK,),
        dtype="float32",
        serializer=RDSerializer(**OPTS),
        compressors=None,
    )
    z[:] = local
    assert _chunk_files(tmp_path / "cluster.zarr") == _chunk_files(tmp_path / "local.zarr")

    y = codec.dask.decode(str(tmp_path / "cluster.zarr"))
    assert y.chunks == x.chunks and y.dtype == np.float32
    decoded = y.compute()  # decoded on the workers
    np.testing.assert_array_equal(decoded, z[:])
    mse = float(np.mean((decoded.astype(np.float64) - local) ** 2))
    expected = codec.inspect(codec.encode(np.zeros(8), **OPTS)).expected_mse
    assert abs(mse / expected - 1) < 0.01


def test_rate_target_for_the_whole_array_lands_near(tmp_path):
    x = da.random.default_rng(7).standard_normal(1 << 20, chunks=1 << 17, dtype=np.float32)
    with dask.config.set(scheduler="synchronous"):
        config = codec.dask.encode(x, str(tmp_path / "r.zarr"), rate=3.0, lattice="E8")
    files = _chunk_files(tmp_path / "r.zarr")
    assert len(files) == 8
    bits = 8 * sum(len(b) for b in files.values()) / x.size
    assert abs(bits - 3.0) < 0.02
    meta = json.loads((tmp_path / "r.zarr" / "zarr.json").read_text())
    assert meta["codecs"][0]["configuration"]["step"] == config["step"]


def test_sample_blocks_and_choose_step_arguments():
    x = da.arange(64.0, chunks=8).reshape(8, 8).rechunk((4, 4))
    picked = codec.dask.sample_blocks(x, 2)
    np.testing.assert_array_equal(picked[0], np.arange(64.0).reshape(8, 8)[:4, :4])
    np.testing.assert_array_equal(picked[1], np.arange(64.0).reshape(8, 8)[4:, 4:])
    with pytest.raises(ValueError, match="n_blocks must be a positive integer"):
        codec.dask.sample_blocks(x, 0)
    with pytest.raises(ValueError, match="rate must be a positive number"):
        codec.dask.choose_step(x, -1.0)
    with pytest.raises(ValueError, match="not both"):
        codec.dask.choose_step(x, 2.0, step=0.1)
