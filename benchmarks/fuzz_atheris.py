"""Coverage-guided fuzzing with atheris (libFuzzer) of ``codec.decode`` and of each
coder's decoder entry (``Coder.decode``), for a bounded time (issue 14, item 5).

Each target runs in a child process (``--target NAME --child``) started from the
seed streams of benchmarks/fuzz.py (a corpus written to a temporary folder);
libFuzzer stops it after ``--seconds``, or at the first finding: an exception
other than :class:`codec.errors.CodecError` (or the ``max_elements`` ValueError),
an input slower than ``--timeout`` seconds, or memory above ``--rss-mb``. This
driver reads libFuzzer's own report (runs, coverage, findings) and writes
benchmarks/results/fuzz_atheris.json and the ``fuzz-atheris`` block of
docs/reliability.md::

    python benchmarks/fuzz_atheris.py --seconds 300 --markdown docs/reliability.md

Limits: atheris instruments Python bytecode, so coverage guides the mutations
through the container, the framing and the quantizers' header parsing; the
Numba kernels (the entropy decoders themselves) are native code that libFuzzer
does not see, so their inputs are mutated without coverage feedback. The
container target decodes each input twice, as is and with its CRC-32s re-sealed
(benchmarks/fuzz.py ``reseal``), so mutations are not all stopped by a checksum.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

NAME = "fuzz_atheris"
BLOCK = "fuzz-atheris"
TARGETS = ("container", "arithmetic", "huffman", "lzw", "adaptive")
MAX_COUNT = 1 << 16  # symbols a coder input may ask for (the first two bytes)


# ---------------------------------------------------------------------------
# the child: one libFuzzer run of one target
# ---------------------------------------------------------------------------
def child(target: str, libfuzzer_args: list) -> None:
    import atheris

    # Instrument the Python parts only: Numba compiles the kernels' bytecode, which
    # must not carry atheris's coverage callbacks.
    kernels = ["codec._kernels"] + [
        f"codec._kernels.{f.stem}" for f in (ROOT / "codec" / "_kernels").glob("*.py")
    ]  # atheris excludes by exact module name
    with atheris.instrument_imports(include=["codec"], exclude=kernels):
        import codec
        from codec.coders import get_coder
        from codec.errors import CodecError
    import fuzz  # benchmarks/fuzz.py: reseal

    max_elements = 1 << 20

    def decode_container(data: bytes) -> None:
        for blob in (data, fuzz.reseal(data)):
            try:
                codec.decode(blob, max_elements=max_elements)
            except CodecError:
                pass
            except ValueError as exc:
                if "max_elements" not in str(exc):
                    raise

    coder = None if target == "container" else get_coder(target)

    def decode_coder(data: bytes) -> None:
        count = int.from_bytes(data[:2], "little") % (MAX_COUNT + 1)
        try:
            out = coder.decode(data[2:], count)
        except CodecError:
            return
        if out.shape != (count,):
            raise AssertionError(f"{target} decoded {out.shape} symbols, not {count}")

    target_fn = decode_container if coder is None else decode_coder
    # Decode the seed corpus once first: Numba compiles (or loads) its kernels on the
    # first call, which must not count against libFuzzer's per-input time bound.
    for f in sorted(Path(libfuzzer_args[-1]).iterdir()):
        target_fn(f.read_bytes())
    atheris.Setup([sys.argv[0], *libfuzzer_args], target_fn)
    atheris.Fuzz()


def write_corpus(target: str, folder: Path) -> int:
    """The seed streams (or, for a coder, its streams with a 2-byte count in front)."""
    import fuzz

    seeds = fuzz.make_seeds()
    n = 0
    for s in seeds:
        if target == "container":
            items = [s.blob]
        elif s.coder == target:
            items = [min(c, MAX_COUNT).to_bytes(2, "little") + d for ch in s.streams for c, d in ch]
        else:
            items = []
        for data in items:
            (folder / f"seed{n:05d}").write_bytes(data)
            n += 1
    return n


# ---------------------------------------------------------------------------
# the driver
# ---------------------------------------------------------------------------
def run_target(target: str, seconds: int, timeout: int, rss_mb: int, findings: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"atheris-{target}-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        n_seeds = write_corpus(target, corpus)
        findings.mkdir(parents=True, exist_ok=True)
        args = [
            f"-max_total_time={seconds}",
            f"-timeout={timeout}",
            f"-rss_limit_mb={rss_mb}",
            f"-artifact_prefix={findings}/{target}-",
            "-print_final_stats=1",
            str(corpus),
        ]
        t0 = time.time()
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", target, "--", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_NUM_THREADS="1"),
            timeout=seconds + 900,  # libFuzzer stops itself; this only catches a wedged child
        )
        log = proc.stdout + proc.stderr
    res = parse_report(log)
    res.update(
        target=target,
        seeds=n_seeds,
        seconds=round(time.time() - t0, 1),
        exit_code=proc.returncode,
        tail=_finding(log) if proc.returncode else "",
    )
    return res


def _finding(log: str) -> str:
    """The part of the log that says what failed (the Python traceback, libFuzzer's error)."""
    at = max(log.find("=== Uncaught Python exception"), log.find("ERROR: libFuzzer"))
    return log[at : at + 2500] if at >= 0 else log[-1500:]


def parse_report(log: str) -> dict:
    """Runs, coverage and findings from libFuzzer's output."""

    def last(pattern, cast=int):
        hits = re.findall(pattern, log)
        return cast(hits[-1]) if hits else None

    return {
        "runs": last(r"stat::number_of_executed_units:\s*(\d+)") or last(r"Done (\d+) runs"),
        "coverage": last(r"cov: (\d+)"),
        "features": last(r"ft: (\d+)"),
        "corpus_units": last(r"corp: (\d+)/"),
        "crashes": len(
            re.findall(
                r"==\d+== ERROR: libFuzzer: deadly signal|"
                r"=== Uncaught Python exception",
                log,
            )
        ),
        "timeouts": len(re.findall(r"ERROR: libFuzzer: timeout", log)),
        "oom": len(re.findall(r"ERROR: libFuzzer: out-of-memory", log)),
        "slowest_unit_s": last(r"stat::slowest_unit_time_sec:\s*(\d+)"),
    }


def markdown(res: dict) -> str:
    rows = [
        "| target | executions | Python coverage (edges) | crashes | timeouts | out of memory |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["targets"]:
        rows.append(
            f"| {r['target']} | {r['runs'] or 0:,} | {r['coverage'] or 0} | {r['crashes']} | "
            f"{r['timeouts']} | {r['oom']} |"
        )
    meta = res["run"]
    rows += [
        "",
        f"atheris {meta['atheris']}, {meta['seconds_per_target']} s per target, per-input "
        f"time bound {meta['timeout_s']} s, {meta['rss_mb']} MB memory limit, 1 Numba thread; "
        f"load average {meta['loadavg_start']} at the start, {meta['loadavg_end']} at the end "
        f"({meta['date']}). Reproduce: `{meta['command']}`.",
    ]
    return "\n".join(rows)


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--child"]:
        child(argv[1], argv[3:])
        return {}
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--targets", default=",".join(TARGETS))
    p.add_argument("--seconds", type=int, default=300, help="per target")
    p.add_argument("--timeout", type=int, default=10, help="per input, s")
    p.add_argument("--rss-mb", type=int, default=4096)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / f"{NAME}.json")
    p.add_argument("--findings", type=Path, default=ROOT / "out" / "atheris")
    p.add_argument("--markdown", type=Path, default=None)
    p.add_argument("--report", action="store_true", help="only rewrite --markdown from --out")
    args = p.parse_args(argv)
    import fuzz

    if args.report:
        res = json.loads(args.out.read_text())["results"]
    else:
        import atheris

        load0 = os.getloadavg()[0]
        targets = [
            run_target(t, args.seconds, args.timeout, args.rss_mb, args.findings)
            for t in args.targets.split(",")
        ]
        res = {
            "targets": targets,
            "run": {
                "atheris": getattr(atheris, "__version__", "3.0.0"),
                "seconds_per_target": args.seconds,
                "timeout_s": args.timeout,
                "rss_mb": args.rss_mb,
                "loadavg_start": round(load0, 2),
                "loadavg_end": round(os.getloadavg()[0], 2),
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "command": fuzz.command_line("benchmarks/fuzz_atheris.py", argv),
            },
        }
        fuzz.write_json(res, args.out, NAME, "atheris (libFuzzer) runs of the decoders")
    text = markdown(res)
    print(text)
    if args.markdown:
        fuzz.replace_block(args.markdown, text, BLOCK)
    return res


if __name__ == "__main__":
    main()
