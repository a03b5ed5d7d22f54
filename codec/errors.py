"""Exceptions raised by the codec.

Every failure to read a stream is a :class:`CodecError`; callers that only
want to know "this blob is unusable" catch that one class.

Bad *arguments* (a wrong option, an unsupported dtype, NaN in the input) are
not stream errors: they raise the built-in ``ValueError`` / ``TypeError``.
"""

__all__ = [
    "CodecError",
    "CorruptStreamError",
    "TruncatedStreamError",
    "UnsupportedFormatError",
]


class CodecError(Exception):
    """Base class of every error raised while reading a compressed stream."""


class CorruptStreamError(CodecError):
    """The stream is damaged: a checksum, length, index or table is invalid."""


class TruncatedStreamError(CodecError):
    """The stream ends before the data it announces."""


class UnsupportedFormatError(CodecError):
    """Not an rdcodec stream, or a format version / feature this build cannot read."""
