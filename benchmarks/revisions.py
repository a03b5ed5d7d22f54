"""codec.encode / decode speed of this tree against another git revision, in one run.

Run: ``.venv/bin/python benchmarks/revisions.py --base fee0db8 [--log2n 22] [--rounds 5]``.
The base revision is checked out into a temporary git worktree; each round
times both trees in fresh subprocesses (``PYTHONPATH`` = the tree), one after
the other, so load on the machine hits both alike; each subprocess warms up
(Numba compiles or loads its cache) before timing the best of ``--repeats``
calls. Reports per case the median over rounds of ``this / base`` seconds
(< 1: this tree is faster), to ``benchmarks/results/revisions.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

#: name -> keyword options of codec.encode (the step is fixed so both trees do the same work)
CASES = {
    "E8 step": {"lattice": "E8", "step": 0.23, "seed": 1},
    "Z step": {"lattice": "Z", "step": 0.23, "seed": 1},
    "E8 rate=4": {"lattice": "E8", "rate": 4.0, "seed": 1},
    "kmeans 16 levels": {"quantizer": "kmeans", "levels": 16, "method": "lloyd"},
}

_TIMER = r"""
import json, sys, time
import numpy as np
import codec
log2n, repeats, cases = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
x = np.random.default_rng(0).standard_normal(1 << log2n).astype(np.float32)
def best(fn):
    fn()
    t_best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter(); fn(); t_best = min(t_best, time.perf_counter() - t)
    return t_best
out = {}
for name, opts in cases.items():
    blob = codec.encode(x, **opts)
    out[name] = {"encode_s": best(lambda: codec.encode(x, **opts)),
                 "decode_s": best(lambda: codec.decode(blob)), "bytes": len(blob)}
print(json.dumps(out))
"""


def _time_tree(tree: Path, log2n: int, repeats: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run(
        [sys.executable, "-c", _TIMER, str(log2n), str(repeats), json.dumps(CASES)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--base", required=True, help="git revision to compare against")
    p.add_argument("--log2n", type=int, default=22)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    rounds = {"this": [], "base": []}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), args.base],
            check=True,
        )
        try:
            for _ in range(args.rounds):
                rounds["base"].append(_time_tree(base, args.log2n, args.repeats))
                rounds["this"].append(_time_tree(ROOT, args.log2n, args.repeats))
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=True
            )
    results = {"base": args.base, "n_elements": 1 << args.log2n, "cases": {}}
    print(f"{'case':<18} {'encode this/base':>17} {'decode this/base':>17} {'same bytes':>10}")
    for name in CASES:
        row = {}
        for what in ("encode_s", "decode_s"):
            ratios = [t[name][what] / b[name][what] for t, b in zip(*rounds.values(), strict=True)]
            row[what.replace("_s", "_ratio_median")] = statistics.median(ratios)
            row[what.replace("_s", "_ratios")] = ratios
        row["same_bytes"] = rounds["this"][0][name]["bytes"] == rounds["base"][0][name]["bytes"]
        results["cases"][name] = row
        print(
            f"{name:<18} {row['encode_ratio_median']:>17.3f} {row['decode_ratio_median']:>17.3f} "
            f"{row['same_bytes']!s:>10}"
        )
    write_results("revisions", "codec.encode/decode seconds, this tree / base revision", results)
    return results


if __name__ == "__main__":
    main()
