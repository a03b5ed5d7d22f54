"""Process-level setup: make Numba's fork-safe TBB threading layer loadable.

Numba runs ``parallel=True`` kernels on the first threading layer it can load,
in the order TBB, OpenMP, workqueue. With GNU OpenMP a process that has run a
parallel kernel cannot fork safely: a child of ``multiprocessing``'s ``fork``
start method (or a PyTorch DataLoader worker) that calls the codec prints
"fork() called from a process already using GNU OpenMP" and never returns.
TBB is fork-safe and thread-safe. The ``tbb`` wheel (a dependency on Linux
x86-64) puts ``libtbb.so.12`` in the environment's ``lib/`` folder, where the
dynamic loader does not look; loading it here, before the first parallel
kernel runs, lets Numba's default order pick TBB (and an explicit
``NUMBA_THREADING_LAYER=tbb`` work). Numba's configuration is not touched: a
user's ``NUMBA_THREADING_LAYER`` still decides, and nothing changes if the
library is absent or Numba has already chosen a layer.
"""

from __future__ import annotations

import ctypes
import os
import sys

_TBB_NAMES = ("libtbb.so.12", "libtbb.so")


def preload_tbb() -> str | None:
    """Load the TBB runtime of this environment if present; return its path (None if not).

    Examples
    --------
    >>> path = preload_tbb()
    >>> path is None or path.endswith((".so", ".so.12"))
    True
    """
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        for name in _TBB_NAMES:
            path = os.path.join(prefix, "lib", name)
            if os.path.exists(path):
                try:
                    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                except OSError:
                    continue
                return path
    return None
