"""Multi-tensor archives: :func:`save` / :func:`load` named arrays in one file.

Layout (docs/format.md §7)::

    magic 89 52 44 41 0D 0A 1A 0A ("\\x89RDA\\r\\n\\x1a\\n"), u8 major, u8 minor,
    u32 index length L, L bytes of UTF-8 JSON index, u32 CRC-32 of the index,
    then the records' codec streams back to back.

The index is ``{"records": [{"name", "offset", "length", "stats": {...}}, ...]}``
in the order the names were given (sorted names when a dict is given, so ids
never depend on dictionary order). Each record is a complete codec stream
with its own checksums, so one record decodes without touching the others.
"""

from __future__ import annotations

import json
import os

import numpy as np

from .api import decode, encode
from .errors import CorruptStreamError, TruncatedStreamError
from .framing import pack_head, read_head

ARCHIVE_MAGIC = b"\x89RDA\r\n\x1a\n"
ARCHIVE_MAJOR, ARCHIVE_MINOR = 1, 0


def save(path, arrays: dict, **opts) -> dict:
    """Encode every array of ``arrays`` with ``codec.encode(**opts)`` and write one archive.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (overwritten).
    arrays : dict[str, array_like]
        Named float arrays.
    **opts
        Keyword options of :func:`codec.encode`, applied to every array.

    Returns
    -------
    dict
        Per-record stats: ``{name: {"shape", "dtype", "n_elements", "bytes",
        "bits_per_element", "mse"}}`` (``mse`` measured by decoding).

    Examples
    --------
    >>> import numpy as np, codec, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "w.rdc")
    >>> stats = codec.save(path, {"a": np.ones(8), "b": np.zeros((2, 3))}, step=0.1)
    >>> sorted(codec.load(path))
    ['a', 'b']
    """
    if not isinstance(arrays, dict):
        raise TypeError("arrays must be a dict mapping names to arrays")
    records, blobs, stats = [], [], {}
    offset = 0
    for name in sorted(arrays):
        if not isinstance(name, str) or not name:
            raise ValueError("archive names must be non-empty strings")
        x = np.asarray(arrays[name])
        blob = encode(x, **opts)
        x_hat = decode(blob, max_elements=None)
        err = x_hat.astype(np.float64) - x.astype(np.float64)
        st = {
            "shape": list(x.shape),
            "dtype": x.dtype.name,
            "n_elements": int(x.size),
            "bytes": len(blob),
            "bits_per_element": 8.0 * len(blob) / x.size if x.size else None,
            "mse": float(np.mean(err**2)) if x.size else 0.0,
        }
        records.append({"name": name, "offset": offset, "length": len(blob), "stats": st})
        blobs.append(blob)
        stats[name] = st
        offset += len(blob)
    index = json.dumps({"records": records}, sort_keys=True, separators=(",", ":")).encode()
    head = pack_head(ARCHIVE_MAGIC, ARCHIVE_MAJOR, ARCHIVE_MINOR, index, crc_of_body_only=True)
    with open(os.fspath(path), "wb") as f:
        f.write(head)
        for blob in blobs:
            f.write(blob)
    return stats


def read_index(data: bytes) -> tuple[list[dict], int]:
    """Validate an archive's framing; return its records and where the payload starts."""
    head = read_head(
        data, ARCHIVE_MAGIC, what="rdcodec archive", major=ARCHIVE_MAJOR, crc_of_body_only=True
    )
    index = head.body.tobytes()
    try:
        records = json.loads(index.decode("utf-8"))["records"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise CorruptStreamError("archive index is not valid") from None
    base = head.end
    end = base
    for r in records:
        if not isinstance(r, dict) or not isinstance(r.get("name"), str):
            raise CorruptStreamError("archive index record is invalid")
        off, length = r.get("offset"), r.get("length")
        if not isinstance(off, int) or not isinstance(length, int) or off < 0 or length < 0:
            raise CorruptStreamError("archive index record has an invalid offset or length")
        end = max(end, base + off + length)
    if len(data) < end:
        raise TruncatedStreamError("archive ends inside its records")
    if len(data) > end:
        raise CorruptStreamError("unexpected bytes after the last archive record")
    return records, base


def load(path, *, max_elements: int | None = None) -> dict:
    """Read an archive written by :func:`save`; returns ``{name: array}``.

    Raises
    ------
    codec.errors.CodecError
        If the file is truncated, corrupt or not an archive; nothing is
        returned partially.
    """
    with open(os.fspath(path), "rb") as f:
        data = f.read()
    records, base = read_index(data)
    out = {}
    for r in records:
        a = base + r["offset"]
        out[r["name"]] = decode(data[a : a + r["length"]], max_elements=max_elements)
    return out
