"""Peak memory of codec.encode / decode above the input and output, each case in a fresh process.

Run: ``.venv/bin/python benchmarks/memory.py [--log2n 24 26] [--cases "TCQ-8 step,..."]
[--markdown docs/reliability.md]``; ``--report --markdown docs/reliability.md``
rewrites the ``memory`` block of the page from benchmarks/results/memory.json
without measuring.
For each case a subprocess makes the float32 input, compiles the kernels on
a small array, resets the kernel's peak-RSS mark (``/proc/self/clear_refs``,
Linux) and records the resident set before the call and its peak (VmHWM)
during the call. Reports the peak
above the baseline as a multiple of the input (encode) or the output (decode),
and the seconds of ``rate=`` against ``step=`` encodes in the same process.
Cases measured are merged into the JSON (the others keep their earlier
numbers); each records its date and the 1-minute load average when it ran.
Targets (issue 14): encode <= 1.5x the input, decode <= 1.5x the output, the
same for 2^26 as for 2^24 in proportion, and rate= at most 1.3x the time of step=.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, replace_block, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "E8 step": {"lattice": "E8", "step": 0.2},
    "E8 rate=4": {"lattice": "E8", "rate": 4.0},
    "ECSQ lam": {"quantizer": "ecsq", "lam": 0.05, "method": "clg"},
    "ECSQ rate=4": {"quantizer": "ecsq", "rate": 4.0, "method": "clg"},
    "TCQ-8 step": {"quantizer": "tcq", "step": 0.1},
    "TCQ-8 rate=4": {"quantizer": "tcq", "rate": 4.0},
    "TCQ-256 step": {"quantizer": "tcq", "states": 256, "step": 0.1},
    "TCQ-8 step exact": {"quantizer": "tcq", "step": 0.1, "exact": True},
}
#: How each case is named in the docs' table.
LABELS = {
    "E8 step": "E8 step=0.2",
    "E8 rate=4": "E8 rate=4",
    "ECSQ lam": "ECSQ lam=0.05 (CLG)",
    "ECSQ rate=4": "ECSQ rate=4 (CLG)",
    "TCQ-8 step": "TCQ-8 step=0.1",
    "TCQ-8 rate=4": "TCQ-8 rate=4",
    "TCQ-256 step": "TCQ-256 step=0.1",
    "TCQ-8 step exact": "TCQ-8 step=0.1 exact=True",
}
BLOCK = "memory"

_CHILD = r"""
import json, sys, time
import numpy as np
import codec

def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])

def rss_kb():
    return status_kb("VmRSS")

def reset_peak():
    # Linux: writing 5 to clear_refs resets VmHWM, so compilation and the input's
    # construction do not count towards the call's peak.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

def peak_kb():
    return status_kb("VmHWM")

log2n, opts, what = int(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
n = 1 << log2n
rng = np.random.default_rng(0)
x = np.empty(n, np.float32)
for a in range(0, n, 1 << 20):
    x[a : a + (1 << 20)] = rng.standard_normal(min(1 << 20, n - a), dtype=np.float32)
small = x[: 1 << 16].copy()
codec.decode(codec.encode(small, **opts))  # compile / load the kernels
if what == "decode":
    blob = codec.encode(x, **opts)
    del x
import gc
gc.collect()
reset_peak()
base = rss_kb()
t = time.perf_counter()
out = codec.encode(x, **opts) if what == "encode" else codec.decode(blob)
seconds = time.perf_counter() - t
size = (x.nbytes if what == "encode" else out.nbytes)
print(json.dumps({"peak_above_MB": (peak_kb() - base) / 1024, "io_MB": size / 2**20,
                  "seconds": seconds}))
"""


def run_case(log2n: int, opts: dict, what: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(log2n), json.dumps(opts), what],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["ratio"] = r["peak_above_MB"] / r["io_MB"]
    return r


def _load_results() -> dict:
    path = RESULTS / "memory.json"
    return json.loads(path.read_text())["results"] if path.exists() else {}


def table(results: dict) -> str:
    """The docs' markdown table: one row per case and size, 2^24 rows first."""

    def order(key):
        name, size = key.rsplit(" 2^", 1)
        rank = list(CASES).index(name) if name in CASES else len(CASES)
        return int(size), rank, name

    lines = [
        "| case | n | encode, × input | decode, × output | encode s | load |",
        "|---|---|---|---|---|---|",
    ]
    for key in sorted(results, key=order):
        name, size = key.rsplit(" 2^", 1)
        r = results[key]
        load = r.get("load")
        lines.append(
            f"| {LABELS.get(name, name)} | 2^{size} | {r['encode']['ratio']:.2f} "
            f"| {r['decode']['ratio']:.2f} | {r['encode']['seconds']:.2f} "
            f"| {'–' if load is None else f'{load:.1f}'} |"
        )
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--log2n", type=int, nargs="+", default=[24, 26])
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated names of CASES")
    p.add_argument("--markdown", type=Path, help="rewrite this page's memory block")
    p.add_argument("--report", action="store_true", help="only rebuild --markdown from the JSON")
    args = p.parse_args(argv)
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        p.error(f"unknown cases {unknown}; choose from {list(CASES)}")
    results = _load_results()
    if not args.report:
        print(f"{'case':<14} {'n':>5} {'encode x input':>15} {'decode x output':>16} {'enc s':>7}")
        for log2n in args.log2n:
            for name in names:
                load = os.getloadavg()[0]
                enc = run_case(log2n, CASES[name], "encode")
                dec = run_case(log2n, CASES[name], "decode")
                results[f"{name} 2^{log2n}"] = {
                    "encode": enc,
                    "decode": dec,
                    "load": load,
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                }
                print(
                    f"{name:<14} {'2^' + str(log2n):>5} {enc['ratio']:>15.2f} "
                    f"{dec['ratio']:>16.2f} {enc['seconds']:>7.2f}  (load {load:.1f})"
                )
        write_results(
            "memory", "peak RSS above baseline of encode/decode (fresh process per case)", results
        )
    if args.markdown:
        replace_block(args.markdown, table(results), BLOCK, append=False)
    return results


if __name__ == "__main__":
    main()
