r"""The model file's index in binary (format 2.0), and the JSON index of format 1.x.

Both decode to the same dictionary, which :mod:`bindings.torch.archive` validates:
``{"format", "tensors": [...], "groups": [...], "records": [...], "crc"}``.

Format 2.0 stores the index as raw DEFLATE (RFC 1951, no zlib header) of::

    varint T, then T tensors:
        str name, str dtype, varint ndim, ndim x varint dim,
        u8 store (0 "q", 1 "raw", 2 "f16", 3 "fixed", 4 "int"),
        store "q": varint group; otherwise varint rec; store "fixed" also varint zigzag(exp)
    varint G, then G groups:
        varint m, m x varint member (tensor id), varint stream (record),
        varint mask (0: no mask, else the mask's record + 1), varint kept, str mask_coder
    varint R, then R x varint record length
    u32 CRC-32 of the records' bytes (little-endian)

where ``str`` is a varint byte length and that many bytes of UTF-8 (an empty
``mask_coder`` stands for none). Nothing may follow. On LeNet-5 (8 tensors) it
takes about 130 bytes where the zlib-deflated JSON of format 1.0 took 280.
"""

from __future__ import annotations

import json
import struct
import zlib

from codec.errors import CorruptStreamError, UnsupportedFormatError
from codec.framing import FieldReader, unzigzag, varint, zigzag

#: Store codes of format 2.0, in code order.
STORES = ("q", "raw", "f16", "fixed", "int")
#: Largest inflated index accepted (a guard against a deflate bomb in a corrupt file).
MAX_INDEX_BYTES = 1 << 26
_U32 = struct.Struct("<I")


def _str(s: str) -> bytes:
    b = s.encode("utf-8")
    return varint(len(b)) + b


def pack_index(index: dict) -> bytes:
    """The format 2.0 body of ``index`` (raw DEFLATE of the binary layout above)."""
    out = bytearray(varint(len(index["tensors"])))
    for t in index["tensors"]:
        out += _str(t["name"]) + _str(t["dtype"]) + varint(len(t["shape"]))
        out += b"".join(varint(d) for d in t["shape"])
        out.append(STORES.index(t["store"]))
        out += varint(t["group"] if t["store"] == "q" else t["rec"])
        if t["store"] == "fixed":
            out += varint(zigzag(t["exp"]))
    out += varint(len(index["groups"]))
    for g in index["groups"]:
        out += varint(len(g["members"])) + b"".join(varint(m) for m in g["members"])
        out += varint(g["stream"]) + varint(0 if g["mask"] is None else g["mask"] + 1)
        out += varint(g["kept"]) + _str(g["mask_coder"] or "")
    out += varint(len(index["records"])) + b"".join(varint(r) for r in index["records"])
    out += _U32.pack(index["crc"])
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    return deflate.compress(bytes(out)) + deflate.flush()


def _inflate(body: bytes) -> bytes:
    inflate = zlib.decompressobj(-15)
    try:
        raw = inflate.decompress(body, MAX_INDEX_BYTES)
    except zlib.error:
        raise CorruptStreamError("model archive index is not valid") from None
    if inflate.unconsumed_tail or not inflate.eof or inflate.unused_data:
        raise CorruptStreamError("model archive index is not valid")
    return raw


def _read_str(r: FieldReader) -> str:
    try:
        return r.take(r.varint(MAX_INDEX_BYTES)).decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptStreamError("model archive index holds invalid UTF-8") from None


def unpack_index(body: bytes, name: str) -> dict:
    """The index dictionary of a format 2.0 body (``name`` fills its ``"format"``)."""
    r = FieldReader(_inflate(body))
    # every count is bounded by the bytes left, so a corrupt count fails fast
    tensors = []
    for _ in range(r.varint(MAX_INDEX_BYTES)):
        t = {"name": _read_str(r), "dtype": _read_str(r)}
        t["shape"] = [r.varint() for _ in range(r.varint(64))]
        code = r.byte()
        if code >= len(STORES):
            raise UnsupportedFormatError(f"model archive tensor store code {code} is unknown")
        t["store"] = STORES[code]
        t["group" if code == 0 else "rec"] = r.varint()
        if t["store"] == "fixed":
            t["exp"] = unzigzag(r.varint())
        tensors.append(t)
    groups = []
    for _ in range(r.varint(MAX_INDEX_BYTES)):
        g = {"members": [r.varint() for _ in range(r.varint(MAX_INDEX_BYTES))]}
        g["stream"], mask = r.varint(), r.varint()
        g["mask"] = None if mask == 0 else mask - 1
        g["kept"] = r.varint()
        g["mask_coder"] = _read_str(r) or None
        groups.append(g)
    records = [r.varint() for _ in range(r.varint(MAX_INDEX_BYTES))]
    crc = _U32.unpack(r.take(4))[0]
    if not r.at_end():
        raise CorruptStreamError("unexpected bytes after the model archive index")
    return {"format": name, "tensors": tensors, "groups": groups, "records": records, "crc": crc}


def unpack_json_index(body: bytes) -> dict:
    """The index of a format 1.x body (zlib-deflated UTF-8 JSON)."""
    try:
        return json.loads(zlib.decompress(body).decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, ValueError):
        raise CorruptStreamError("model archive index is not valid") from None
