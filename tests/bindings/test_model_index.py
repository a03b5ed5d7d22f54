"""The model file's binary index (format 2.0): round trips, size, and every corrupt or
inconsistent index raising a codec error (the head's CRC is recomputed, so the index
parser and validation are what is tested, not the checksum)."""

from __future__ import annotations

import copy
import json
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import bindings.torch as bt  # noqa: E402
from bindings.torch import _index, archive  # noqa: E402
from codec.errors import CodecError, CorruptStreamError, UnsupportedFormatError  # noqa: E402
from codec.framing import pack_head  # noqa: E402


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))


@pytest.fixture(scope="module")
def blob():
    return bt.compress_model(small_net(), quantizer="uniform", step=0.05, prune=0.5,
                             unquantized=8).to_bytes()  # fmt: skip


def rewrite(data: bytes, change) -> bytes:
    """``data`` with its index changed by ``change(index)``, re-packed with a valid head."""
    index, records = archive._parse(data)
    index = copy.deepcopy(index)
    change(index)
    head = pack_head(archive.MODEL_MAGIC, 2, 0, _index.pack_index(index))
    return head + b"".join(records)


def test_index_round_trips_and_is_smaller_than_the_json_one(blob):
    index, _ = archive._parse(blob)
    body = _index.pack_index(index)
    assert _index.unpack_index(body, archive.FORMAT_NAME) == index
    as_json = zlib.compress(json.dumps(index, sort_keys=True, separators=(",", ":")).encode(), 9)
    assert len(body) < 0.7 * len(as_json)
    assert blob[8:10] == bytes([2, 0])


names = st.text(min_size=0, max_size=12)
tensors = st.lists(
    st.fixed_dictionaries(
        {
            "name": names,
            "dtype": st.sampled_from(["float32", "float16", "int64", "bool"]),
            "shape": st.lists(st.integers(0, 2**40), max_size=5),
            "store": st.sampled_from(_index.STORES),
            "slot": st.integers(0, 2**33),
            "exp": st.integers(-(2**31), 2**31),
        }
    ),
    max_size=6,
)


@given(tensors, st.lists(st.tuples(st.lists(st.integers(0, 300), max_size=4),
                                   st.integers(0, 9), st.one_of(st.none(), st.integers(0, 9)),
                                   st.integers(0, 2**40), st.sampled_from(["context", "huffman"]))),
       st.lists(st.integers(0, 2**40)), st.integers(0, 2**32 - 1))  # fmt: skip
def test_any_index_round_trips(tensor_specs, group_specs, records, crc):
    ts = []
    for t in tensor_specs:
        e = {"name": t["name"], "dtype": t["dtype"], "shape": t["shape"], "store": t["store"]}
        e["group" if t["store"] == "q" else "rec"] = t["slot"]
        if t["store"] == "fixed":
            e["exp"] = t["exp"]
        ts.append(e)
    gs = [{"members": m, "stream": s, "mask": k, "kept": n, "mask_coder": c if k is not None
           else None} for m, s, k, n, c in group_specs]  # fmt: skip
    index = {"format": archive.FORMAT_NAME, "tensors": ts, "groups": gs, "records": records,
             "crc": crc}  # fmt: skip
    assert _index.unpack_index(_index.pack_index(index), archive.FORMAT_NAME) == index


def test_every_truncation_and_flip_of_the_body_raises_a_codec_error(blob):
    index, _ = archive._parse(blob)
    body = _index.pack_index(index)
    for n in range(len(body)):
        with pytest.raises(CodecError):
            _index.unpack_index(body[:n], archive.FORMAT_NAME)
    rng = np.random.default_rng(5)
    for _ in range(300):
        bad = bytearray(body)
        bad[rng.integers(len(bad))] ^= 1 << int(rng.integers(8))
        try:
            got = _index.unpack_index(bytes(bad), archive.FORMAT_NAME)
        except CodecError:
            continue
        assert isinstance(got, dict)  # a flip that still inflates: validation's job below


def _deflate(raw: bytes) -> bytes:
    d = zlib.compressobj(9, zlib.DEFLATED, -15)
    return d.compress(raw) + d.flush()


def test_unknown_store_code_and_trailing_bytes_are_refused():
    # one tensor "a", dtype "f", no dims, store code 9
    raw = bytes([1, 1]) + b"a" + bytes([1]) + b"f" + bytes([0, 9, 0])
    with pytest.raises(UnsupportedFormatError, match="store code 9"):
        _index.unpack_index(_deflate(raw), "x")
    empty = bytes([0, 0, 0]) + bytes(4)  # no tensors, groups or records; CRC 0
    assert _index.unpack_index(_deflate(empty), "x")["records"] == []
    with pytest.raises(CorruptStreamError, match="after the model archive index"):
        _index.unpack_index(_deflate(empty + b"\0"), "x")
    with pytest.raises(CorruptStreamError):  # the deflate stream itself ends early
        _index.unpack_index(_deflate(empty)[:-1], "x")
    with pytest.raises(CorruptStreamError):  # bytes after the end of the deflate stream
        _index.unpack_index(_deflate(empty) + b"\0", "x")


def test_an_index_that_inflates_past_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(_index, "MAX_INDEX_BYTES", 1000)
    with pytest.raises(CorruptStreamError):
        _index.unpack_index(_deflate(bytes(5000)), "x")


def _set(path, value):
    def change(index):
        node = index
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


INCONSISTENT = {
    "group of a tensor out of range": _set(("tensors", 0, "group"), 7),
    "record of a tensor out of range": _set(("tensors", 1, "rec"), 40),
    "member out of range": _set(("groups", 0, "members", 0), 30),
    "member twice": _set(("groups", 0, "members"), [0, 0]),
    "kept past the elements": _set(("groups", 0, "kept"), 10**6),
    "mask is the stream record": lambda ix: ix["groups"][0].update(mask=ix["groups"][0]["stream"]),
    "unknown mask coder": _set(("groups", 0, "mask_coder"), "zstd"),
    "unknown dtype": _set(("tensors", 0, "dtype"), "float128"),
    "shape of another size": _set(("tensors", 0, "shape"), [8, 13]),
    "shape past the element budget": _set(("tensors", 0, "shape"), [2**40, 2**30]),
    "record length off by one": lambda ix: ix["records"].__setitem__(0, ix["records"][0] + 1),
    "payload checksum": lambda ix: ix.update(crc=ix["crc"] ^ 1),
    "fixed exponent far off": _set(("tensors", 1, "exp"), 5000),
}


@pytest.mark.parametrize("what", list(INCONSISTENT))
def test_an_inconsistent_index_raises_a_codec_error_and_loads_nothing(blob, what):
    bad = rewrite(blob, INCONSISTENT[what])
    net = small_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(CodecError):
        bt.load_compressed(bad, net)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items()), what


def test_an_unchanged_rewrite_loads(blob):
    assert rewrite(blob, lambda ix: None) == blob


def test_other_major_versions_are_refused_by_name(blob):
    index, records = archive._parse(blob)
    newer = pack_head(archive.MODEL_MAGIC, 3, 0, _index.pack_index(index)) + b"".join(records)
    with pytest.raises(UnsupportedFormatError, match=r"3\.0 is not supported .*1\.x and 2\.x"):
        bt.decompress_state_dict(newer)
    # a 1.x head over a binary index: the JSON reader refuses it as corrupt
    old_head = pack_head(archive.MODEL_MAGIC, 1, 0, _index.pack_index(index)) + b"".join(records)
    with pytest.raises(CorruptStreamError, match="index is not valid"):
        bt.decompress_state_dict(old_head)
