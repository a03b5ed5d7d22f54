"""Helpers shared by the benchmark scripts: timing and the one JSON schema.

Every script writes ``{"name", "description", "environment", "results": {...}}``
(CompressAI's layout) so that one plotting/summary tool reads them all.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def best_time(fn, repeats: int = 3) -> float:
    """Best wall-clock seconds of ``repeats`` calls (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def environment() -> dict:
    import numba
    import numpy

    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
    }


def write_results(name: str, description: str, results: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    doc = {
        "name": name,
        "description": description,
        "environment": environment(),
        "results": results,
    }
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return path
