"""Mutation testing of the Numba kernels and the quantizers with cosmic-ray (``make mutants``).

Run from the repository root::

    .venv/bin/python benchmarks/mutants.py [--per-module 8] [--seed 0]
        [--modules codec/_kernels/lattice.py ...] [--lines N ... [--operators OP ...]]

For each module of :data:`MODULES` it copies the project into a scratch
directory, lets ``cosmic-ray init`` list every mutant of that module (operators
replace binary/comparison/boolean/unary operators, numbers, ``True``/``False``,
``break``/``continue``, ...), keeps a sample of ``--per-module`` of them drawn by
``numpy.random.default_rng(seed)`` (the others are marked skipped in the
session database), and has ``cosmic-ray exec`` apply each sampled mutant in
turn and run the module's short test selection (:data:`MODULES`; the golden
byte files are left out on purpose: the score measures the property tests, not
the pinned bytes). A mutant is *killed* when the selection fails or times out,
*survived* when it passes. The results, with the diff of every survivor, go to
``benchmarks/results/mutants.json``; ``docs/scripts/doc_blocks.py`` turns
them into the score table of docs/testing.md. ``--modules`` reruns some
modules and keeps the other modules' rows. ``--lines`` (one module) runs
every mutant that starts on those lines instead of a sample, to recheck a
survivor against the test added for it; those rows go to
``benchmarks/results/mutants_rechecks.json``.

**Numba's on-disk cache.** The kernels are ``@njit(cache=True)``; Numba checks a
cached kernel only against its own source file, so a kernel that calls a
mutated kernel of *another* module keeps running the unmutated machine code
and every such mutant would survive. Each test run therefore gets its own
``NUMBA_CACHE_DIR``: a copy of a cache warmed once on the unmutated code, minus
every entry of the mutated module and of the kernel modules that import it,
directly or not (:func:`dependents`), so only what the mutant can change is
recompiled. ``__pycache__`` folders of the scratch copy are removed first and
cosmic-ray runs the tests with ``PYTHONDONTWRITEBYTECODE=1``.

Hypothesis runs with the ``mutants`` profile of tests/conftest.py
(derandomized, no example database, 20 examples), so a rerun gives the same
verdicts and one mutant's failing examples are not replayed on the next.

Exit status 0 when every module's unmutated selection passed (the baseline);
mutants that survive do not fail the command.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_results  # noqa: E402

NAME = "mutants"
RECHECKS = "mutants_rechecks"  # --lines: survivors rerun against the tests added for them
DESCRIPTION = (
    "Mutation testing (cosmic-ray) of codec/_kernels and codec/quantizers: per module, "
    "a seeded sample of mutants, each run against a short test selection with a fresh "
    "Numba cache; killed/survived counts, score = killed / (killed + survived), survivors' diffs."
)

_CODERS = ("tests/codec/test_range_coder.py",
           "tests/codec/test_coders.py::test_round_trip_any_int64",
           "tests/codec/test_coders.py::test_round_trip_small_alphabets",
           "tests/codec/test_coders.py::test_huffman_payload_within_one_bit_of_entropy",
           "tests/codec/test_coders.py::test_huffman_codes_longer_than_the_primary_table_round_trip",
           "tests/codec/test_coders.py::test_bytes_match_the_reference_encoder",
           "tests/codec/test_coders.py::test_every_truncation_raises")
#: module -> its short test selection (pytest node ids). Chosen to run in well under a
#: minute on a warm cache; the coders' selection avoids the batch kernels (codec.encode),
#: whose compilation alone takes minutes.
MODULES: dict[str, tuple[str, ...]] = {
    # test_roundtrip.py: the chunk quantizer and the stream split/join kernels are reached
    # only through codec.encode/decode (four survivors of a test_lattice.py-only run)
    "codec/_kernels/lattice.py": ("tests/codec/test_lattice.py",
                                  "tests/codec/test_roundtrip.py"),
    "codec/_kernels/scalar.py": ("tests/codec/test_scalar_design.py",),
    "codec/_kernels/trellis.py": ("tests/codec/test_tcq.py",),
    "codec/_kernels/vq.py": ("tests/codec/test_vq.py",),
    "codec/_kernels/range_coder.py": _CODERS,
    "codec/_kernels/huffman.py": _CODERS,
    "codec/_kernels/lzw.py": _CODERS,
    # + the damaged-stream decodes under NUMBA_BOUNDSCHECK=1 (a minute of compiling): a
    # check that keeps a read inside the stream changes no status the other tests see
    "codec/_kernels/adaptive.py": (*_CODERS, "tests/codec/test_boundscheck.py"),
    "codec/_kernels/tokens.py": _CODERS,
    "codec/_kernels/bitio.py": _CODERS,
    "codec/_kernels/mask.py": ("tests/codec/test_mask_coder.py",
                               "tests/codec/test_boundscheck.py"),
    "codec/quantizers/lattice.py": ("tests/codec/test_lattice.py",
                                    "tests/codec/test_roundtrip.py"),
    "codec/quantizers/scalar_codebook.py": ("tests/codec/test_scalar_design.py",),
    "codec/quantizers/scalar_design.py": ("tests/codec/test_scalar_design.py",),
    "codec/quantizers/scalar_targets.py": ("tests/codec/test_scalar_design.py",),
    "codec/quantizers/codebook.py": ("tests/codec/test_scalar_codec.py",),
    "codec/quantizers/tcq.py": ("tests/codec/test_tcq.py",),
    "codec/quantizers/tcq_trellis.py": ("tests/codec/test_tcq.py",),
    "codec/quantizers/vq.py": ("tests/codec/test_vq.py",),
    "codec/quantizers/base.py": ("tests/codec/test_quantizer_base.py",
                                 "tests/codec/test_quantizer_plugin.py",
                                 "tests/codec/test_quantized.py"),
}
#: Operators left out: removing a decorator turns a kernel into plain Python (the same
#: results, only slower), so every such mutant is equivalent by construction.
EXCLUDED_OPERATORS = ("core/RemoveDecorator",)
#: What is copied into the scratch directory.
#: (benchmarks/: test_scalar_design.py runs benchmarks/scalar.py's smoke test)
COPIED = ("codec", "theory", "tests", "benchmarks", "pyproject.toml")
KERNELS = "codec/_kernels"


def kernel_imports(root: Path) -> dict[str, set[str]]:
    """Kernel module stem -> the kernel module stems it imports (``from .x import``)."""
    out: dict[str, set[str]] = {}
    pat = re.compile(r"^from \.(\w*) import (.+)$|^from codec\._kernels\.(\w+) import", re.M)
    for path in sorted((root / KERNELS).glob("*.py")):
        deps = set()
        for m in pat.finditer(path.read_text(encoding="utf-8")):
            if m.group(3):
                deps.add(m.group(3))
            elif m.group(1):
                deps.add(m.group(1))
            else:  # ``from . import a, b``
                deps.update(s.strip() for s in m.group(2).strip("()").split(","))
        out[path.stem] = deps - {""}
    return out


def dependents(stem: str, imports: dict[str, set[str]]) -> set[str]:
    """``stem`` and every kernel module that imports it, directly or through others.

    Example
    -------
    >>> sorted(dependents("bitio", {"bitio": set(), "huffman": {"bitio"},
    ...                             "batch": {"huffman"}, "lattice": set()}))
    ['batch', 'bitio', 'huffman']
    """
    found, frontier = {stem}, [stem]
    while frontier:
        cur = frontier.pop()
        for mod, deps in imports.items():
            if cur in deps and mod not in found:
                found.add(mod)
                frontier.append(mod)
    return found


def stale_cache_files(cache: Path, module: str, imports: dict[str, set[str]]) -> list[Path]:
    """Cache entries (``<stem>.<function>-<line>.py3*.nbi/.nbc``) a mutant of ``module``
    may make stale: those of the module itself and of every kernel module calling it."""
    if not module.startswith(KERNELS + "/"):
        return []
    stems = dependents(Path(module).stem, imports)
    return [p for p in cache.rglob("*.nb[ic]") if p.name.split(".", 1)[0] in stems]


def pytest_command(selection, python=sys.executable) -> list[str]:
    return [python, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider",
            # generous: a first compile of the parallel kernels took over 600 s at load 26
            "--timeout", "1800", *selection]


def run_selection(module: str, warm: Path) -> int:
    """The test command of one mutant (run by cosmic-ray in the scratch copy)."""
    imports = kernel_imports(Path.cwd())
    with tempfile.TemporaryDirectory(prefix="numba-mutant-") as tmp:
        cache = Path(tmp) / "cache"
        shutil.copytree(warm, cache)
        for p in stale_cache_files(cache, module, imports):
            p.unlink()
        env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), HYPOTHESIS_PROFILE="mutants")
        return subprocess.run(pytest_command(MODULES[module]), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode


def clear_pycache(root: Path) -> None:
    for p in list(root.rglob("__pycache__")):
        shutil.rmtree(p, ignore_errors=True)


def make_scratch(dest: Path) -> Path:
    """A copy of the project (code and tests) in which cosmic-ray may edit files."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.nbi", "*.nbc", ".hypothesis", "results"))
        else:
            shutil.copy2(src, dest / name)
    clear_pycache(dest)
    return dest


def baseline(scratch: Path, warm: Path, module: str) -> float:
    """Run ``module``'s selection on the unmutated copy (warming ``warm``); its seconds.

    Raises RuntimeError when it fails: mutants of a red selection say nothing.
    """
    env = dict(os.environ, NUMBA_CACHE_DIR=str(warm), HYPOTHESIS_PROFILE="mutants")
    t0 = time.perf_counter()
    # compiles what the warm cache lacks, so it also bounds a mutant's recompilation
    proc = subprocess.run(pytest_command(MODULES[module]), cwd=scratch, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"baseline of {module} failed:\n{proc.stdout[-3000:]}")
    return time.perf_counter() - t0


def write_config(scratch: Path, module: str, warm: Path, timeout: float) -> Path:
    cfg = scratch / "cosmic-ray.toml"
    cmd = f"{sys.executable} {Path(__file__).resolve()} --_test {module} --_warm {warm}"
    excluded = ", ".join(f'"{o}"' for o in EXCLUDED_OPERATORS)
    cfg.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{module}"\n'
        f"timeout = {timeout:.0f}\n"
        "excluded-modules = []\n"
        f'test-command = "{cmd}"\n'
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
        "[cosmic-ray.filters.operators-filter]\n"
        f"exclude-operators = [{excluded}]\n",
        encoding="utf-8",
    )
    return cfg


def sample_work(session: Path, per_module: int, seed: int,
                lines: list[int] | None = None,
                operators: list[str] | None = None) -> tuple[int, int]:
    """Mark all but a seeded sample of the pending mutants skipped; (total, sampled).

    With ``lines``, the sample is every mutant that starts on one of those lines instead
    (``--lines``: recheck a survivor against the tests added for it), of the given
    ``operators`` only when those are given too."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session), WorkDB.Mode.open) as db:
        items = sorted(db.pending_work_items, key=lambda w: (
            w.mutations[0].start_pos, w.mutations[0].operator_name, w.mutations[0].occurrence))
        rng = np.random.default_rng(seed)
        keep = set(rng.choice(len(items), size=min(per_module, len(items)), replace=False)
                   .tolist()) if items else set()
        if lines:
            keep = {i for i, w in enumerate(items) if w.mutations[0].start_pos[0] in lines
                    and (not operators or w.mutations[0].operator_name in operators)}
        for i, item in enumerate(items):
            if i not in keep:
                db.set_result(item.job_id, WorkResult(output="not sampled",
                                                      worker_outcome=WorkerOutcome.SKIPPED))
        return len(items), len(keep)


def collect(session: Path) -> dict:
    """Counts and survivors of one module's session."""
    from cosmic_ray.work_db import WorkDB, use_db

    counts = {"killed": 0, "survived": 0, "timeout": 0, "incompetent": 0}
    survivors = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == "skipped":
                continue
            m = item.mutations[0]
            if result.worker_outcome != "normal":  # exception in the worker, or abnormal
                counts["incompetent"] += 1
            elif result.test_outcome == "survived":
                counts["survived"] += 1
                survivors.append({"operator": m.operator_name, "occurrence": m.occurrence,
                                  "line": m.start_pos[0], "diff": result.diff or ""})
            elif (result.output or "") == "timeout":
                counts["timeout"] += 1
            else:
                counts["killed"] += 1
    survivors.sort(key=lambda s: (s["line"], s["operator"]))
    return {**counts, "survivors": survivors}


def run_module(module: str, args, scratch: Path, warm: Path) -> dict:
    t0 = time.perf_counter()
    base = baseline(scratch, warm, module)
    # a mutant may recompile the module and its callers; allow that and a slow neighbour
    timeout = 3.0 * base + 300.0
    cfg = write_config(scratch, module, warm, timeout)
    session = scratch / (Path(module).stem + ".sqlite")
    cr = [sys.executable, "-m", "cosmic_ray.cli"]
    subprocess.run([*cr, "init", str(cfg), str(session), "--force"], cwd=scratch, check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "cosmic_ray.tools.filters.operators_filter",
                    str(session), str(cfg)], cwd=scratch, check=True, capture_output=True)
    total, sampled = sample_work(session, args.per_module, args.seed, args.lines,
                                 args.operators)
    print(json.dumps({"module": module, "mutants": total, "sampled": sampled,
                      "baseline_seconds": round(base, 1)}), flush=True)
    subprocess.run([*cr, "exec", str(cfg), str(session)], cwd=scratch, check=True,
                   capture_output=True)
    res = collect(session)
    judged = res["killed"] + res["timeout"] + res["survived"]
    res.update(module=module, tests=list(MODULES[module]), mutants=total, sampled=sampled,
               score=(res["killed"] + res["timeout"]) / judged if judged else None,
               baseline_seconds=base, seconds=time.perf_counter() - t0,
               per_module=args.per_module, seed=args.seed, loadavg=list(os.getloadavg()))
    if args.lines:
        res["lines"] = list(args.lines)
        res["operators"] = list(args.operators or [])
    print(json.dumps({k: res[k] for k in ("module", "killed", "timeout", "survived",
                                          "incompetent", "score")}), flush=True)
    return res


def _row_key(m: dict) -> tuple:
    return m["module"], tuple(m.get("lines", ()))


def merge(previous: Path, modules: list[dict]) -> list[dict]:
    """Keep the rows of modules not rerun this time (``--modules`` reruns a subset; a
    ``--lines`` recheck replaces only the recheck of the same module and lines)."""
    if not previous.exists():
        return modules
    done = {_row_key(m) for m in modules}
    old = json.loads(previous.read_text())["results"]["modules"]
    before = {_row_key(m): m for m in old}
    for m in modules:  # a rerun keeps the counts it replaces (the score before new tests)
        o = before.get(_row_key(m))
        if o is not None and "previous" not in m:
            m["previous"] = {k: o.get(k) for k in (
                "killed", "timeout", "survived", "incompetent", "score", "tests", "seed",
                "per_module")} | {"survivor_lines": [x["line"] for x in o["survivors"]]}
    rows = [m for m in old if _row_key(m) not in done] + modules
    order = list(MODULES)
    return sorted(rows, key=lambda m: order.index(m["module"]) if m["module"] in order else 99)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--modules", nargs="+", choices=list(MODULES), default=list(MODULES))
    p.add_argument("--per-module", type=int, default=8,
                   help="mutants sampled per module (0 = all of them)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-write", action="store_true", help="print, do not write the JSON")
    p.add_argument("--lines", nargs="+", type=int, default=None,
                   help="recheck: every mutant starting on these lines of the one module "
                   f"given (written to {RECHECKS}.json, not to {NAME}.json)")
    p.add_argument("--operators", nargs="+", default=None,
                   help="with --lines: only these cosmic-ray operators (e.g. the survivor's)")
    p.add_argument("--_test", help=argparse.SUPPRESS)
    p.add_argument("--_warm", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._test:
        return run_selection(args._test, Path(args._warm))
    if args.per_module <= 0:
        args.per_module = 10**9
    if args.lines and len(args.modules) != 1:
        p.error("--lines needs exactly one module in --modules")
    name = RECHECKS if args.lines else NAME
    load0, t0 = os.getloadavg(), time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="rdcodec-mutants-") as tmp:
        scratch = make_scratch(Path(tmp) / "tree")
        warm = Path(tmp) / "numba-warm"
        for module in args.modules:
            try:
                rows.append(run_module(module, args, scratch, warm))
            except RuntimeError as e:  # a red baseline: report it, go on with the others
                print(f"skipped {module}: {str(e)[:2000]}", flush=True)
                continue
            # written after every module, so an interrupted run keeps what it measured
            meta = {"per_module": args.per_module, "seed": args.seed,
                    "excluded_operators": list(EXCLUDED_OPERATORS),
                    "total_seconds": time.perf_counter() - t0,
                    "loadavg_at_start": list(load0), "loadavg_at_end": list(os.getloadavg()),
                    "command": "benchmarks/mutants.py "
                    + " ".join(sys.argv[1:] if argv is None else argv)}
            if args.no_write:
                print(json.dumps({"modules": rows, "meta": meta}, indent=1))
                continue
            # only this module's row: a concurrent run's newer rows of other modules stay
            path = write_results(name, DESCRIPTION, {
                "modules": merge(RESULTS / f"{name}.json", rows[-1:]), "meta": meta})
            print(f"wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
