"""Regenerate the marked blocks of README.md and docs/*.md from committed results JSON.

Run from the repository root (``make docs`` runs it last; ``make mutants`` too)::

    .venv/bin/python docs/scripts/doc_blocks.py [--check] [--results-dir benchmarks/results]

Every block is the text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``
in one page (:data:`BLOCKS`), computed here from ``benchmarks/results/*.json``
only: nothing is measured, so the command takes seconds and gives the same
text on every machine. The blocks of docs/rate_distortion.md
(``<!-- rd:begin NAME -->``) are rendered by ``rd_plots.all_tables`` from the
``rd_<source>.json`` files, the same way. ``--check`` writes nothing and exits
1 when a committed block differs from its regeneration
(tests/benchmarks/test_doc_blocks.py asserts the same).

Which command produced each JSON file is written in the block itself (the
``command`` recorded by the benchmark script, and the load average it ran at).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]
for p in (ROOT, ROOT / "benchmarks", ROOT / "docs" / "scripts"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

RESULTS = ROOT / "benchmarks" / "results"


def load(results: Path, name: str) -> dict:
    """The ``results`` object of ``<results>/<name>.json``."""
    return json.loads((results / f"{name}.json").read_text(encoding="utf-8"))["results"]


def _load_str(meta: dict) -> str:
    la = meta.get("loadavg_at_start")
    return f"load average {la[0]:.1f} at its start" if la else "load not recorded"


# ---------------------------------------------------------------------------
# README.md
def readme_gaps(results: Path) -> str:
    """The README's headline gaps to R(D), read off rd_gaussian.json at 4 bit/element."""
    import rd_plots

    res = rd_plots.SourceResults(results / "rd_gaussian.json")
    g = {q: res.gap_at(q, "arithmetic", 4.0) for q in ("E8+dither", "D4+dither", "Z+dither")}
    n = int(round(__import__("math").log2(res.n)))
    return (
        f"On 2^{n} Gaussian samples at 4 bit/element (real bytes, dithered lattices, "
        f"arithmetic coder), the gap to R(D) is {g['E8+dither']:.3f} bit for E8, "
        f"{g['D4+dither']:.3f} for D4 and {g['Z+dither']:.3f} for Z "
        "(theory: 0.146 / 0.194 / 0.255 at high rate; `make docs` from "
        "`benchmarks/results/rd_gaussian.json`, see docs/rate_distortion.md)."
    )


# ---------------------------------------------------------------------------
# benchmarks: throughput, coders, scalar
def throughput_table(results: Path) -> str:
    import throughput

    r = load(results, "throughput")
    args = SimpleNamespace(log2n=int(r["n_elements"]).bit_length() - 1,
                           rate=r.get("rate", 4.0))
    return throughput.markdown_table(r, args)


#: The order of benchmarks/coders.py's tables (its JSON is written with sorted keys):
#: rdcodec's coders, then the peers.
CODER_ORDER = ("arithmetic", "huffman", "lzw", "adaptive", "constriction-range",
               "constriction-ans", "zstd-3", "zstd-19", "zlib-9", "bz2-9", "lzma-6")


def _ordered(d: dict) -> dict:
    rank = {k: i for i, k in enumerate(CODER_ORDER)}
    return dict(sorted(d.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def load_coders(results: Path) -> dict:
    r = load(results, "coders")
    r["data"] = {k: {**v, "coders": _ordered(v["coders"])} for k, v in r["data"].items()}
    r["threads"] = _ordered(r["threads"])
    for key in ("two_thread_speedups_16_chunks", "two_thread_speedups_16_chunks_median_paired"):
        r["targets"][key] = _ordered(r["targets"][key])
    return r


def _coder_rows(d: dict) -> list[str]:
    lines = ["| coder | bits/symbol | − H | encode MS/s | decode MS/s |",
             "|---|---:|---:|---:|---:|"]
    for name, c in d["coders"].items():
        bits = c["bits_per_symbol"]
        lines.append(f"| {name} | {bits:.4f} | {bits - d['entropy']:+.4f} | "
                     f"{c['encode_symbols_per_s'] / 1e6:.1f} | "
                     f"{c['decode_symbols_per_s'] / 1e6:.1f} |")
    return lines


def coders_gaussian(results: Path) -> str:
    d = load_coders(results)["data"]["gaussian"]
    head = f"Quantized Gaussian, {d['n']:,} symbols, H = {d['entropy']:.4f} bit/symbol:"
    return "\n".join([head, "", *_coder_rows(d)])


def coders_threads(results: Path) -> str:
    r = load_coders(results)
    lines = ["| coder | encode 1t | encode 2t | encode speedup | decode 1t | decode 2t "
             "| decode speedup | control: latency | control: throughput |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def sp(t, op):
        return f"{t[op + '_speedup_2t']:.2f}× / {t[op + '_speedup_2t_median_paired']:.2f}×"

    for name, t in r["threads"].items():
        lines.append(
            f"| {name} | {t['encode_symbols_per_s_1t'] / 1e6:.1f} | "
            f"{t['encode_symbols_per_s_2t'] / 1e6:.1f} | {sp(t, 'encode')} | "
            f"{t['decode_symbols_per_s_1t'] / 1e6:.1f} | {t['decode_symbols_per_s_2t'] / 1e6:.1f} "
            f"| {sp(t, 'decode')} | {sp(t, 'control_latency')} | {sp(t, 'control_throughput')} |")
    return "\n".join(lines)


def coders_targets(results: Path) -> str:
    r = load_coders(results)
    tg = r["targets"]
    lines = []
    for data in r["data"]:
        t = tg[data]
        met = "met" if t["arithmetic_within_H_plus_0.01"] else "NOT met"
        lines.append(
            f"- {data}: arithmetic within H + 0.01 ({met}); arithmetic vs constriction's range "
            f"coder {t['arithmetic_encode_vs_constriction_range']:.2f}× encode, "
            f"{t['arithmetic_decode_vs_constriction_range']:.2f}× decode (target ≥ 1); Huffman "
            f"decode {t['huffman_decode_vs_zstd3_decode']:.2f}× zstd-3's (target ≥ 0.3).")
    best = tg["two_thread_speedups_16_chunks"]
    med = tg["two_thread_speedups_16_chunks_median_paired"]
    vals = [v for pair in best.values() for v in pair]
    mvals = [v for pair in med.values() for v in pair]
    n_met = sum(v >= 1.7 for v in vals)
    lines.append(
        f"- 2 threads vs 1 on {r['threads_chunks']} chunks (target ≥ 1.7×): {n_met} of "
        f"{len(vals)} best-run speedups (encode and decode of each coder) met, "
        f"{min(vals):.2f}–{max(vals):.2f}× ({min(mvals):.2f}–{max(mvals):.2f}× as medians "
        "of paired runs).")
    return "\n".join(lines)


def coders_page(results: Path) -> str:
    """docs/benchmarks_coders.md's tables: coders.py's own Markdown, from the JSON."""
    import coders

    r = load_coders(results)
    text = coders.markdown(r, "python benchmarks/coders.py --markdown docs/benchmarks_coders.md")
    # the page's title and the block markers are outside the block
    return text.split("\n", 2)[2].strip("\n")


def scalar_table(results: Path, families=("kmeans", "ecsq")) -> str:
    import scalar

    r = load(results, "scalar")
    keep = [i for i, f in enumerate(r["family"]) if f in families]
    sub = {k: [v[i] for i in keep] for k, v in r.items() if isinstance(v, list)}
    return scalar.markdown_table(sub)


def scalar_kmeans_table(results: Path) -> str:
    return scalar_table(results, ("kmeans",))


def _rows(r: dict) -> dict:
    out = {}
    for i, m in enumerate(r["method"]):
        out[r["n"][i], r["levels"][i], m] = {k: r[k][i] for k in
                                             ("mse", "seconds", "objective", "rate")}
    return out


def scalar_summary(results: Path) -> str:
    """Ratios the prose of the scalar pages quotes, computed from scalar.json."""
    import math

    r = load(results, "scalar")
    rows = _rows(r)
    lines = [
        "| n | K | sklearn s / DP s | Lloyd MSE / DP − 1 | scipy MSE / DP − 1 "
        "| sklearn MSE / DP − 1 | ECSQ-DP gain over k-means DP (dB) | CLG D+λR / DP − 1 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def ex(a, b):
        return "—" if a is None or b is None else f"{100 * (a / b - 1):+.3f} %"

    for n, k in dict.fromkeys((r["n"][i], r["levels"][i]) for i in range(len(r["n"]))):
        dp = rows[n, k, "rdcodec dp"]
        sk = rows.get((n, k, "sklearn KMeans"), {})
        sp = rows.get((n, k, "scipy kmeans2"), {})
        sk_s = sk.get("seconds")
        speed = (f"{sk_s / dp['seconds']:.1f}×" if isinstance(sk_s, float)
                 else f"> {float(str(sk_s).lstrip('>')) / dp['seconds']:.0f}× (timed out)")
        e_dp, e_clg = rows[n, k, "rdcodec ecsq-dp"], rows[n, k, "rdcodec ecsq-clg"]
        gain = 10 * math.log10(dp["mse"] / e_dp["mse"])
        lines.append(
            f"| {n:.0e} | {k} | {speed} | {ex(rows[n, k, 'rdcodec lloyd']['mse'], dp['mse'])} | "
            f"{ex(sp.get('mse'), dp['mse'])} | {ex(sk.get('mse'), dp['mse'])} | {gain:.2f} | "
            f"{ex(e_clg['objective'], e_dp['objective'])} |")
    meta = r["meta"]
    lines += ["", f"From `benchmarks/results/scalar.json`: `{meta['command']}` "
                  f"({meta['total_seconds']:.0f} s, {_load_str(meta)})."]
    return "\n".join(lines)


def tcq_block(results: Path) -> str:
    """The TCQ block of docs/benchmarks.md: benchmarks/tcq.py's own Markdown."""
    import tcq

    return tcq.markdown(load(results, "tcq")).rstrip()


def masks_block(results: Path) -> str:
    """The pruning-mask block of docs/benchmarks.md: benchmarks/masks.py's own Markdown."""
    import masks

    return masks.markdown(load(results, "masks")).rstrip()


def nncodec_block(results: Path) -> str:
    """The NNCodec block of docs/benchmarks.md, as ``vs_nncodec.py --report`` writes it
    (without redrawing the figures it links)."""
    import vs_nncodec

    allres = vs_nncodec.read_results(results)
    first = next(iter(allres.values()))
    env, meta = first["environment"], first["results"]["meta"]
    parts = [f"Machine: {meta.get('machine', '')}; Python {env['python']}, numpy "
             f"{env['numpy']}, numba {env['numba']} ({env['numba_threads']} threads), "
             f"NNCodec {meta.get('nncodec') or 'not installed'}. Command: "
             f"`{meta['command']}` (load average at start "
             f"{', '.join(f'{v:.1f}' for v in meta['loadavg_at_start'])}).", ""]
    for src, doc in allres.items():
        parts.append(vs_nncodec.source_markdown(doc, f"figures/nncodec_{src}.png"))
    return "\n".join(parts).rstrip()


# ---------------------------------------------------------------------------
# docs/testing.md: mutation scores
def _selection(tests) -> str:
    """Test node ids grouped by file: whole files, or ``file (N tests)``."""
    files: dict[str, int] = {}
    for t in tests:
        f = t.split("::")[0].removeprefix("tests/codec/")
        files[f] = files.get(f, 0) + (1 if "::" in t else 0)
    return ", ".join(f"`{f}`" + (f" ({n} tests)" if n else "") for f, n in files.items())


def mutants_table(results: Path) -> str:
    r = load(results, "mutants")
    lines = [
        "| module | tests run per mutant | mutants | sampled | killed | timed out | survived "
        "| not run | score | before the tests added for its survivors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    k = s = 0
    for m in r["modules"]:
        tests = _selection(m["tests"])
        score = "—" if m["score"] is None else f"{100 * m['score']:.0f} %"
        lines.append(
            f"| `{m['module']}` | {tests} | {m['mutants']} | {m['sampled']} | {m['killed']} "
            f"| {m['timeout']} | {m['survived']} | {m['incompetent']} | {score} "
            f"| {_previous(m)} |")
        k += m["killed"] + m["timeout"]
        s += m["survived"]
    import mutants

    done = {m["module"] for m in r["modules"]}
    for module, sel in mutants.MODULES.items():
        if module not in done:
            tests = _selection(sel)
            lines.append(f"| `{module}` | {tests} | not run yet | | | | | | | |")
    meta = r["meta"]
    # the module list of --modules is the table's first column; the command keeps its options
    command = re.sub(r"--modules( \S+)+", "--modules …", meta["command"])
    total = f"{100 * k / (k + s):.0f} %" if k + s else "—"
    per = {m["per_module"] for m in r["modules"] if "per_module" in m}
    lines += [
        "",
        f"All modules: {k} killed (timeouts included) and {s} survived of {k + s} run: "
        f"score {total}. Sample: {', '.join(map(str, sorted(per)))} mutant(s) per module, "
        f"seed {meta['seed']}; last command `{command}` "
        f"({meta['total_seconds'] / 60:.0f} min, {_load_str(meta)}).",
    ]
    return "\n".join(lines)


def _previous(m: dict) -> str:
    """The counts a rerun replaced (benchmarks/mutants.py keeps them as ``previous``)."""
    p = m.get("previous")
    if not p:
        return ""
    k = p["killed"] + p["timeout"]
    lines = ", ".join(map(str, p.get("survivor_lines", [])))
    return (f"{k} killed, {p['survived']} survived ({100 * k / (k + p['survived']):.0f} %)"
            + (f"; survivors at lines {lines}" if lines else ""))


def mutants_rechecks(results: Path) -> str:
    """``--lines`` reruns: every mutant on a survivor's line, against today's tests."""
    path = results / "mutants_rechecks.json"
    if not path.exists():
        return "No recheck run yet."
    r = load(results, "mutants_rechecks")
    lines = ["| module | lines | operators | tests | mutants rerun | killed | timed out "
             "| survived |", "|---|---|---|---|---:|---:|---:|---:|"]
    for m in r["modules"]:
        ops = ", ".join(m.get("operators") or ["all"])
        lines.append(
            f"| `{m['module']}` | {', '.join(map(str, m['lines']))} | {ops} "
            f"| {_selection(m['tests'])} | {m['sampled']} | {m['killed']} | {m['timeout']} "
            f"| {m['survived']} |")
    command = "benchmarks/mutants.py --modules MODULE --lines LINE ... [--operators OP ...]"
    lines += ["", f"Command: `{command}` (last: {_load_str(r['meta'])})."]
    return "\n".join(lines)


def mutants_survivors(results: Path) -> str:
    r = load(results, "mutants")
    lines = ["| module | line | operator | mutation |", "|---|---:|---|---|"]
    for m in r["modules"]:
        for s in m["survivors"]:
            change = [ln[1:].strip() for ln in s["diff"].splitlines()
                      if ln.startswith(("-", "+")) and not ln.startswith(("---", "+++"))]
            text = " → ".join(f"`{c}`" for c in change[:2]).replace("|", "\\|")
            lines.append(f"| `{m['module']}` | {s['line']} | {s['operator']} | {text} |")
    if len(lines) == 2:
        lines.append("| (none) | | | |")
    return "\n".join(lines)


#: page -> {block name -> renderer(results_dir) -> text}
# ---------------------------------------------------------------------------
# docs/results.md: all-MiniLM-L6-v2 (make demo-minilm)
def minilm_block(results: Path) -> str:
    """The MiniLM section's block: results_tables.minilm_section of minilm.json."""
    import results_tables

    doc = json.loads((results / "minilm.json").read_text(encoding="utf-8"))
    lines = [s.strip() for s in (ROOT / "examples" / "data" / "sentences.txt").read_text(
        encoding="utf-8").splitlines() if s.strip()]
    # examples/demo_minilm.py: even lines evaluate, odd lines calibrate
    return results_tables.minilm_section(doc, (len(lines[0::2]), len(lines[1::2])))


BLOCKS: dict[str, dict[str, Callable[[Path], str]]] = {
    "README.md": {"gaps": readme_gaps},
    "docs/benchmarks.md": {
        "throughput": throughput_table,
        "coders-gaussian": coders_gaussian,
        "coders-threads": coders_threads,
        "coders-targets": coders_targets,
        "scalar-kmeans": scalar_kmeans_table,
        "scalar-summary": scalar_summary,
        "tcq": tcq_block,
        "masks": masks_block,
        "nncodec": nncodec_block,
    },
    "docs/benchmarks_coders.md": {"coders-page": coders_page},
    "docs/benchmarks_scalar.md": {"scalar": scalar_table, "scalar-summary": scalar_summary},
    "docs/testing.md": {"mutants": mutants_table, "mutants-survivors": mutants_survivors,
                        "mutants-rechecks": mutants_rechecks},
    "docs/results.md": {"minilm": minilm_block},
}


def block_pattern(name: str, rd: bool = False) -> re.Pattern:
    if rd:
        begin, end = f"<!-- rd:begin {name} -->", f"<!-- rd:end {name} -->"
    else:
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    return re.compile(rf"({re.escape(begin)}\n)(.*?)({re.escape(end)})", re.S)


def render_page(text: str, blocks: dict[str, str], rd: bool = False) -> tuple[str, list[str]]:
    """``text`` with every block of ``blocks`` replaced; the names whose markers are missing.

    Example
    -------
    >>> render_page("a\\n<!-- x:begin -->\\nold\\n<!-- x:end -->\\n", {"x": "new"})
    ('a\\n<!-- x:begin -->\\nnew\\n<!-- x:end -->\\n', [])
    """
    missing = []
    for name, body in blocks.items():
        text, n = block_pattern(name, rd).subn(
            lambda m, body=body: m.group(1) + body + "\n" + m.group(3), text)
        if n == 0:
            missing.append(name)
    return text, missing


def all_pages(results: Path) -> dict[str, tuple[dict[str, str], bool]]:
    """page -> (block name -> regenerated text, whether the page uses rd: markers)."""
    import rd_plots

    pages = {page: ({n: f(results) for n, f in blocks.items()}, False)
             for page, blocks in BLOCKS.items()}
    pages["docs/rate_distortion.md"] = (rd_plots.all_tables(rd_plots.load_all(results)), True)
    return pages


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if a committed block differs")
    args = p.parse_args(argv)
    stale = []
    for page, (blocks, rd) in all_pages(args.results_dir).items():
        path = ROOT / page
        old = path.read_text(encoding="utf-8")
        new, missing = render_page(old, blocks, rd)
        if missing:
            p.error(f"{page}: no markers for block(s) {', '.join(missing)}")
        if new != old:
            stale.append(page)
            if not args.check:
                path.write_text(new, encoding="utf-8")
        print(f"{page}: {len(blocks)} blocks{' (changed)' if new != old else ''}")
    if args.check and stale:
        print(f"stale blocks in: {', '.join(stale)}; run docs/scripts/doc_blocks.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
