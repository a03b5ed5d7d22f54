"""Markdown tables of docs/results.md from the demos' JSON results.

Run from the repository root after ``make demo`` (and ``make demo-minilm``)::

    .venv/bin/python docs/scripts/results_tables.py out/demo.json [out/minilm.json]
    .venv/bin/python docs/scripts/results_tables.py --main out/seed*/demo.json

Prints the tables to stdout; docs/results.md pastes them, so every number in
that page comes from a demo run and can be regenerated.
"""

from __future__ import annotations

import json
import sys


def lenet_table(res: dict) -> str:
    """The LeNet-5 demo's rows: method, pruning, fine-tuning, bits/weight, ratio, accuracy."""
    base = res["baseline"]
    lines = [
        "| method | pruned | fine-tuned | setting | bits/weight | ratio over float32 "
        "| test accuracy % | drop pp |",
        "|---|:-:|:-:|---|---:|---:|---:|---:|",
        f"| float32 (no compression) | no | no | | 32 | 1.0 | {base['test_acc']:.2f} | |",
    ]
    pruned_row_done = False
    for r in res["results"]:
        if r["pruned"] and not pruned_row_done:
            acc = base["pruned_test_acc"]
            lines.append(
                f"| pruned {base['prune']:.0%}, retrained (float32) | yes | no | | | "
                f"| {acc:.2f} | {base['test_acc'] - acc:+.2f} |"
            )
            pruned_row_done = True
        star = "" if r["passed"] else " *"
        lines.append(
            f"| {r['method']}{star} | {'yes' if r['pruned'] else 'no'} | "
            f"{'yes' if r['finetuned'] else 'no'} | {r['setting']} | "
            f"{r['bits_per_weight']:.3f} | {r['ratio']:.1f} | {r['test_acc']:.2f} | "
            f"{r['drop']:+.2f} |"
        )
    return "\n".join(lines)


def main_method_table(results: list[tuple[str, dict]]) -> str:
    """One row per demo run: the pruned, fine-tuned main method against the float model."""
    lines = [
        "| run | float32 test % | pruned float32 test % | setting | ratio over float32 "
        "| test % | drop pp | 40× and ≤ 0.5 pp |",
        "|---|---:|---:|---|---:|---:|---:|:-:|",
    ]
    for path, res in results:
        base = res["baseline"]
        method = res.get("main_method", "Hessian k-means + Huffman + FT")
        row = next(r for r in res["results"] if r["method"] == method and r["pruned"])
        run = f"seed {base['seed']}" if "seed" in base else path
        met = row["ratio"] >= 40 and row["drop"] <= 0.5
        star = "" if row["passed"] else " *"
        lines.append(
            f"| {run} | {base['test_acc']:.2f} | {base['pruned_test_acc']:.2f} | "
            f"{row['setting']}{star} | {row['ratio']:.1f} | {row['test_acc']:.2f} | "
            f"{row['drop']:+.2f} | {'yes' if met else 'no'} |"
        )
    return "\n".join(lines)


def minilm_table(res: dict) -> str:
    """The MiniLM demo's rows: method, bits/weight, ratio, mean cosine similarity."""
    lines = [
        "| method | setting | bits/weight | ratio over float32 | mean cosine |",
        "|---|---|---:|---:|---:|",
    ]
    for r in res["results"]:
        lines.append(
            f"| {r['method']} | {r['setting']} | {r['bits_per_weight']:.3f} | "
            f"{r['ratio']:.2f} | {r['cosine']:.5f} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "--main":  # the main method of several LeNet runs (seeds)
        results = []
        for path in argv[1:]:
            with open(path) as f:
                results.append((path, json.load(f)))
        print(main_method_table(results))
        return 0
    for path in argv:
        with open(path) as f:
            res = json.load(f)
        table = minilm_table(res) if res["name"] == "all-MiniLM-L6-v2" else lenet_table(res)
        print(f"<!-- {path} -->\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
