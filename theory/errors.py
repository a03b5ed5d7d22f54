"""Exceptions raised by :mod:`theory`.

Bad *arguments* raise the built-in ``ValueError`` / ``TypeError``; the
classes here are for numerical procedures that ran but did not finish.
"""

from __future__ import annotations

__all__ = ["ConvergenceError"]


class ConvergenceError(RuntimeError):
    """An iterative algorithm did not reach its tolerance within ``max_iter``.

    The last iterate is kept in :attr:`result` (``None`` when there is none),
    so a caller can inspect how far it got or resume from it, e.g. by passing
    ``result.reproduction_pmf`` back as ``initial_pmf`` to
    :func:`theory.blahut_arimoto` with a larger ``max_iter``.

    Examples
    --------
    >>> from theory import ConvergenceError
    >>> issubclass(ConvergenceError, RuntimeError)
    True
    """

    def __init__(self, message: str, result=None):
        super().__init__(message)
        self.result = result
