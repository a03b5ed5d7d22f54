"""Markdown tables of docs/results.md from the demos' JSON results.

Run from the repository root after ``make demo`` (and ``make demo-minilm``)::

    .venv/bin/python docs/scripts/results_tables.py out/demo.json [out/minilm.json]
    .venv/bin/python docs/scripts/results_tables.py --main out/seed*/demo.json
    .venv/bin/python docs/scripts/results_tables.py --digits --write   # docs/results.md's
        # LeNet-5-on-digits blocks from benchmarks/results/demo_seed*.json
    .venv/bin/python docs/scripts/results_tables.py \
        --ternary benchmarks/results/mnist_ternary.json \
        --write docs/results.md --block mnist-ternary
    .venv/bin/python docs/scripts/results_tables.py --mnist benchmarks/results/mnist_seed*.json \
        --figure docs/figures/mnist_accuracy_ratio.png --write docs/results.md

Prints the tables to stdout; docs/results.md pastes them, so every number in
that page comes from a demo run and can be regenerated.
"""

from __future__ import annotations

import json
import sys


def lenet_table(res: dict, agree: bool = False) -> str:
    """The LeNet-5 demo's rows: method, pruning, fine-tuning, bits/weight, ratio, accuracy
    (and with ``agree`` the % of test predictions equal to the dense float model's)."""
    base = res["baseline"]
    extra, rule = (" agree % |", "---:|") if agree else ("", "")
    lines = [
        "| method | pruned | fine-tuned | setting | bits/weight | ratio over float32 "
        f"| test accuracy % | drop pp |{extra}",
        f"|---|:-:|:-:|---|---:|---:|---:|---:|{rule}",
        f"| float32 (no compression) | no | no | | 32 | 1.0 | {base['test_acc']:.2f} | |"
        + (" |" if agree else ""),
    ]
    pruned_row_done = False
    for r in res["results"]:
        if r["pruned"] and not pruned_row_done:
            acc = base["pruned_test_acc"]
            lines.append(
                f"| pruned {base['prune']:.0%}, retrained (float32) | yes | no | | | "
                f"| {acc:.2f} | {base['test_acc'] - acc:+.2f} |" + (" |" if agree else "")
            )
            pruned_row_done = True
        lines.append(
            f"| {r['method']}{'' if r['passed'] else ' *'} | {'yes' if r['pruned'] else 'no'} "
            f"| {'yes' if r['finetuned'] else 'no'} | {r['setting']} | "
            f"{r['bits_per_weight']:.3f} | {r['ratio']:.1f} | {r['test_acc']:.2f} | "
            f"{r['drop']:+.2f} |" + (f" {r['agree']:.1f} |" if agree else "")
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


# ---------------------------------------------------------------------------
# examples/demo.py (make demo): benchmarks/results/demo_seed*.json -> docs/results.md
# ---------------------------------------------------------------------------
#: The page and the committed runs the LeNet-5-on-digits blocks are generated from.
DIGITS_PAGE = "docs/results.md"
DIGITS_GLOB = "benchmarks/results/demo_seed*.json"


def digits_runs(root) -> list[dict]:
    """The committed demo runs under ``root`` (the repository), by seed."""
    from pathlib import Path

    runs = [json.loads(p.read_text(encoding="utf-8")) for p in Path(root).glob(DIGITS_GLOB)]
    return sorted(runs, key=lambda r: r["baseline"]["seed"])


def _digits_run_line(res: dict) -> str:
    meta = res.get("meta", {})
    load = meta.get("loadavg_at_start")
    load_text = f"load average {load[0]:.1f} at its start" if load else "load not recorded"
    return (
        f"`{meta.get('command', '?')}`: {meta.get('cpu_seconds', 0):.0f} CPU s, "
        f"{meta.get('seconds', 0):.0f} s wall ({load_text}; torch {meta.get('torch', '?')})"
    )


def digits_main_block(runs: list[dict]) -> str:
    """The main method on every committed seed, a summary line, and how each run was made."""
    table = main_method_table([("", r) for r in runs])
    rows = []
    for r in runs:
        method = r.get("main_method", "Hessian k-means + Huffman + FT")
        rows.append(next(x for x in r["results"] if x["method"] == method and x["pruned"]))
    met = sum(x["ratio"] >= 40 and x["drop"] <= 0.5 for x in rows)
    ratios = [x["ratio"] for x in rows]
    drops = [x["drop"] for x in rows]
    prune_drops = [r["baseline"]["test_acc"] - r["baseline"]["pruned_test_acc"] for r in runs]
    summary = (
        f"{met} of {len(runs)} seeds meet both targets; ratios {min(ratios):.1f}–"
        f"{max(ratios):.1f}× (mean {sum(ratios) / len(ratios):.1f}×), test drops "
        f"{min(drops):+.2f} to {max(drops):+.2f} points (mean {sum(drops) / len(drops):+.2f}); "
        f"the pruned float networks alone: {min(prune_drops):+.2f} to {max(prune_drops):+.2f} "
        f"points (mean {sum(prune_drops) / len(prune_drops):+.2f})."
    )
    made = "\n".join(f"* seed {r['baseline']['seed']}: {_digits_run_line(r)}" for r in runs)
    return f"{table}\n\n{summary}\n\nRuns (`benchmarks/results/demo_seedN.json`):\n\n{made}"


def digits_table_block(res: dict) -> str:
    """Every row of one full demo run (``agree``: % of test predictions equal to the dense
    float model's), then the run's command."""
    base = res["baseline"]
    lines = [lenet_table(res, agree=True)]
    source = f"benchmarks/results/demo_seed{base['seed']}.json"
    text = "\n".join(lines) + f"\n\nFrom `{source}`: {_digits_run_line(res)}."
    zeroed = res.get("ternary_zeroed")
    if zeroed:

        def pct(key):
            return ", ".join(f"{100 * v:.1f} %" for v in zeroed[key])

        text += (
            "\n\nKept weights of the pruned network that ternarization sets to 0, per layer "
            f"({', '.join(zeroed['layer'])}): TWN's t = 0.7 {pct('twn_0.7')}; "
            f"the exact threshold {pct('exact')}."
        )
    return text


def digits_blocks(root) -> dict:
    """``{block name: text}`` of docs/results.md's LeNet-5-on-digits section."""
    runs = digits_runs(root)
    full = [r for r in runs if "--only" not in r.get("meta", {}).get("command", "")]
    blocks = {"digits-main": digits_main_block(runs)}
    if full:
        blocks["digits-full"] = digits_table_block(full[0])
    return blocks


def write_blocks(path, blocks: dict) -> None:
    """Replace each ``<!-- NAME:begin -->`` … ``<!-- NAME:end -->`` block of ``path``."""
    with open(path, encoding="utf-8") as f:
        page = f.read()
    for name, text in blocks.items():
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        if page.count(begin) != 1 or page.count(end) != 1:
            raise ValueError(f"{path} needs one {begin} ... {end} block")
        head, rest = page.split(begin)
        page = f"{head}{begin}\n{text}\n{end}{rest.split(end)[1]}"
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)


def digits_main(argv: list[str]) -> int:
    """``--digits [--write]``: the digits blocks from the committed JSON, to stdout or into
    docs/results.md (run from the repository root)."""
    blocks = digits_blocks(".")
    if "--write" in argv:
        write_blocks(DIGITS_PAGE, blocks)
    else:
        for name, text in blocks.items():
            print(f"<!-- {name} -->\n{text}\n")
    return 0


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


def _span(values, spec) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:{spec}}" if f"{lo:{spec}}" == f"{hi:{spec}}" else f"{lo:{spec}}–{hi:{spec}}"


def minilm_section(doc: dict, sentences: tuple[int, int] | None = None) -> str:
    """The all-MiniLM-L6-v2 block of docs/results.md from ``make demo-minilm``'s JSON
    (benchmarks/results/minilm.json): how it ran, the table, the written model, and the
    numbers the prose reads off the table (bits per weight at a uniform MSE against the
    Hessian allocation's, the LZW penalty). ``sentences``: (evaluation, calibration)
    counts, shown when given. Generated by docs/scripts/doc_blocks.py."""
    meta, base, rows = doc["meta"], doc["baseline"], doc["results"]
    env, tgt, best = doc["environment"], doc["targets"], doc["written"]
    la, lb = meta["loadavg_at_start"], meta["loadavg_at_end"]
    head = (
        f"Command: `{meta['command']}` (`make demo-minilm`), {meta['seconds']:.0f} s wall "
        f"at load averages {la[0]:.1f} at its start and {lb[0]:.1f} at its end "
        f"(torch {env['torch']}, "
        f"{env['torch_threads']} threads, {env['cpus']} CPUs). Model: "
        f"{base['parameters'] / 1e6:.1f} M parameters, "
        f"{base['float32_bytes'] / 1e6:.1f} MB as float32"
    )
    if sentences:
        head += f"; {sentences[0]} evaluation and {sentences[1]} calibration sentences"
    parts = [head + ".", minilm_table(doc)]
    row = next(r for r in rows if (r["method"], r["setting"]) == (best["method"], best["setting"]))
    met = row["ratio"] >= tgt["ratio"] and row["cosine"] >= tgt["cosine"]
    parts.append(
        f"The written model (`{best['path']}`) is the highest ratio whose mean cosine is "
        f"≥ {tgt['cosine']:g} (else the best cosine): {row['method']} ({row['setting']}), "
        f"{row['ratio']:.2f}× at a mean cosine of {row['cosine']:.5f}; the target, "
        f"≥ {tgt['ratio']:g}× at cosine ≥ {tgt['cosine']:g}, is {'met' if met else 'NOT met'}."
    )
    uni = [r for r in rows if r["setting"].startswith("D=")]
    alloc = [r for r in rows if "Hessian step allocation" in r["method"]]
    facts = []
    if uni:
        facts.append(
            f"at one MSE for every tensor ({uni[0]['setting']}) the quantizers spend "
            f"{_span([r['bits_per_weight'] for r in uni], '.2f')} bit/weight for mean "
            f"cosines of {_span([r['cosine'] for r in uni], '.4f')}"
        )
    if alloc:
        facts.append(
            f"E8 with Hessian step allocation spends "
            f"{_span([r['bits_per_weight'] for r in alloc], '.2f')} bit/weight for "
            f"{_span([r['cosine'] for r in alloc], '.4f')}"
        )
    lzw = [r for r in rows if "LZW" in r["method"]]
    for r in lzw:
        ref = next(
            (a for a in alloc if a["setting"] == r["setting"] and "FT" not in a["method"]), None
        )
        if ref:
            facts.append(
                f"LZW on the same E8 indices ({r['setting']}) costs "
                f"{r['bits_per_weight'] - ref['bits_per_weight']:.2f} bit/weight more "
                f"than the arithmetic coder"
            )
    if facts:
        parts.append("From the table: " + "; ".join(facts) + ".")
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------
# examples/mnist.py (make repro-mnist): benchmarks/results/mnist_seed*.json
# ---------------------------------------------------------------------------
def _drop(row) -> float:
    """A row's test accuracy drop, rounded: accuracies are multiples of 0.01 % (10,000
    test images), so 99.29 - 99.19 is a drop of exactly 0.10, not 0.1000000000000085."""
    return round(row["test_drop"], 6)


#: Published ratios next to our rows (THEORY.md); keyed by (network, our method).
MNIST_TABLE1 = {
    "k-means + Huffman": "44.58× (Choi 2017)",
    "Hessian k-means + Huffman": "47.16× (Choi 2017)",
    "uniform + Huffman": "51.25× (Choi 2017)",
    "iterative ECSQ + Huffman": "49.01× (Choi 2017)",
}
#: The suffix of the rows at a target ratio (examples/mnist_search.py's AT_TARGET).
AT_TARGET = " + FT, at the target"
MNIST_PAPER = {
    **{("LeNet-5", m + " + FT"): v for m, v in MNIST_TABLE1.items()},
    **{("LeNet-5", m + AT_TARGET): v for m, v in MNIST_TABLE1.items()},
    ("LeNet-5", "Z dithered + LZW + FT"): "124.8× (Choi 2018)",
    ("LeNet-5", "D4 dithered + LZW + FT"): "124.8× (Choi 2018)",
    ("LeNet-5", "E8 dithered + LZW + FT"): "124.8× (Choi 2018)",
}
MNIST_TARGET = {  # the ratio each row is held against, and the points it may lose
    **{k: (float(v.split("×")[0]), 0.1) for k, v in MNIST_PAPER.items() if "2017" in v},
    ("LeNet-5", "headline"): (124.8, 0.2),
    ("LeNet-300-100", "headline"): (60.0, 0.2),
}


def mnist_runs(paths: list[str]) -> list[dict]:
    runs = []
    for path in paths:
        with open(path) as f:
            runs.append(json.load(f))
    return sorted(runs, key=lambda r: r["seed"])


def mnist_summary_table(runs: list[dict]) -> str:
    """Per seed and network: float accuracy, the pruned float networks, the headline row."""
    lines = [
        "| network | seed | float32 test % (val) | pruned to | pruned test % | deeper to "
        "| deeper test % | headline ratio | headline test % | drop pp | target met | CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|---:|",
    ]
    for run in runs:
        for name, net in run["networks"].items():
            p, d, m = net["pruned"]["paper"], net["pruned"]["deep"], net["main"]
            target, loss = MNIST_TARGET[(name, "headline")]
            met = m["ratio"] >= target and _drop(m) <= loss
            lines.append(
                f"| {name} | {run['seed']} | {net['float_test_accuracy']:.2f} "
                f"({net['float_validation_accuracy']:.2f}) | {p['density']:.2%} | "
                f"{p['test_accuracy']:.2f} | {d['density']:.2%} | {d['test_accuracy']:.2f} | "
                f"{m['ratio']:.1f}× | {m['test_accuracy']:.2f} | {m['test_drop']:+.2f} | "
                f"{'yes' if met else 'no'} ({target:g}×, ≤ {loss} pp) | {_cpu_total(net)} |"
            )
    return "\n".join(lines)


def _cpu_total(net: dict) -> str:
    """CPU seconds of one network's run (runs before they were recorded: wall seconds)."""
    cpu = net.get("cpu_seconds")
    cut = "" if net.get("complete", True) else " (run cut short)"
    return (f"{cpu['total']:.0f}" if cpu else f"{net['seconds']:.0f} (wall)") + cut


MNIST_STAGES = (
    ("float_training", "float training"),
    ("prune_paper_density", "prune + retrain to the papers' density"),
    ("prune_deeper", "deeper pruning ladder"),
    ("rows", "compression rows (search, fine-tuning, evaluation)"),
    ("total", "total"),
)


def mnist_cpu_table(runs: list[dict]) -> str:
    """CPU seconds (``time.process_time``, all threads) per stage, network and seed."""
    cols = [(run["seed"], name, net) for run in runs for name, net in run["networks"].items()
            if net.get("cpu_seconds")]  # fmt: skip
    if not cols:
        return ""
    lines = [
        "| stage | " + " | ".join(f"{n} seed {s}" for s, n, _ in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for key, label in MNIST_STAGES:
        cells = [f"{net['cpu_seconds'].get(key, 0):.0f}" for _, _, net in cols]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| torch threads | " + " | ".join(str(net.get("torch_threads", "?"))
                                                 for _, _, net in cols) + " |")  # fmt: skip
    return "\n".join(lines)


def mnist_rows_table(runs: list[dict], network: str) -> str:
    """Every method of one network: ratio and test accuracy per seed, beside the papers."""
    seeds = [r["seed"] for r in runs if network in r["networks"]]
    order, by = [], {}
    for run in runs:
        for r in run["rows"]:
            if r["network"] != network:
                continue
            key = (r["stage"], r["method"])
            if key not in by:
                order.append(key)
                by[key] = {}
            by[key][run["seed"]] = r
    head = " | ".join(f"seed {s}: ratio, test % (drop)" for s in seeds)
    lines = [
        f"| method | kept | fine-tuned | paper | {head} | mean ratio | mean drop | target met |",
        "|---|---:|:-:|---|" + "---|" * len(seeds) + "---:|---:|:-:|",
    ]
    for key in order:
        rows = by[key]
        any_row = next(iter(rows.values()))
        cells = []
        for s in seeds:
            r = rows.get(s)
            cells.append(
                "–"
                if r is None
                else f"{r['ratio']:.1f}×, {r['test_accuracy']:.2f} ({r['test_drop']:+.2f})"
                + ("" if r["passed"] else " *")
                + (" †" if r.get("finetune_rejected") else "")
                + (
                    f" [{100 * r['decoded_density']:.3g}% nonzero]"
                    if r.get("decoded_density", r["density"]) != r["density"]
                    else ""
                )
            )
        mean = sum(r["ratio"] for r in rows.values()) / len(rows)
        mean_drop = sum(_drop(r) for r in rows.values()) / len(rows)
        kept = " / ".join(sorted({format(r["density"], ".2%") for r in rows.values()}))
        target = MNIST_TARGET.get((network, key[1])) if key[0] == "paper" else None
        if key[1] == runs[0].get("main_method") and key[0] == "deep":
            target = MNIST_TARGET[(network, "headline")]
        met = ""
        if target:
            ok = [r["ratio"] >= target[0] and _drop(r) <= target[1] for r in rows.values()]
            by_means = mean >= target[0] and round(mean_drop, 6) <= target[1]
            met = f"{sum(ok)}/{len(ok)} seeds; means: {'yes' if by_means else 'no'}"
        lines.append(
            f"| {key[1]} | {kept} "
            f"| {'yes' if any_row['finetuned'] else 'no'} "
            f"| {MNIST_PAPER.get((network, key[1]), '') if key[0] != 'dense' else ''} | "
            + " | ".join(cells)
            + f" | {mean:.1f}× | {mean_drop:+.2f} | {met} |"
        )
    return "\n".join(lines)


def mnist_plot(runs: list[dict], path: str) -> None:
    """Test accuracy against compression ratio: every row of every seed, one panel per
    network; the papers' points as stars, the float networks as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    networks = list(dict.fromkeys(n for run in runs for n in run["networks"]))
    fig, axes = plt.subplots(1, len(networks), figsize=(6 * len(networks) + 3, 5), squeeze=False)
    families = []
    for run in runs:
        for r in run["rows"]:
            fam = r["method"].replace(" + FT", "")
            if fam not in families:
                families.append(fam)
    cmap = plt.get_cmap("tab20")
    colour = {f: cmap(i % 20) for i, f in enumerate(families)}
    paper_acc = {"LeNet-5": 99.27, "LeNet-300-100": 98.4}
    for ax, name in zip(axes[0], networks, strict=True):
        seen = set()
        for run in runs:
            if name not in run["networks"]:  # a run cut short before this network
                continue
            ax.axhline(run["networks"][name]["float_test_accuracy"], color="k", lw=0.6, alpha=0.5)
            for r in run["rows"]:
                if r["network"] != name:
                    continue
                fam = r["method"].replace(" + FT", "")
                label = r["method"] if r["method"] not in seen else None
                seen.add(r["method"])
                ax.plot(
                    r["ratio"],
                    r["test_accuracy"],
                    "o" if r["finetuned"] else "s",
                    mfc=colour[fam] if r["finetuned"] else "none",
                    color=colour[fam],
                    ms=5,
                    label=label,
                )
        for (net, _method), text in MNIST_PAPER.items():
            if net == name:
                ax.plot(float(text.split("×")[0]), paper_acc[net], "*", color="k", ms=9)
        if name == "LeNet-5":
            ax.plot(39.0, 99.26, "*", color="grey", ms=9)
        else:
            ax.plot(40.0, 98.42, "*", color="grey", ms=9)
        floats = [r["networks"][name]["float_test_accuracy"] for r in runs if name in r["networks"]]
        ax.set_ylim(min(floats) - 0.8, max(max(floats), paper_acc[name]) + 0.2)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}×"))
        ax.set_xlabel("compression ratio over float32 (every byte of the archive)")
        ax.set_ylabel("test accuracy (%); lines: float32 networks")
        ax.set_title(f"{name} on MNIST, {len(floats)} seed(s); stars: papers (grey: Han et al.)")
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=6.5, loc="center right")
    fig.tight_layout(rect=(0, 0, 0.78, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def mnist_main(argv: list[str]) -> int:
    """``--mnist FILE... [--summary] [--figure PNG] [--write MD [--block NAME]]``: the
    tables to stdout, or into the ``<!-- NAME:begin -->`` / ``<!-- NAME:end -->`` block of
    ``MD`` (NAME: ``mnist`` unless given); ``--summary``: the headline table only."""
    opts = {"--block": "mnist"}
    for flag in ("--figure", "--write", "--block"):
        if flag in argv:
            i = argv.index(flag)
            opts[flag], argv = argv[i + 1], argv[:i] + argv[i + 2 :]
    ternary = argv[:1] == ["--ternary"]
    text = ternary_block_text(argv[1]) if ternary else mnist_block_text(argv)
    if "--write" in opts:
        path = opts["--write"]
        with open(path) as f:
            page = f.read()
        begin, end = f"<!-- {opts['--block']}:begin -->", f"<!-- {opts['--block']}:end -->"
        if page.count(begin) != 1 or page.count(end) != 1:
            raise ValueError(f"{path} needs one {begin} ... {end} block")
        head, rest = page.split(begin)
        tail = rest.split(end)[1]
        with open(path, "w") as f:
            f.write(f"{head}{begin}\n{text}\n{end}{tail}")
    else:
        print(text)
    if "--figure" in opts and not ternary:
        mnist_plot(mnist_runs([a for a in argv if a != "--summary"]), opts["--figure"])
    return 0


def ternary_block_text(path: str) -> str:
    """What ``examples/mnist_ternary.py`` printed, from its JSON (``--ternary FILE``)."""
    with open(path) as f:
        res = json.load(f)
    r = res["results"]
    lines = [
        f"{r['network']} on MNIST: {r['parameters']} parameters, {r['float32_bytes']} bytes "
        f"as float32; test accuracy {r['float_test_acc']:.2f}% (validation "
        f"{r['float_val_acc']:.2f}%)"
    ]
    lines += [
        f"  {row['method']:14} {row['n_bytes']:9d} B {row['bits_per_weight']:7.3f} bit/w "
        f"{row['ratio']:7.1f}x  test {row['test_acc']:6.2f}%  val {row['val_acc']:6.2f}%"
        for row in r["rows"]
    ]
    return "\n".join([f"<!-- results_tables.py --ternary {path} -->", "", "```text", *lines, "```"])


def mnist_block_text(argv: list[str]) -> str:
    """The MNIST block for ``[--summary] FILE...``, starting with the comment that names
    the command (tests/benchmarks/test_results_tables.py regenerates every block from it)."""
    summary_only = "--summary" in argv
    argv = [a for a in argv if a != "--summary"]
    runs = mnist_runs(argv)
    flags = " --summary" if summary_only else ""
    parts = [f"<!-- results_tables.py --mnist{flags} {' '.join(argv)} -->",
             mnist_summary_table(runs)]  # fmt: skip
    cpu = "" if summary_only else mnist_cpu_table(runs)
    if cpu:
        parts += ["CPU seconds per stage (`time.process_time`, all threads of the process):", cpu]
    whole = [r for r in runs if len(r["networks"]) > 1 and r.get("seconds")]
    if whole:  # one process ran every network of the seed: what `make repro-mnist` takes
        walls = ", ".join(f"seed {r['seed']} {r['seconds']:.0f} s" for r in whole)
        parts.append(f"Wall time of each seed's whole run (both networks, one process): {walls}.")
    for name in dict.fromkeys(n for run in runs for n in run["networks"]):
        if summary_only:
            break
        parts.append(f"**{name}**\n\n" + mnist_rows_table(runs, name))
    if not summary_only:
        parts.append(
            "`*`: the row's archive missed its validation tolerance (no rung passed, or the "
            "fine-tuned one fell back below it); `†`: fine-tuning failed validation where the "
            "plain archive passed, so the row is the plain archive. `target met`: seeds whose "
            "row reaches the ratio within the drop, and whether the mean ratio and mean drop do."
        )
    return "\n\n".join(parts)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "--digits":  # examples/demo.py's committed runs: docs/results.md's blocks
        return digits_main(argv[1:])
    if argv[0] == "--mnist":  # examples/mnist.py results: tables, the plot with --figure
        return mnist_main(argv[1:])
    if argv[0] == "--ternary":  # examples/mnist_ternary.py's output, from its JSON
        return mnist_main(argv)
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
