"""Bad input: clear ValueError/TypeError for arguments, codec.errors for streams."""

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import codec
from codec.errors import (
    CodecError,
    CorruptStreamError,
    TruncatedStreamError,
    UnsupportedFormatError,
)


@pytest.fixture(scope="module")
def blob():
    x = np.random.default_rng(0).standard_normal(3000).astype(np.float32)
    return codec.encode(x, lattice="E8", step=0.1, chunk_size=1024)


def test_nan_and_inf_name_the_first_bad_index():
    x = np.zeros((3, 4))
    x[1, 2] = np.nan
    x[2, 0] = np.inf
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        codec.encode(x)


@pytest.mark.parametrize(
    "bad", [np.arange(4), np.ones(3, complex), np.array(["a"], object), np.array([True])]
)
def test_non_float_inputs_raise_type_error(bad):
    with pytest.raises(TypeError):
        codec.encode(bad)


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"step": 0.1, "rate": 2}, ValueError),
        ({"step": -1.0}, ValueError),
        ({"step": float("nan")}, ValueError),
        ({"rate": 0}, ValueError),
        ({"step": "0.1"}, TypeError),
        ({"lattice": "A9"}, ValueError),
        ({"coder": "zip"}, ValueError),
        ({"seed": -1}, ValueError),
        ({"seed": 1.5}, TypeError),
        ({"quantizer": "no-such-quantizer"}, ValueError),
        ({"chunk_size": 3, "lattice": "E8"}, ValueError),
        ({"step": 1e-300}, ValueError),
    ],
)
def test_bad_arguments(kwargs, exc):
    with pytest.raises(exc):
        codec.encode(np.ones(10), **kwargs)


def test_every_truncation_raises(blob):
    for cut in list(range(0, 64)) + list(range(64, len(blob), 97)) + [len(blob) - 1]:
        with pytest.raises(CodecError):
            codec.decode(blob[:cut])


def test_truncation_types(blob):
    with pytest.raises(TruncatedStreamError):
        codec.decode(blob[:-1])
    with pytest.raises(TruncatedStreamError):
        codec.decode(blob[:5])


def test_trailing_bytes_rejected(blob):
    with pytest.raises(CorruptStreamError):
        codec.decode(blob + b"\x00")


def test_foreign_bytes():
    for data in (b"", b"PK\x03\x04" + bytes(100), b"\x89PNG\r\n\x1a\n" + bytes(20)):
        with pytest.raises(CodecError):
            codec.decode(data)
    with pytest.raises(UnsupportedFormatError):
        codec.decode(b"\x89PNG\r\n\x1a\n" + bytes(20))


def test_newer_major_version_is_unsupported(blob):
    bad = bytearray(blob)
    bad[8] = 2
    with pytest.raises(UnsupportedFormatError):
        codec.decode(bytes(bad))


@settings(max_examples=60)
@given(pos=st.integers(0, 10**9), bit=st.integers(0, 7))
def test_bit_flips_raise(blob, pos, bit):
    bad = bytearray(blob)
    bad[pos % len(bad)] ^= 1 << bit
    with pytest.raises(CodecError):
        codec.decode(bytes(bad))


@given(st.binary(max_size=300))
def test_random_bytes_raise(data):
    with pytest.raises(CodecError):
        codec.decode(data)
    with pytest.raises(CodecError):
        codec.decode(codec.container.MAGIC + data)


def test_decompression_bomb_guard(blob):
    with pytest.raises(ValueError, match="max_elements"):
        codec.decode(blob, max_elements=100)
    assert codec.decode(blob, max_elements=None).size == 3000


def test_inspect_rejects_corruption(blob):
    with pytest.raises(CodecError):
        codec.inspect(blob[:-3])


def test_corrupt_payload_with_fixed_checksum_still_raises(blob):
    """Damage behind a recomputed CRC: the entropy decoder's own checks must catch it."""
    import zlib

    from codec import container

    parsed = container.parse(blob)
    ch = parsed.chunks[0]
    rng = np.random.default_rng(0)
    table_start = ch.offset - 4 - container.CHUNK_ENTRY.size * len(parsed.chunks)
    raised = 0
    for _ in range(200):
        bad = bytearray(blob)
        k = ch.offset + int(rng.integers(0, ch.length))
        bad[k] = int(rng.integers(0, 256))
        payload = bytes(bad[ch.offset : ch.offset + ch.length])
        entry = container.CHUNK_ENTRY.pack(ch.coder_id, ch.length, zlib.crc32(payload))
        bad[table_start : table_start + len(entry)] = entry
        table_end = table_start + container.CHUNK_ENTRY.size * len(parsed.chunks)
        bad[table_end : table_end + 4] = zlib.crc32(bytes(bad[table_start:table_end])).to_bytes(
            4, "little"
        )
        try:
            y = codec.decode(bytes(bad))
            assert y.shape == (3000,)  # undetectable damage decodes to *some* array
        except CodecError as exc:
            # Both CRCs were recomputed: what rejects it must be the decoders behind them.
            assert "checksum" not in str(exc), exc
            raised += 1
    # Measured: most random byte replacements in a coded payload are caught by the
    # decoders' own checks (exact byte count consumed, table sums, lengths).
    assert raised >= 100


# ---------------------------------------------------------------------------
# forged headers with a valid CRC: the parser's validators must reject them
# ---------------------------------------------------------------------------
def _varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _read_varint(b, pos):
    value, shift = 0, 0
    while True:
        value |= (b[pos] & 0x7F) << shift
        shift += 7
        pos += 1
        if b[pos - 1] < 0x80:
            return value, pos


def _split_header(blob):
    """(common fields dict, quantizer fields, extras, rest of the stream) per docs/format.md §2,
    read by the test itself: magic 8, major, minor, u32 L, body (u32 J, J field bytes,
    extras), u32 CRC-32 of [8, 14 + L)."""
    (length,) = struct.unpack_from("<I", blob, 10)
    body = blob[14 : 14 + length]
    (jlen,) = struct.unpack_from("<I", body, 0)
    fields, extras = body[4 : 4 + jlen], body[4 + jlen :]
    kind, dtype = fields[0], fields[1]
    ndim, pos = _read_varint(fields, 2)
    shape = []
    for _ in range(ndim):
        d, pos = _read_varint(fields, pos)
        shape.append(d)
    ce, pos = _read_varint(fields, pos)
    n_chunks, pos = _read_varint(fields, pos)
    common = {"kind": kind, "dtype": dtype, "shape": shape, "ce": ce, "n_chunks": n_chunks}
    return common, fields[pos:], extras, blob[14 + length + 4 :]


def _forge(blob, jlen_delta=0, extra_field=b"", **changes):
    """The stream with common header fields changed and the header CRC recomputed."""
    common, qfields, extras, rest = _split_header(blob)
    common.update(changes)
    fields = bytes([common["kind"], common["dtype"]]) + _varint(len(common["shape"]))
    fields += b"".join(_varint(d) for d in common["shape"])
    fields += _varint(common["ce"]) + _varint(common["n_chunks"]) + qfields + extra_field
    body = struct.pack("<I", len(fields) + jlen_delta) + fields + extras
    versioned = blob[8:10] + struct.pack("<I", len(body)) + body
    return blob[:8] + versioned + struct.pack("<I", zlib.crc32(versioned)) + rest


FORGED = [
    # (forgery, exception, message): each one only the parser's validators can catch
    ({"dtype": 3}, UnsupportedFormatError, "unsupported dtype code 3"),
    ({"kind": 77}, UnsupportedFormatError, "unsupported quantizer kind 77"),
    ({"ce": 1020}, CorruptStreamError, "chunk_elements is invalid"),  # not a multiple of 8
    ({"ce": 0}, CorruptStreamError, "chunk_elements is invalid"),
    ({"n_chunks": 4}, CorruptStreamError, "chunk count does not match"),
    ({"n_chunks": 2}, CorruptStreamError, "chunk count does not match"),
    ({"shape": [3073]}, CorruptStreamError, "chunk count does not match"),  # 4 chunks' worth
    ({"extra_field": b"\x00"}, CorruptStreamError, "unexpected bytes after the header fields"),
    ({"jlen_delta": 10**6}, CorruptStreamError, "header field length exceeds the header"),
]


@pytest.mark.parametrize(("forgery", "exc", "message"), FORGED)
def test_forged_header_with_valid_crc_is_rejected_by_the_parser(blob, forgery, exc, message):
    forged = _forge(blob, **forgery)
    with pytest.raises(exc, match=message):
        codec.decode(forged)
    with pytest.raises(exc, match=message):
        codec.inspect(forged)


def test_forger_round_trips_an_unchanged_header(blob):
    """The forger rebuilds the original bytes when nothing changes (so its CRC is right),
    and a consistent change (another shape with the same chunk count) still decodes."""
    assert _forge(blob) == blob
    y = codec.decode(_forge(blob, shape=[2, 1500]))
    assert y.shape == (2, 1500)
    assert np.array_equal(y.ravel(), codec.decode(blob))


def test_tiny_stream_announcing_a_huge_array_is_refused_before_allocation():
    """A constant chunk codes any number of elements in a few bytes: max_elements is
    checked from the header, before any symbol or output array exists."""
    from codec import container
    from codec.quantizers.lattice import LatticeQuantizer, get_lattice

    n = 2**40
    layout = container.Layout((n,), "float32", 2**40, 1)
    q = LatticeQuantizer(get_lattice("Z"), 1.0, dither=False)
    payload = container.pack_streams([(n, bytes([0, 0]))])  # one constant stream of zeros
    blob = container.pack(layout, q, [(1, payload)])
    assert len(blob) < 100
    with pytest.raises(ValueError, match="max_elements"):
        codec.decode(blob)
    with pytest.raises(ValueError, match="max_elements"):
        codec.decode(blob, max_elements=10**6)
    assert codec.inspect(blob).n_elements == n  # the header alone is fine to read
