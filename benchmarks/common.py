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


def replace_block(path: Path, text: str, block: str, *, append: bool = True) -> None:
    """Put ``text`` between the ``<!-- block:begin -->`` and ``<!-- block:end -->``
    marks of the page ``path``, so a benchmark rewrites its own generated part of a
    page and nothing else. A page without the marks gets the block appended, or,
    with ``append=False``, is refused (SystemExit naming the marks)."""
    begin, end = f"<!-- {block}:begin -->", f"<!-- {block}:end -->"
    old = path.read_text() if path.exists() else ""
    new_block = f"{begin}\n{text.rstrip()}\n{end}"
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + new_block + rest.split(end, 1)[1]
    elif append:
        new = old.rstrip() + "\n\n" + new_block + "\n"
    else:
        raise SystemExit(f"{path} has no {begin} ... {end} block")
    path.write_text(new)
