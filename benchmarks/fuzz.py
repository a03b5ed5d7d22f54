"""Fuzz the decoders: every mutated stream decodes to the right data or raises
a ``codec.errors`` exception, within a time bound (issue 14, item 5).

Seed streams (every quantizer x coder x dtype) are encoded once; hypothesis
draws mutations of their bytes (truncation, bit flips, splices of two streams,
absurd sizes in the header, the chunk table and the stream directories, random
bytes) and a worker subprocess decodes each case under a watchdog, so a hang
or a crash (segfault, abort) of the decoder is counted instead of stopping the
run. Mutations that forge a field re-seal every CRC-32 (docs/format.md §1), so
the parser and the entropy decoders behind the checksums are reached.

Outcomes of one case (the contract; anything else is a failure):

* ``error``: a :class:`codec.errors.CodecError` (the expected result);
* ``refused``: ``ValueError`` from the ``max_elements`` guard (documented:
  the harness decodes with ``max_elements=2**20``, as untrusted input should be);
* ``same``: decoded, equal to the seed's reconstruction (required for unchanged
  or equivalent streams, e.g. a chunk swapped for the same chunk of another coder);
* ``decoded``: a forged stream (CRCs re-sealed) decoded to *some* array: allowed
  only with the shape and dtype its header announces and finite values. A stream
  changed *without* re-sealing may decode only to the data of a seed.

Failures: ``crash`` (any other exception, or the worker died), ``hang`` (no
answer within ``--timeout`` seconds), ``wrong`` (data that breaks the rules above).

Profiles: ``fast`` (the test suite, tests/codec/test_fuzz.py) and ``heavy``
(``RDCODEC_FUZZ=heavy`` or ``--profile heavy``: 10**5 cases per coder), which writes
benchmarks/results/fuzz.json and the ``fuzz`` block of docs/reliability.md::

    python benchmarks/fuzz.py --profile heavy --markdown docs/reliability.md
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import select
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# the repository's codec, not an installed one, and the benchmarks' common helpers
for _p in (str(ROOT), str(ROOT / "benchmarks")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from common import replace_block  # noqa: E402

import codec  # noqa: E402
from codec import container  # noqa: E402
from codec.framing import U32, varint  # noqa: E402

NAME = "fuzz"
BLOCK = "fuzz"
DOCS = ROOT / "docs" / "reliability.md"
RESULTS = ROOT / "benchmarks" / "results"
MAX_ELEMENTS = 1 << 20
#: Worker tags of the harness's self-test: sleep ``count`` ms, or abort (tests/codec/test_fuzz.py).
SELF_TEST_SLEEP, SELF_TEST_ABORT = 254, 255
CODERS = ("arithmetic", "huffman", "lzw", "adaptive")
DTYPES = ("float16", "float32", "float64")
QUANTIZERS = {
    "Z": {"lattice": "Z", "step": 0.1, "seed": 1},
    "D4": {"lattice": "D4", "step": 0.1, "seed": 2},
    "E8": {"lattice": "E8", "step": 0.1, "seed": 3},
    "E8-plain": {"lattice": "E8", "step": 0.1, "dither": False},
    "uniform": {"quantizer": "uniform", "step": 0.1},
    "ecsq": {"quantizer": "ecsq", "lam": 0.05},
    "kmeans": {"quantizer": "kmeans", "levels": 6},
    "tcq": {"quantizer": "tcq", "states": 8, "step": 0.1},
    "vq": {"quantizer": "vq", "levels": 8},
    "pq": {"quantizer": "pq", "levels": 8},
    "rvq": {"quantizer": "rvq", "levels": 4},
}
PROFILES = {"fast": 40, "heavy": 100_000}  # cases per coder
#: Values that break sizes and counts: zero, one, powers of two and their
#: neighbours at the format's limits (varint, u32, the token alphabet, 2^62, 2^64).
ABSURD = (
    0, 1, 2, 3, 7, 8, 9, 15, 16, 63, 64, 65, 255, 256, 4095, 4096, 4147, 4148, 4149,
    (1 << 16) - 1, 1 << 16, 1 << 20, (1 << 20) + 1, (1 << 31) - 1, 1 << 31, (1 << 32) - 1,
    1 << 32, 1 << 40, 1 << 53, (1 << 62) - 1, 1 << 62, (1 << 63) - 1, 1 << 63, (1 << 64) - 1,
)  # fmt: skip
ABSURD_F64 = (
    0.0, -0.0, -1.0, float("nan"), float("inf"), -float("inf"), 5e-324, 1e-300,
    1e300, 1.7976931348623157e308, 1e39, 65504.0, 0.1,
)  # fmt: skip


# ---------------------------------------------------------------------------
# seed streams and their anatomy
# ---------------------------------------------------------------------------
def seed_input(dtype: str) -> np.ndarray:
    """200 values as a (10, 20) array: Gaussian, a few large outliers (tokens with
    extra bits) and a run of zeros (constant stretches)."""
    rng = np.random.default_rng(20261126)
    x = rng.standard_normal(200)
    x[[7, 91, 150]] = [40.0, -300.0, 1000.0]
    x[100:130] = 0.0
    return x.reshape(10, 20).astype(dtype)


@dataclass
class Seed:
    """A valid stream and its parts (for forging fields and re-sealing CRCs)."""

    name: str
    coder: str
    quantizer: str
    dtype: str
    blob: bytes
    fields: bytes  # the J bytes of header fields
    common_len: int  # of which the common fields (kind .. n_chunks)
    extras: bytes
    block: int
    chunks: list  # [(coder id, payload bytes)]
    streams: list  # per chunk: [(count, coded bytes)]
    digest: str = ""  # the reconstruction's digest (filled in by the worker)
    sibling: dict = field(default_factory=dict)  # coder -> the seed with an equal header


def common_fields_length(fields: bytes) -> int:
    """Bytes of the common header fields (docs/format.md §2) at the start of ``fields``."""
    pos = 2

    def skip_varint(p):
        while fields[p] & 0x80:
            p += 1
        return p + 1

    ndim = fields[pos]  # < 64: one byte
    pos += 1
    for _ in range(ndim + 2):  # the shape, chunk_elements, n_chunks
        pos = skip_varint(pos)
    return pos


def anatomy(name: str, coder: str, quantizer: str, dtype: str, blob: bytes) -> Seed:
    parsed = container.parse(blob)
    (hlen,) = U32.unpack_from(blob, 10)
    body = blob[14 : 14 + hlen]
    (jlen,) = U32.unpack_from(body, 0)
    fields, extras = body[4 : 4 + jlen], body[4 + jlen :]
    buf = np.frombuffer(blob, np.uint8)
    chunks, streams = [], []
    for ch in parsed.chunks:
        payload = blob[ch.offset : ch.offset + ch.length]
        chunks.append((ch.coder_id, payload))
        counts, starts, lengths = container.unpack_streams(buf, ch.offset, ch.offset + ch.length)
        parts = zip(counts, starts, lengths, strict=True)
        streams.append([(int(c), blob[int(s) : int(s) + int(n)]) for c, s, n in parts])
    return Seed(
        name, coder, quantizer, dtype, blob, fields, common_fields_length(fields), extras,
        parsed.quantizer.block_size, chunks, streams,
    )  # fmt: skip


def make_seeds(quantizers=None, coders=CODERS, dtypes=DTYPES) -> list[Seed]:
    """Encode every quantizer x coder x dtype once (chunks of 64 elements: several
    chunks and a short last one)."""
    seeds = []
    for q in quantizers or QUANTIZERS:
        for dt in dtypes:
            x = seed_input(dt)
            for c in coders:
                blob = codec.encode(x, coder=c, chunk_size=64, **QUANTIZERS[q])
                seeds.append(anatomy(f"{q}/{c}/{dt}", c, q, dt, blob))
    by_header: dict = {}
    for s in seeds:
        by_header.setdefault((s.fields, s.extras), {})[s.coder] = s
    for s in seeds:
        s.sibling = by_header[(s.fields, s.extras)]
    return seeds


# ---------------------------------------------------------------------------
# mutations
# ---------------------------------------------------------------------------
CONTAINER_OPS = (
    "identity", "truncate", "flip", "flip_sealed", "overwrite_sealed", "splice",
    "splice_sealed", "chunk_swap", "common_field", "layout", "quantizer_field",
    "extras", "table", "directory", "stream", "random", "random_head",
)  # fmt: skip
OPS = CONTAINER_OPS + ("coder_stream",)


@dataclass(frozen=True)
class Mutation:
    """One fuzz case, drawn by hypothesis (:func:`mutations`); every integer is taken
    modulo what it indexes, so any draw is a valid case for any seed."""

    op: str
    a: int  # the seed (modulo the seeds of the run)
    b: int  # a second seed, for splices
    ints: tuple  # positions, lengths, choices
    value: int  # an absurd or random size
    real: float  # an absurd double
    data: bytes  # random bytes


def mutations(ops=OPS):
    """The hypothesis strategy of :class:`Mutation` cases."""
    from hypothesis import strategies as st

    return st.builds(
        Mutation,
        op=st.sampled_from(ops),
        a=st.integers(0, 1 << 16),
        b=st.integers(0, 1 << 16),
        ints=st.tuples(*[st.integers(0, 1 << 32)] * 4),
        value=st.one_of(st.sampled_from(ABSURD), st.integers(0, (1 << 64) - 1)),
        real=st.sampled_from(ABSURD_F64),
        data=st.binary(max_size=48),
    )


def reseal(blob: bytes) -> bytes:
    """Recompute every CRC-32 the bytes still let one find (header, payloads, chunk
    table), so a forged field reaches the parser behind them."""
    b = bytearray(blob)
    if len(b) < 14:
        return bytes(b)
    (hlen,) = U32.unpack_from(b, 10)
    if 18 + hlen > len(b):
        return bytes(b)
    U32.pack_into(b, 14 + hlen, zlib.crc32(b[8 : 14 + hlen]))
    n_chunks = _n_chunks(bytes(b[14 : 14 + hlen]))
    if n_chunks is None or n_chunks > 4096:
        return bytes(b)
    table = 18 + hlen
    end = table + container.CHUNK_ENTRY.size * n_chunks
    if end + 4 > len(b):
        return bytes(b)
    pos = end + 4
    for k in range(n_chunks):
        at = table + container.CHUNK_ENTRY.size * k
        cid, length, _ = container.CHUNK_ENTRY.unpack_from(b, at)
        if pos + length <= len(b):
            U32.pack_into(b, at + 5, zlib.crc32(b[pos : pos + length]))
        pos += length
    U32.pack_into(b, end, zlib.crc32(b[table:end]))
    return bytes(b)


def _n_chunks(body: bytes):
    """The header's n_chunks, or None where the fields cannot be read."""
    try:
        (jlen,) = U32.unpack_from(body, 0)
        fields = body[4 : 4 + jlen]
        pos = common_fields_length(fields)
        p, v, shift = pos - 1, 0, 0
        while p > 0 and fields[p - 1] & 0x80:  # back to the start of the last varint
            p -= 1
        for byte in fields[p:pos]:
            v |= (byte & 0x7F) << shift
            shift += 7
        return v
    except (IndexError, struct.error):
        return None


def pack(fields: bytes, extras: bytes, chunks) -> bytes:
    """A stream with every CRC-32 correct (container.pack_fields, the writer)."""
    return container.pack_fields(fields, extras, chunks)


def _flip(data: bytes, positions, n_bits: int) -> bytes:
    b = bytearray(data)
    if not b:
        return bytes(b)
    for k in range(n_bits):
        p = positions[k % len(positions)] + 7919 * k
        b[p % len(b)] ^= 1 << (p // len(b) % 8)
    return bytes(b)


def _common_fields(seed: Seed, m: Mutation) -> bytes:
    """The common header fields with one of them (or ndim) set to an absurd value."""
    f = seed.fields
    kind, dtype, ndim = f[0], f[1], f[2]
    r = container.FieldReader(f, 3)
    shape = [r.varint() for _ in range(ndim)]
    ce, nch = r.varint(), r.varint()
    which = m.ints[0] % 6
    v = m.value
    if which == 0:
        kind = v % 256
    elif which == 1:
        dtype = v % 256
    elif which == 2:  # more or fewer dimensions
        shape = (shape + [v] * 70)[: m.ints[1] % 66]
    elif which == 3:
        shape[m.ints[1] % len(shape)] = v
    elif which == 4:
        ce = v
    else:
        nch = v
    out = bytes([kind, dtype]) + varint(len(shape)) + b"".join(varint(d) for d in shape)
    return out + varint(ce) + varint(nch) + f[seed.common_len :]


def _layout(seed: Seed, m: Mutation) -> bytes:
    """A consistent forged layout: shape, chunk size and chunk count that pass the
    header checks, over the seed's chunks (cut or repeated), reaching the decoders."""
    n = m.value % (1 << (m.ints[0] % 40 + 1))
    ce_choices = (seed.block, 64, 128, n or 1, 1 << 40, m.ints[1] + 1)
    ce = ce_choices[m.ints[2] % len(ce_choices)]
    n_pad = -(-n // seed.block) * seed.block
    nch = -(-n_pad // ce)
    fields = bytes(seed.fields[:2]) + varint(1) + varint(n) + varint(ce) + varint(nch)
    fields += seed.fields[seed.common_len :]
    k = min(nch, 256)
    chunks = [seed.chunks[(i + m.ints[3]) % len(seed.chunks)] for i in range(k)]
    return pack(fields, seed.extras, chunks)


def _quantizer_field(seed: Seed, m: Mutation) -> bytes:
    """An absurd varint, double or byte written into the quantizer's own fields."""
    f = bytearray(seed.fields)
    q0 = seed.common_len
    qlen = max(len(f) - q0, 1)
    at = q0 + m.ints[0] % qlen
    how = m.ints[1] % 4
    if how == 0:  # an absurd double (steps) over 8 bytes
        f[at : at + 8] = struct.pack("<d", m.real)
    elif how == 1:  # a varint replacing the next varint-looking run
        end = at
        while end < len(f) and f[end] & 0x80:
            end += 1
        f[at : end + 1] = varint(m.value)
    elif how == 2:
        f[at % len(f)] = m.value % 256
    else:  # bytes inserted or removed: the fields no longer fill J exactly
        f = f[:at] + m.data[: m.ints[2] % 4] + f[at + m.ints[3] % 3 :]
    return pack(bytes(f), seed.extras, seed.chunks)


def _extras(seed: Seed, m: Mutation) -> bytes:
    """Codebooks / levels: NaN, Inf or absurd doubles, other bytes, other lengths."""
    e = bytearray(seed.extras)
    how = m.ints[0] % 3
    if how == 0 and e:
        at = m.ints[1] % len(e)
        width = (2, 4, 8)[m.ints[2] % 3]  # whatever the level dtype is
        fmt = {2: "<e", 4: "<f", 8: "<d"}[width]
        try:
            e[at : at + width] = struct.pack(fmt, m.real)
        except (OverflowError, struct.error):
            e[at : at + width] = bytes([0xFF] * width)
    elif how == 1:
        e = e[: m.ints[1] % (len(e) + 1)] + m.data
    else:
        e = bytearray(_flip(bytes(e), m.ints, 1 + m.ints[3] % 4))
    return pack(seed.fields, bytes(e), seed.chunks)


def _table(seed: Seed, m: Mutation) -> bytes:
    """A chunk-table entry with another (or an unknown) coder id or an absurd length."""
    b = bytearray(seed.blob)
    (hlen,) = U32.unpack_from(b, 10)
    k = m.ints[0] % len(seed.chunks)
    at = 18 + hlen + container.CHUNK_ENTRY.size * k
    cid, length, crc = container.CHUNK_ENTRY.unpack_from(b, at)
    how = m.ints[1] % 4
    if how == 0:
        cid = m.value % 256
    elif how == 1:
        cid = 1 + m.ints[2] % 4  # a known coder reading another coder's bytes
    elif how == 2:
        length = m.value % (1 << 32)
    else:
        length = (length + m.ints[2] % 7 - 3) % (1 << 32)
    container.CHUNK_ENTRY.pack_into(b, at, cid, length, crc)
    return reseal(bytes(b))


def _directory(seed: Seed, m: Mutation) -> bytes:
    """A chunk's stream directory with an absurd stream count, symbol count or byte length."""
    k = m.ints[0] % len(seed.chunks)
    streams = list(seed.streams[k])
    how = m.ints[1] % 4
    if how == 0 and streams:  # absurd symbol count
        s = m.ints[2] % len(streams)
        streams[s] = (m.value, streams[s][1])
    elif how == 1 and streams:  # count off by a little
        s = m.ints[2] % len(streams)
        streams[s] = (max(0, streams[s][0] + m.ints[3] % 5 - 2), streams[s][1])
    elif how == 2:  # streams dropped or added
        streams = (streams + [(m.ints[3] % 9, m.data)] * 70)[: m.value % 70]
    else:  # raw directory: an absurd stream count in front of the streams' bytes
        data = b"".join(d for _, d in streams)
        payload = varint(m.value) + b"".join(varint(c) + varint(len(d)) for c, d in streams)
        return _with_payload(seed, k, payload + data)
    return _with_payload(seed, k, container.pack_streams(streams))


def _stream(seed: Seed, m: Mutation) -> bytes:
    """One coded stream damaged behind valid CRCs: the entropy decoders are reached."""
    k = m.ints[0] % len(seed.chunks)
    streams = list(seed.streams[k])
    if not streams:
        return seed.blob
    s = m.ints[1] % len(streams)
    count, data = streams[s]
    streams[s] = (count, _damage(data, m))
    return _with_payload(seed, k, container.pack_streams(streams))


def _damage(data: bytes, m: Mutation) -> bytes:
    how = m.ints[2] % 5
    if how == 0:
        return _flip(data, m.ints, 1 + m.ints[3] % 3)
    if how == 1:
        return data[: m.ints[3] % (len(data) + 1)]  # cut
    if how == 2:
        return data + m.data  # trailing bytes
    if how == 3:  # a run of bytes overwritten
        at = m.ints[3] % (len(data) + 1)
        return data[:at] + m.data + data[at + len(m.data) :]
    return m.data


def _with_payload(seed: Seed, k: int, payload: bytes) -> bytes:
    chunks = list(seed.chunks)
    chunks[k] = (chunks[k][0], payload)
    return pack(seed.fields, seed.extras, chunks)


def _chunk_swap(seed: Seed, m: Mutation) -> bytes:
    """Chunks taken from the same stream coded by other coders (equal header): an
    equivalent stream, which must decode to the same data (a per-chunk 'auto')."""
    chunks = list(seed.chunks)
    for k in range(len(chunks)):
        other = seed.sibling.get(CODERS[(m.ints[0] >> (2 * k)) % 4], seed)
        if (m.ints[1] >> k) & 1 and other.fields == seed.fields and len(other.chunks) > k:
            chunks[k] = other.chunks[k]
    return pack(seed.fields, seed.extras, chunks)


def apply(m: Mutation, seeds: list) -> tuple[bytes, str]:
    """The bytes of a container case and its rule: ``"same"`` (must decode to the
    seed's data), ``"raw"`` (unsealed: may decode only to a seed's data),
    ``"splice"`` (two unsealed streams: may also be a valid stream made of one's header
    and the other's chunks) or ``"forged"`` (sealed: any consistent, finite array)."""
    seed = seeds[m.a % len(seeds)]
    other = seeds[m.b % len(seeds)]
    blob, i, j = seed.blob, m.ints[0], m.ints[1]
    op = m.op
    if op == "identity":
        return blob, "same"
    if op == "truncate":
        return blob[: i % len(blob)], "raw"
    if op == "flip":
        return _flip(blob, m.ints, 1 + j % 8), "raw"
    if op == "flip_sealed":
        return reseal(_flip(blob, m.ints, 1 + j % 8)), "forged"
    if op == "overwrite_sealed":
        at = i % len(blob)
        return reseal(blob[:at] + m.data + blob[at + len(m.data) :]), "forged"
    if op in ("splice", "splice_sealed"):
        spliced = blob[: i % (len(blob) + 1)] + other.blob[j % (len(other.blob) + 1) :]
        # The CRCs guard each section but do not bind the chunk table to the header, so a
        # splice at the section boundary of two streams with one layout is a valid stream.
        return (spliced, "splice") if op == "splice" else (reseal(spliced), "forged")
    if op == "chunk_swap":
        return _chunk_swap(seed, m), "same"
    if op == "random":
        return m.data, "raw"
    if op == "random_head":  # a valid head around random fields: reaches the header parser
        body = U32.pack(m.ints[2] % (len(m.data) + 2)) + m.data
        head = container.MAGIC + bytes([1, 0]) + U32.pack(len(body)) + body
        return head + U32.pack(zlib.crc32(head[8:])) + other.blob[j % len(other.blob) :], "forged"
    forge = {
        "common_field": lambda: pack(_common_fields(seed, m), seed.extras, seed.chunks),
        "layout": lambda: _layout(seed, m),
        "quantizer_field": lambda: _quantizer_field(seed, m),
        "extras": lambda: _extras(seed, m),
        "table": lambda: _table(seed, m),
        "directory": lambda: _directory(seed, m),
        "stream": lambda: _stream(seed, m),
    }
    return forge[op](), "forged"


def coder_case(m: Mutation, seeds: list) -> tuple[int, int, bytes, str]:
    """A case for one coder's decoder entry (``Coder.decode``): a seed stream, damaged
    or not, and a symbol count (the original, off by a little, or another)."""
    seed = seeds[m.a % len(seeds)]
    k = m.ints[0] % len(seed.streams)
    if not seed.streams[k]:
        return seed.chunks[k][0], 0, b"", "same"
    count, data = seed.streams[k][m.ints[1] % len(seed.streams[k])]
    how = m.ints[3] % 4
    if how == 0:
        return seed.chunks[k][0], count, data, "same"
    new_count = (count, count + m.ints[2] % 5 - 2, m.value % (1 << 16))[m.ints[2] % 3]
    return seed.chunks[k][0], max(new_count, 0), _damage(data, m), "forged"


# ---------------------------------------------------------------------------
# the worker: decodes cases sent on stdin, answers on stdout
# ---------------------------------------------------------------------------
def _digest(y: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{y.dtype.str}{y.shape}".encode())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()


def decode_outcome(tag: int, count: int, blob: bytes) -> dict:
    """Decode one case here and describe what happened (see the module docstring)."""
    from codec.coders import coder_by_id
    from codec.errors import CodecError

    t0 = time.perf_counter()
    if tag >= SELF_TEST_SLEEP:  # the harness's own tests: a hang and a crash on demand
        if tag == SELF_TEST_SLEEP:
            time.sleep(count / 1000)
        else:
            os.abort()
    try:
        if tag == 0:
            y = codec.decode(blob, max_elements=MAX_ELEMENTS)
        else:
            y = coder_by_id(tag).decode(blob, count)
    except CodecError as exc:
        return {"kind": "error", "type": type(exc).__name__, "s": time.perf_counter() - t0}
    except ValueError as exc:
        if tag == 0 and "max_elements" in str(exc):
            return {"kind": "refused", "s": time.perf_counter() - t0}
        return _bug(exc, t0)
    except Exception as exc:  # noqa: BLE001 - every other exception is a finding
        return _bug(exc, t0)
    s = time.perf_counter() - t0
    out = {"kind": "ok", "s": s, "digest": _digest(y), "finite": bool(np.isfinite(y).all())}
    if tag == 0:  # what the header announces, read again by inspect
        info = codec.inspect(blob)
        out["consistent"] = tuple(info.shape) == y.shape and info.dtype == y.dtype.name
    else:
        out["consistent"] = y.shape == (count,)
    return out


def _bug(exc: BaseException, t0: float) -> dict:
    import traceback

    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return {
        "kind": "bug",
        "type": type(exc).__name__,
        "message": str(exc)[:300],
        "where": "".join(tb[-3:])[-800:],
        "s": time.perf_counter() - t0,
    }


def worker_main() -> None:
    """Loop: ``u8 tag, u64 count, u32 n, n bytes`` in, ``u32 n, n bytes of JSON`` out."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash is counted, not dumped
    rd, wr = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = rd.read(13)
        if len(head) < 13:
            return
        tag, count, n = struct.unpack("<BQI", head)
        out = json.dumps(decode_outcome(tag, count, rd.read(n))).encode()
        wr.write(U32.pack(len(out)) + out)
        wr.flush()


class Hang(Exception):
    """The worker gave no answer within the time bound."""


class WorkerDied(Exception):
    """The worker process ended (a crash of the decoder: segfault, abort, OOM kill)."""


class Worker:
    """A decoding subprocess with a watchdog: :meth:`decode` raises :class:`Hang` after
    ``timeout`` seconds (and restarts the worker) or :class:`WorkerDied`."""

    def __init__(self, timeout: float = 10.0, threads: int = 1):
        self.timeout = timeout
        self.threads = threads
        self.proc = None
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_NUM_THREADS=str(self.threads))
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )

    def restart(self) -> None:
        self.close()
        self.restarts += 1
        self._start()

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def decode(self, blob: bytes, tag: int = 0, count: int = 0, timeout: float | None = None):
        p = self.proc
        try:
            p.stdin.write(struct.pack("<BQI", tag, count, len(blob)) + blob)
            p.stdin.flush()
            head = self._read(4, timeout)
            return json.loads(self._read(U32.unpack(head)[0], timeout))
        except (BrokenPipeError, WorkerDied):
            self.restart()
            raise WorkerDied from None
        except Hang:
            self.restart()
            raise

    def _read(self, n: int, timeout: float | None) -> bytes:
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        out = b""
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise Hang
            part = os.read(fd, n - len(out))
            if not part:
                raise WorkerDied
            out += part
        return out


# ---------------------------------------------------------------------------
# running cases and counting
# ---------------------------------------------------------------------------
@dataclass
class Tally:
    """Counts of one coder's cases (container and direct decoder entry)."""

    cases: int = 0
    container: int = 0
    direct: int = 0
    outcomes: dict = field(default_factory=dict)  # error / refused / same / decoded
    by_op: dict = field(default_factory=dict)  # op -> outcome -> count
    crashes: int = 0
    hangs: int = 0
    wrong: int = 0
    slowest_s: float = 0.0
    slowest_op: str = ""
    failures: list = field(default_factory=list)

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "failures"}
        d["slowest_ms"] = round(1e3 * d.pop("slowest_s"), 3)
        d["failures"] = self.failures[:20]
        return d


class Fuzzer:
    """Seeds, a worker and the per-coder tallies; :meth:`run_case` checks one case."""

    def __init__(self, seeds: list, *, timeout: float = 10.0, threads: int = 1, warm=600.0):
        self.seeds = seeds
        self.worker = Worker(timeout, threads)
        self.digests = set()
        self.tallies = {c: Tally() for c in CODERS}
        self.coder_refs: dict = {}
        # First decodes compile or load Numba's cache: outside the time bound.
        for s in seeds:
            out = self.worker.decode(s.blob, timeout=warm)
            if out["kind"] != "ok":
                raise RuntimeError(f"seed {s.name} does not decode: {out}")
            s.digest = out["digest"]
            self.digests.add(s.digest)
            for k, streams in enumerate(s.streams):
                for count, data in streams:
                    ref = self.worker.decode(data, s.chunks[k][0], count, timeout=warm)
                    self.coder_refs[(s.chunks[k][0], count, data)] = ref["digest"]

    def close(self) -> None:
        self.worker.close()

    def run_case(self, m: Mutation, seeds: list | None = None) -> str:
        """Decode the case ``m`` and return its outcome (a failure is also recorded)."""
        seeds = seeds or self.seeds
        seed = seeds[m.a % len(seeds)]
        if m.op == "coder_stream":
            tag, count, blob, rule = coder_case(m, seeds)
            if not blob and rule == "same":
                tag, count, blob = 1, 0, b""
        else:
            tag, count = 0, 0
            blob, rule = apply(m, seeds)
            if blob == seed.blob:
                rule = "same"
        tally = self.tallies[seed.coder]
        tally.cases += 1
        if tag:
            tally.direct += 1
        else:
            tally.container += 1
        try:
            out = self.worker.decode(blob, tag, count)
        except Hang:
            return self._fail(tally, "hang", m, seed, blob, {"timeout_s": self.worker.timeout})
        except WorkerDied:
            return self._fail(tally, "crash", m, seed, blob, {"worker": "died"})
        if out["s"] > tally.slowest_s:
            tally.slowest_s, tally.slowest_op = out["s"], m.op
        kind = self._judge(out, rule, seed, tag, count, blob)
        if kind in ("crash", "wrong"):
            return self._fail(tally, kind, m, seed, blob, out)
        tally.outcomes[kind] = tally.outcomes.get(kind, 0) + 1
        per_op = tally.by_op.setdefault(m.op, {})
        per_op[kind] = per_op.get(kind, 0) + 1
        return kind

    def _judge(self, out: dict, rule: str, seed: Seed, tag: int, count: int, blob: bytes) -> str:
        if out["kind"] == "bug":
            return "crash"
        if out["kind"] in ("error", "refused"):
            return "wrong" if rule == "same" else out["kind"]
        if tag:
            ref = self.coder_refs.get((tag, count, blob))
            good = ref is None or out["digest"] == ref
            if rule == "same" and ref is not None:
                return "same" if good else "wrong"
            return "decoded" if out["consistent"] and good else "wrong"
        if rule == "same":
            return "same" if out["digest"] == seed.digest else "wrong"
        if rule == "raw":
            return "same" if out["digest"] in self.digests else "wrong"
        if rule == "splice":  # a header spliced onto another stream's chunk table is valid
            good = out["digest"] in self.digests or (out["consistent"] and out["finite"])
            return "decoded" if good else "wrong"
        return "decoded" if out["consistent"] and out["finite"] else "wrong"

    def _fail(self, tally: Tally, kind: str, m: Mutation, seed: Seed, blob: bytes, out) -> str:
        attr = {"hang": "hangs", "crash": "crashes", "wrong": "wrong"}[kind]
        setattr(tally, attr, getattr(tally, attr) + 1)
        tally.failures.append(
            {"kind": kind, "op": m.op, "seed": seed.name,
             "outcome": out, "bytes": blob[:4096].hex()}
        )  # fmt: skip
        return kind


def run_profile(
    fuzzer: Fuzzer, cases_per_coder: int, seed=0, progress=None, batch=1000, deadline=None
) -> bool:
    """Hypothesis-driven cases: ``cases_per_coder`` for each coder, over that coder's
    seeds, in rounds of ``batch`` per coder (so a run stopped early has every coder).
    Stops after the round that passes ``deadline`` (``time.time()``); True if complete."""
    target = {c: fuzzer.tallies[c].cases + cases_per_coder for c in CODERS}
    while any(fuzzer.tallies[c].cases < target[c] for c in CODERS):
        if deadline is not None and time.time() > deadline:
            return False
        for coder in CODERS:
            n = min(batch, target[coder] - fuzzer.tallies[coder].cases)
            if n > 0:
                _hypothesis_round(fuzzer, coder, n, seed)
                seed += 1
        if progress:
            progress()
    return True


def _hypothesis_round(fuzzer: Fuzzer, coder: str, n: int, seed: int) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hyp_seed

    seeds = [s for s in fuzzer.seeds if s.coder == coder]
    stop = fuzzer.tallies[coder].cases + n

    @hyp_seed(seed)
    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(mutations())
    def loop(m):
        if fuzzer.tallies[coder].cases < stop:
            fuzzer.run_case(m, seeds)

    # Hypothesis may stop short of max_examples on duplicate draws: go on until the count.
    while fuzzer.tallies[coder].cases < stop:
        loop()
        seed += 1 << 20


# ---------------------------------------------------------------------------
# results: JSON and the docs block
# ---------------------------------------------------------------------------
def markdown(res: dict) -> str:
    rows = [
        "| coder | cases | of which container / decoder entry | `CodecError` | refused "
        "(`max_elements`) | decoded, same data | decoded forged stream | crashes | hangs | "
        "wrong data | slowest decode, ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in CODERS:
        t = res["coders"][c]
        o = t["outcomes"]
        rows.append(
            f"| {c} | {t['cases']:,} | {t['container']:,} / {t['direct']:,} | "
            f"{o.get('error', 0):,} | {o.get('refused', 0):,} | {o.get('same', 0):,} | "
            f"{o.get('decoded', 0):,} | {t['crashes']} | {t['hangs']} | {t['wrong']} | "
            f"{t['slowest_ms']:.1f} ({t['slowest_op']}) |"
        )
    runs = res.get("runs") or [res["run"]]
    meta = runs[0]
    rows += [
        "",
        f"{meta['seeds']} seed streams ({meta['quantizers']} quantizers × 4 coders × "
        f"3 dtypes, 200 values, chunks of 64), per-case time bound {meta['timeout_s']:g} s, "
        f"`max_elements={MAX_ELEMENTS}`, {meta['threads']} Numba thread(s) in the worker. "
        + ("Runs, summed: " if len(runs) > 1 else "Run: ")
        + "; ".join(_run_line(r) for r in runs)
        + "."
        + (f" Summed by `{res['merged_by']}`." if res.get("merged_by") else "")
        + " The slowest decode is wall-clock time in a worker sharing the machine's cores.",
    ]
    return "\n".join(rows)


def merge(runs: list) -> dict:
    """The sum of several runs' counts (runs with other hypothesis seeds add cases)."""
    coders = {}
    for c in CODERS:
        parts = [r["coders"][c] for r in runs]
        t = {k: sum(p[k] for p in parts) for k in ("cases", "container", "direct")}
        t.update({k: sum(p[k] for p in parts) for k in ("crashes", "hangs", "wrong")})
        t["outcomes"], t["by_op"] = {}, {}
        for p in parts:
            for k, v in p["outcomes"].items():
                t["outcomes"][k] = t["outcomes"].get(k, 0) + v
            for op, d in p["by_op"].items():
                mine = t["by_op"].setdefault(op, {})
                for k, v in d.items():
                    mine[k] = mine.get(k, 0) + v
        slow = max(parts, key=lambda p: p["slowest_ms"])
        t["slowest_ms"], t["slowest_op"] = slow["slowest_ms"], slow["slowest_op"]
        t["failures"] = [f for p in parts for f in p["failures"]][:20]
        coders[c] = t
    return {"coders": coders, "runs": [r["run"] for r in runs]}


def _run_line(meta: dict) -> str:
    done = "" if meta.get("complete", True) else ", stopped before its count (time limit)"
    return (
        f"`{meta['command']}`: hypothesis seed {meta['seed']}, {meta['seconds']:.0f} s{done} "
        f"(load average {meta['loadavg_start']} at the start, {meta['loadavg_end']} at the "
        f"end; {meta['date']})"
    )


def command_line(script: str, argv: list) -> str:
    """The command that reproduces a run (without ``--markdown PAGE``, which only copies it)."""
    kept, skip = [], False
    for a in argv:
        if skip or a.startswith("--markdown"):
            skip = a == "--markdown"
            continue
        kept.append(a)
    return " ".join(["python", script, *kept])


def write_json(
    res: dict,
    path: Path,
    name: str = NAME,
    description: str = "mutated streams: CodecError or the right data, in bounded time",
) -> None:
    """benchmarks/common.py's schema: ``{name, description, environment, results}``."""
    import platform

    import numba

    doc = {
        "name": name,
        "description": description,
        "environment": {  # benchmarks/common.py's fields (this file is also imported by tests)
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "numpy": np.__version__,
            "numba": numba.__version__,
        },
        "results": res,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--profile", choices=PROFILES, default=os.environ.get("RDCODEC_FUZZ", "fast"))
    p.add_argument("--cases", type=int, default=None, help="cases per coder (overrides profile)")
    p.add_argument("--seed", type=int, default=0, help="hypothesis seed")
    p.add_argument("--timeout", type=float, default=10.0, help="per-case time bound, s")
    p.add_argument("--threads", type=int, default=1, help="Numba threads of the worker")
    p.add_argument("--quantizers", default=",".join(QUANTIZERS))
    p.add_argument("--out", type=Path, default=None, help="results JSON (default: none for fast)")
    p.add_argument("--markdown", type=Path, default=None, help="write the block into this page")
    p.add_argument("--report", action="store_true", help="only rewrite --markdown from --out")
    p.add_argument("--batch", type=int, default=1000, help="cases per coder per round")
    p.add_argument("--max-seconds", type=float, default=None, help="stop after this long")
    p.add_argument(
        "--merge", type=Path, nargs="+", default=None, help="sum these runs' JSON into --out"
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(argv)
    if args.worker:
        worker_main()
        return {}
    out = args.out or (RESULTS / f"{NAME}.json" if args.profile == "heavy" else None)
    if args.merge:
        res = merge([json.loads(f.read_text())["results"] for f in args.merge])
        res["merged_by"] = command_line("benchmarks/fuzz.py", argv)
        write_json(res, out or RESULTS / f"{NAME}.json")
    elif args.report:
        res = json.loads(out.read_text())["results"]
    else:
        res = run(args, argv, out)
        if out:
            write_json(res, out)
    text = markdown(res)
    print(text)
    if args.markdown:
        replace_block(args.markdown, text, BLOCK)
    return res


def run(args, argv: list, out: Path | None = None) -> dict:
    """Seeds, worker, the hypothesis rounds; the results dict (written to ``out`` as it goes)."""
    cases = args.cases or PROFILES[args.profile]
    quantizers = [q for q in args.quantizers.split(",") if q]
    if "--profile" not in argv:  # chosen by RDCODEC_FUZZ: say so in the command
        argv = [*argv, "--profile", args.profile]
    command = command_line("benchmarks/fuzz.py", argv)
    t0, load0 = time.time(), os.getloadavg()
    seeds = make_seeds(quantizers)
    fuzzer = Fuzzer(seeds, timeout=args.timeout, threads=args.threads)

    def results(complete: bool) -> dict:
        return {
            "coders": {c: t.as_dict() for c, t in fuzzer.tallies.items()},
            "run": {
                "complete": complete,
                "profile": args.profile,
                "cases_per_coder": cases,
                "seed": args.seed,
                "seeds": len(seeds),
                "quantizers": len(quantizers),
                "timeout_s": args.timeout,
                "threads": args.threads,
                "worker_restarts": fuzzer.worker.restarts,
                "seconds": round(time.time() - t0, 1),
                "loadavg_start": round(load0[0], 2),
                "loadavg_end": round(os.getloadavg()[0], 2),
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "command": command.strip(),
            },
        }

    def progress():
        res = results(False)
        if out:  # a run stopped early still leaves its counts
            write_json(res, out)
        done = {c: t["cases"] for c, t in res["coders"].items()}
        bad = sum(t["crashes"] + t["hangs"] + t["wrong"] for t in res["coders"].values())
        print(f"{done} failures {bad}, {res['run']['seconds']:.0f} s", file=sys.stderr, flush=True)

    deadline = t0 + args.max_seconds if args.max_seconds else None
    try:
        complete = run_profile(fuzzer, cases, args.seed, progress, args.batch, deadline)
    finally:
        fuzzer.close()
    return results(complete)


if __name__ == "__main__":
    main()
