"""codec.Encoder / codec.Decoder: the container written and read chunk group by chunk group.

The streamed bytes must be those of codec.encode of the whole array, and the
streamed values those of codec.decode, whatever the pieces, the file kind or
the quantizer; memory-mapped arrays must go through in bounded memory.
"""

import io
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import codec
from codec.errors import CorruptStreamError, TruncatedStreamError, UnsupportedFormatError
from codec.pages import release_pages

RNG = np.random.default_rng(20261126)
X = (RNG.standard_normal((1500, 11)) * np.linspace(0.5, 2, 11)).astype(np.float32)

OPTIONS = [
    dict(lattice="Z", step=0.1, chunk_size=1000),
    dict(lattice="E8", step=0.05, chunk_size=2048, coder="auto", seed=9),
    dict(lattice="D4", distortion=1e-3, chunk_size=4096, coder="huffman"),
    dict(quantizer="uniform", rate=3.0, chunk_size=4096),
    dict(quantizer="kmeans", levels=16, chunk_size=3000),
    dict(chunk_size=1024),  # the default target (MSE = var/256), designed on a sample
]


class _Pipe(io.RawIOBase):
    """A write-only file that cannot seek (like a pipe or a socket)."""

    def __init__(self):
        self.data = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.data += b
        return len(b)


def _pieces(x, sizes):
    flat = x.reshape(-1)
    a, k = 0, 0
    while a < flat.size:
        b = min(a + sizes[k % len(sizes)], flat.size)
        yield flat[a:b]
        a, k = b, k + 1


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_streamed_bytes_and_values_equal_the_whole_array_ones(opts):
    with warnings.catch_warnings():  # a rate target may end a little off; both alike
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = codec.encode(X, **opts)
        f = io.BytesIO()
        enc = codec.Encoder(f, design=X, **opts)
    for piece in _pieces(X, [1, 999, 4096, 37]):
        enc.write(piece)
    enc.close()
    assert f.getvalue() == ref

    with codec.Decoder(io.BytesIO(ref)) as dec:
        assert (dec.shape, dec.dtype) == (X.shape, "float32")
        y = dec.read()
    expected = codec.decode(ref)
    assert y.dtype == expected.dtype and y.shape == expected.shape
    np.testing.assert_array_equal(y, expected)


def test_non_seekable_file_gets_the_same_bytes():
    opts = dict(lattice="E8", step=0.07, chunk_size=1024)
    pipe = _Pipe()
    with codec.Encoder(pipe, design=X, **opts) as enc:
        enc.write(X)
    assert bytes(pipe.data) == codec.encode(X, **opts)


def test_design_on_the_first_chunk_gives_the_same_bytes_for_a_data_independent_target():
    """Without design=, the quantizer is made from the first chunk written: a lattice
    step does not depend on the data, so the bytes are codec.encode's."""
    opts = dict(lattice="D4", step=0.02, chunk_size=2048, seed=3)
    f = io.BytesIO()
    with codec.Encoder(f, shape=X.shape, dtype="float32", **opts) as enc:
        for row in X:
            enc.write(row)
    assert f.getvalue() == codec.encode(X, **opts)


def test_pieces_of_another_dtype_are_cast_like_the_array():
    f = io.BytesIO()
    with codec.Encoder(f, shape=X.shape, dtype="float32", step=0.1, chunk_size=1024) as enc:
        enc.write(X.astype(np.float64))
    assert f.getvalue() == codec.encode(X, step=0.1, chunk_size=1024)


@pytest.mark.parametrize("x", [np.zeros(0, np.float32), np.float64(2.5), np.ones((3, 0, 2))])
def test_empty_and_zero_d_arrays(x):
    f = io.BytesIO()
    with codec.Encoder(f, design=x, step=0.1) as enc:
        enc.write(x)
    assert f.getvalue() == codec.encode(x, step=0.1)
    y = codec.Decoder(io.BytesIO(f.getvalue())).read()
    assert y.shape == np.shape(x) and y.dtype == np.asarray(x).dtype


def test_memmap_round_trip_through_files(tmp_path):
    n = 300_000
    src = np.memmap(tmp_path / "x.f32", np.float32, "w+", shape=(n,))
    src[:] = RNG.standard_normal(n)
    src.flush()
    x = np.memmap(tmp_path / "x.f32", np.float32, "r", shape=(n,))
    opts = dict(lattice="E8", step=0.05, chunk_size=1 << 14)
    with codec.Encoder(tmp_path / "x.rdc", design=x, **opts) as enc:
        enc.write(x)
    blob = (tmp_path / "x.rdc").read_bytes()
    assert blob == codec.encode(np.array(x), **opts)
    out = np.memmap(tmp_path / "y.f32", np.float32, "w+", shape=(n,))
    with codec.Decoder(tmp_path / "x.rdc") as dec:
        dec.read_into(out)
    out.flush()
    del out
    y = np.fromfile(tmp_path / "y.f32", np.float32)  # what reached the file
    np.testing.assert_array_equal(y, codec.decode(blob))
    groups = list(codec.Decoder(tmp_path / "x.rdc").groups())
    assert [a for a, _ in groups] == sorted(a for a, _ in groups) and groups[0][0] == 0
    np.testing.assert_array_equal(np.concatenate([v for _, v in groups]), y)


def test_release_pages_keeps_the_data_and_frees_resident_memory(tmp_path):
    psutil = pytest.importorskip("psutil")
    n = 1 << 24  # 64 MiB
    mm = np.memmap(tmp_path / "a.f32", np.float32, "w+", shape=(n,))
    mm[:] = 1.5  # dirty pages of a shared mapping
    proc = psutil.Process()
    touched = proc.memory_info().rss
    release_pages(mm)
    released = proc.memory_info().rss
    assert touched - released > 32 << 20
    assert float(mm[::4096].min()) == 1.5 == float(mm[-1])  # written back, not dropped
    private = np.memmap(tmp_path / "a.f32", np.float32, "c", shape=(n,))
    private[:10] = 7.0
    release_pages(private)  # copy-on-write pages are left alone: the change survives
    assert float(private[0]) == 7.0


def test_memory_stays_bounded_for_a_memmap_bigger_than_the_group(tmp_path):
    """In a fresh process: a 64 MiB memmap round trip raises the peak RSS by far less
    than the array (without handing pages back it grows by input + output, 128 MiB)."""
    script = textwrap.dedent(
        f"""
        import numpy as np, codec
        n = 1 << 24
        with open({str(tmp_path / "x.f32")!r}, "wb") as f:  # not through a mapping
            for a in range(0, n, 1 << 20):
                f.write(np.sin(np.arange(a, a + (1 << 20)) * 1e-3).astype(np.float32).tobytes())
        opts = dict(lattice="E8", step=0.01, chunk_size=1 << 18)
        # compile first (a kernel compiled while measuring would add LLVM's memory)
        small = np.ones(1 << 19, np.float32)
        with codec.Encoder({str(tmp_path / "s.rdc")!r}, design=small, **opts) as enc:
            enc.write(small)
        codec.Decoder({str(tmp_path / "s.rdc")!r}).read_into(small)

        def status(key):
            for line in open("/proc/self/status"):
                if line.startswith(key):
                    return int(line.split()[1]) >> 10  # MiB
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # peak RSS (VmHWM) := current RSS
        base = status("VmRSS:")
        x = np.memmap({str(tmp_path / "x.f32")!r}, np.float32, "r", shape=(n,))
        with codec.Encoder({str(tmp_path / "x.rdc")!r}, design=x, **opts) as enc:
            enc.write(x)
        out = np.memmap({str(tmp_path / "y.f32")!r}, np.float32, "w+", shape=(n,))
        codec.Decoder({str(tmp_path / "x.rdc")!r}).read_into(out)
        print(base, status("VmHWM:"), status("VmHWM:") - base)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) < 48, out.stdout


def test_writing_errors_say_what_to_do():
    with pytest.raises(ValueError, match="weights= needs the whole array"):
        codec.Encoder(io.BytesIO(), design=X, step=0.1, weights=np.ones(X.shape))
    with pytest.raises(ValueError, match="give design="):
        codec.Encoder(io.BytesIO(), step=0.1)
    with pytest.raises(TypeError, match="dtype must be float16"):
        codec.Encoder(io.BytesIO(), shape=(3,), dtype="int32", step=0.1)
    with pytest.raises(TypeError, match="binary file object"):
        codec.Encoder(io.StringIO(), shape=(3,), step=0.1)
    enc = codec.Encoder(io.BytesIO(), shape=(10,), dtype="float64", step=0.1)
    enc.write(np.zeros(6))
    with pytest.raises(ValueError, match="more than the 10"):
        enc.write(np.zeros(5))
    with pytest.raises(ValueError, match="6 of 10 elements written"):
        enc.close()
    with pytest.raises(ValueError, match=r"index \(7,\)"):
        enc.write(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(TypeError, match="float16, float32 or float64"):
        enc.write(np.zeros(4, np.int64))


def test_nan_past_the_design_names_its_index_in_the_array():
    x = np.zeros((40, 100), np.float32)
    x[33, 7] = np.inf
    enc = codec.Encoder(io.BytesIO(), shape=x.shape, dtype="float32", step=0.1, chunk_size=512)
    with pytest.raises(ValueError, match=r"index \(33, 7\)"):
        for row in x:
            enc.write(row)


def _stream():
    return codec.encode(X, lattice="E8", step=0.05, chunk_size=1024)


def test_reading_errors_are_codec_errors():
    blob = _stream()
    with pytest.raises(TruncatedStreamError):
        codec.Decoder(io.BytesIO(blob[:10]))
    with pytest.raises(TruncatedStreamError):
        codec.Decoder(io.BytesIO(blob[:60]))
    with pytest.raises(TruncatedStreamError):
        codec.Decoder(io.BytesIO(blob[:-1])).read()
    with pytest.raises(CorruptStreamError, match="after the last chunk"):
        codec.Decoder(io.BytesIO(blob + b"\0")).read()
    with pytest.raises(UnsupportedFormatError):
        codec.Decoder(io.BytesIO(b"not an rdcodec stream at all"))
    flipped = bytearray(blob)
    flipped[-100] ^= 0x10
    with pytest.raises(CorruptStreamError, match="checksum"):
        codec.Decoder(io.BytesIO(bytes(flipped))).read()
    with pytest.raises(ValueError, match="max_elements"):
        codec.Decoder(io.BytesIO(blob), max_elements=100)


def test_decoder_misuse_raises():
    dec = codec.Decoder(io.BytesIO(_stream()))
    with pytest.raises(ValueError, match="16500 elements of float32"):
        dec.read_into(np.empty(10, np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        dec.read_into(np.empty((11, 1500), np.float32).T)
    with pytest.raises(TypeError, match="writable numpy array"):
        dec.read_into([0.0] * X.size)
    dec.read()
    with pytest.raises(ValueError, match="reads its file once"):
        dec.read()
