"""The generated blocks of README.md and docs/*.md equal their regeneration from the
committed benchmarks/results/*.json (docs/scripts/doc_blocks.py), and the mutation
driver's cache invalidation covers every kernel that can run a mutated one."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


doc_blocks = _load(ROOT / "docs" / "scripts" / "doc_blocks.py", "doc_blocks")
mutants = _load(ROOT / "benchmarks" / "mutants.py", "bench_mutants")


@pytest.fixture(scope="module")
def pages():
    return doc_blocks.all_pages(doc_blocks.RESULTS)


def test_every_committed_block_equals_its_regeneration(pages):
    stale = []
    for page, (blocks, rd) in pages.items():
        text = (ROOT / page).read_text(encoding="utf-8")
        for name, body in blocks.items():
            m = doc_blocks.block_pattern(name, rd).search(text)
            assert m is not None, f"{page}: markers of block {name!r} are missing"
            if m.group(2) != body + "\n":
                stale.append(f"{page}:{name}")
    assert not stale, f"stale generated blocks {stale}: run docs/scripts/doc_blocks.py"


def test_a_changed_number_is_caught(pages):
    """The comparison above can fail: one digit changed in a committed block is stale."""
    blocks, rd = pages["README.md"]
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    body = doc_blocks.block_pattern("gaps", rd).search(text).group(2)
    digit = next(i for i, c in enumerate(body) if c.isdigit() and body[i - 1] == ".")
    forged = body[:digit] + str((int(body[digit]) + 1) % 10) + body[digit + 1:]
    assert forged != blocks["gaps"] + "\n"
    new, missing = doc_blocks.render_page(text.replace(body, forged), blocks, rd)
    assert not missing and new == text


def test_missing_markers_are_reported():
    _, missing = doc_blocks.render_page("no markers here\n", {"gaps": "x"})
    assert missing == ["gaps"]


def test_mutation_cache_invalidation_follows_the_kernel_imports():
    imports = mutants.kernel_imports(ROOT)
    assert imports["batch"] >= {"adaptive", "huffman", "lzw", "range_coder", "tokens"}
    # every kernel module that (transitively) imports bitio is recompiled for its mutants
    assert mutants.dependents("bitio", imports) == {
        "bitio", "tokens", "huffman", "lzw", "range_coder", "adaptive", "batch", "mask"}
    assert mutants.dependents("lattice", imports) == {"lattice"}
    # and every module named for mutation has a test selection that exists
    for module, tests in mutants.MODULES.items():
        assert (ROOT / module).exists(), module
        for t in tests:
            assert (ROOT / t.split("::")[0]).exists(), t


def test_stale_cache_files_are_the_mutated_module_and_its_callers(tmp_path):
    imports = {"bitio": set(), "huffman": {"bitio"}, "lattice": set()}
    names = ["bitio.put_bits-10.py311.nbi", "huffman.encode-40.py311.1.nbc",
             "lattice.nearest-5.py311.nbi", "index.txt"]
    for n in names:
        (tmp_path / "sub" / n).parent.mkdir(exist_ok=True)
        (tmp_path / "sub" / n).write_bytes(b"")
    got = mutants.stale_cache_files(tmp_path, "codec/_kernels/bitio.py", imports)
    assert sorted(p.name for p in got) == names[:2]
    assert mutants.stale_cache_files(tmp_path, "codec/quantizers/lattice.py", imports) == []


def test_minilm_block_reads_the_written_row_and_the_target():
    """docs/results.md's MiniLM block: the written row, and 'NOT met' when it misses."""
    import results_tables  # on sys.path through doc_blocks

    doc = json.loads((doc_blocks.RESULTS / "minilm.json").read_text(encoding="utf-8"))
    text = results_tables.minilm_section(doc, (55, 55))
    best = doc["written"]
    assert f"{best['method']} ({best['setting']})" in text
    assert "55 evaluation and 55 calibration sentences" in text
    row = next(r for r in doc["results"] if r["method"] == best["method"]
               and r["setting"] == best["setting"])
    missed = {**doc, "targets": {**doc["targets"], "cosine": row["cosine"] + 1e-3}}
    assert "is NOT met" in results_tables.minilm_section(missed)


def test_recheck_rows_keep_what_they_replace(tmp_path):
    """mutants.merge: a rerun of a module keeps the replaced counts as 'previous'; a
    --lines recheck is a row of its own."""
    old = {"module": "codec/x.py", "killed": 1, "timeout": 0, "survived": 3,
           "incompetent": 0, "score": 0.25, "tests": ["t"], "seed": 0, "per_module": 4,
           "survivors": [{"line": 7}, {"line": 9}, {"line": 12}]}
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"results": {"modules": [old]}}))
    new = {**old, "killed": 4, "survived": 0, "score": 1.0, "survivors": []}
    recheck = {**new, "lines": [9]}
    rows = mutants.merge(path, [new, recheck])
    assert len(rows) == 2
    assert rows[0]["previous"]["survived"] == 3 and rows[0]["previous"]["survivor_lines"] == [
        7, 9, 12]
    assert "previous" not in rows[1]
