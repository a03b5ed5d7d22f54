"""Resident memory of memory-mapped arrays: hand read pages back to the page cache.

Reading an ``np.memmap`` maps the file's pages into the process, and they count
in its resident set until unmapped: reading a 1 GiB memmap once, front to back,
leaves 1 GiB resident. The streaming writer and reader (codec/streaming.py)
and the design sample (codec/api.py) read a mapping piece by piece and hand
each piece's pages back with :func:`release_pages`.
"""

from __future__ import annotations

import mmap

import numpy as np

#: Bytes released on each side of a sampled run: the page cache maps whole folios
#: (up to a 2 MiB huge page) around a fault, more than the run itself.
FOLIO_MARGIN = 2 << 20


def _shared_mapping(view: np.ndarray):
    """The ``mmap.mmap`` under ``view`` if it is an ``np.memmap`` in a shared mode
    (``'r'``, ``'r+'``, ``'w+'``), else None."""
    memmap_mode, obj = None, view
    while isinstance(obj, np.ndarray):
        if isinstance(obj, np.memmap) and memmap_mode is None:
            memmap_mode = getattr(obj, "mode", None)
        obj = obj.base
    if isinstance(obj, mmap.mmap) and memmap_mode in ("r", "r+", "w+"):
        return obj
    return None


def release_pages(view: np.ndarray, *, margin: int = 0) -> None:
    """Drop the pages of ``view`` (and ``margin`` bytes on each side) from this process's
    resident set, if it lies in a shared file mapping; otherwise do nothing.

    ``MADV_DONTNEED`` on a shared file mapping only unmaps: the data stays in the
    page cache and the file (dirty pages are written back as usual), and the next
    read maps it again. It would discard a private (copy-on-write, mode ``'c'``)
    mapping's changes, so those are left alone.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.f32")
    >>> a = np.memmap(path, np.float32, "w+", shape=(1 << 20,))
    >>> a[:] = 2.0
    >>> release_pages(a)
    >>> float(a[12345])
    2.0
    """
    mapping = _shared_mapping(view)
    if mapping is None or view.size == 0 or not hasattr(mapping, "madvise"):
        return
    start = np.frombuffer(mapping, np.uint8).ctypes.data  # the mapping's first byte
    lo = max(view.ctypes.data - start - margin, 0)
    lo -= lo % mmap.PAGESIZE
    hi = min(view.ctypes.data - start + view.nbytes + margin, len(mapping))
    mapping.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


def gather(flat: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``flat[positions]`` as float64; for a shared memory mapping, run of consecutive
    positions by run, releasing each run's pages (and their folios) once copied.

    Examples
    --------
    >>> gather(np.arange(10.0), np.array([1, 2, 3, 7, 8])).tolist()
    [1.0, 2.0, 3.0, 7.0, 8.0]
    """
    if _shared_mapping(flat) is None:
        return flat[positions].astype(np.float64)
    out = np.empty(positions.size, np.float64)
    cuts = np.concatenate(([0], np.flatnonzero(np.diff(positions) != 1) + 1, [positions.size]))
    for i, j in zip(cuts[:-1], cuts[1:], strict=True):
        run = flat[positions[i] : positions[i] + (j - i)]
        out[i:j] = run
        release_pages(run, margin=FOLIO_MARGIN)
    return out
