"""Status codes that the decoding kernels return (one definition for every kernel).

Plain module-level ints, so numba reads them as compile-time constants.
``codec/coders/base.py::raise_for_status`` turns them into the exceptions of
:mod:`codec.errors`.
"""

#: The stream decoded completely and exactly.
OK = 0
#: The stream ends before its symbols do (:class:`codec.errors.TruncatedStreamError`).
TRUNCATED = 1
#: The stream is inconsistent: a bad table, code, length or leftover bytes
#: (:class:`codec.errors.CorruptStreamError`).
CORRUPT = 2
