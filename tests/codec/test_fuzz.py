"""Fuzzing the decoders, fast profile (issue 14, item 5).

Every quantizer x coder x dtype seed stream, mutated by hypothesis (truncation,
bit flips, splices, forged sizes behind re-sealed CRCs, random bytes), decodes
to the right data or raises a ``codec.errors`` exception, in a worker process
under a per-case time bound (benchmarks/fuzz.py holds the harness and the
heavy profile: ``RDCODEC_FUZZ=heavy python benchmarks/fuzz.py``, whose counts
are in docs/reliability.md). ``HYPOTHESIS_PROFILE=heavy`` runs 1,000 cases per
coder here instead of 400.
"""

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import codec
from codec import container
from codec.errors import CodecError

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "fuzz.py"
CASES = 2000 if os.environ.get("HYPOTHESIS_PROFILE") == "heavy" else 400


def _load_harness():
    spec = importlib.util.spec_from_file_location("fuzz_harness_under_test", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


fz = _load_harness()


@pytest.fixture(scope="module")
def seeds():
    return fz.make_seeds()


@pytest.fixture(scope="module")
def fuzzer(seeds):
    f = fz.Fuzzer(seeds, timeout=30.0, threads=2)
    yield f
    f.close()


def _check(fuzzer, m, seeds):
    before = sum(len(t.failures) for t in fuzzer.tallies.values())
    outcome = fuzzer.run_case(m, seeds)
    if outcome in ("crash", "hang", "wrong"):
        failures = [f for t in fuzzer.tallies.values() for f in t.failures][before:]
        pytest.fail(f"{m.op}: {outcome}: {failures[-1]}")


def test_seeds_cover_every_quantizer_coder_and_dtype(seeds):
    got = {(s.quantizer, s.coder, s.dtype) for s in seeds}
    assert len(got) == len(fz.QUANTIZERS) * 4 * 3 == len(seeds)
    assert all(len(s.chunks) > 1 for s in seeds)  # the chunk table has several entries
    # the outliers give tokens with extra bits, so that path of every coder is fuzzed too
    assert any(b >= 0x80 for s in seeds if s.quantizer == "Z" for b in s.chunks[1][1])


@pytest.mark.parametrize("coder", fz.CODERS)
def test_mutated_streams_decode_right_or_raise(fuzzer, seeds, coder):
    mine = [s for s in seeds if s.coder == coder]

    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(fz.mutations())
    def run(m):
        _check(fuzzer, m, mine)

    run()
    tally = fuzzer.tallies[coder]
    assert tally.crashes == tally.hangs == tally.wrong == 0
    # the cases reached both sides of the contract: errors and equal data
    assert tally.outcomes.get("error", 0) > 0 and tally.outcomes.get("same", 0) > 0


def test_every_mutation_kind_once_per_seed(fuzzer, seeds):
    """Each kind of mutation on every seed, with fixed draws (no luck involved)."""
    for i in range(len(seeds)):
        for k, op in enumerate(fz.OPS):
            m = fz.Mutation(op, i, i + k, (k, 3 * k + 1, i + 2, 5), 1 << (k % 64), 1e300, b"\x7f")
            _check(fuzzer, m, seeds)


def test_forged_fields_get_past_the_checksums(seeds):
    """The sealed mutations reach the parser and the entropy decoders: they fail on the
    field they forge, not on a CRC (a forgery caught by a checksum tests nothing)."""
    reached = set()
    for s in seeds:
        for k in range(12):
            for op in ("stream", "table", "directory", "quantizer_field", "layout"):
                m = fz.Mutation(op, 0, 0, (k, k // 3, k * 7, k * 13), k, float("nan"), b"\x01")
                blob, rule = fz.apply(m, [s])
                assert rule == "forged"
                try:
                    codec.decode(blob, max_elements=fz.MAX_ELEMENTS)
                except CodecError as exc:
                    assert "checksum" not in str(exc), (op, s.name, str(exc))
                    if "decoder: stream" in str(exc):
                        reached.add(s.coder)
                except ValueError as exc:
                    assert "max_elements" in str(exc)
    assert reached == set(fz.CODERS)


def test_reseal_repairs_every_crc(seeds):
    s = seeds[0]
    bad = bytearray(s.blob)
    bad[-1] ^= 0x40  # the last payload byte: only its chunk's CRC (and the table's) change
    assert b"checksum" in _error(bytes(bad)).encode()
    fixed = fz.reseal(bytes(bad))
    assert fixed[-1] == bad[-1] and fixed != bytes(bad)  # the damage stays, the CRCs move
    assert "checksum" not in _error(fixed)
    container.verify_payloads(fixed, container.parse(fixed))


def _error(blob) -> str:
    try:
        codec.decode(blob)
    except CodecError as exc:
        return str(exc)
    except ValueError as exc:
        return str(exc)
    return ""


def test_the_harness_notices_hangs_crashes_and_wrong_data(fuzzer, seeds):
    """Its watchdog and its judge can fail: a worker that sleeps past the bound is a
    hang, one that aborts is a crash, data differing from the seed's is wrong."""
    w = fz.Worker(timeout=0.5)
    try:
        with pytest.raises(fz.Hang):
            w.decode(b"", fz.SELF_TEST_SLEEP, 5000, timeout=0.5)
        assert w.decode(seeds[0].blob, timeout=300)["kind"] == "ok"  # restarted, usable
        with pytest.raises(fz.WorkerDied):
            w.decode(b"", fz.SELF_TEST_ABORT, 0, timeout=300)
        assert w.restarts == 2
    finally:
        w.close()
    out = {"kind": "ok", "digest": "0" * 32, "consistent": True, "finite": True, "s": 0.0}
    assert fuzzer._judge(out, "same", seeds[0], 0, 0, b"") == "wrong"
    assert fuzzer._judge(out, "raw", seeds[0], 0, 0, b"") == "wrong"
    assert fuzzer._judge(dict(out, finite=False), "forged", seeds[0], 0, 0, b"") == "wrong"
    assert fuzzer._judge(dict(out, consistent=False), "forged", seeds[0], 0, 0, b"") == "wrong"
    assert fuzzer._judge({"kind": "error"}, "same", seeds[0], 0, 0, b"") == "wrong"
    assert fuzzer._judge({"kind": "bug"}, "forged", seeds[0], 0, 0, b"") == "crash"


def test_a_header_spliced_onto_another_streams_chunks_is_a_valid_stream(fuzzer, seeds):
    """Found by the heavy run: the CRCs do not bind the chunk table to the header, so
    float16 D4's header on float32 D4's chunk table and chunks decodes (a valid
    stream, judged 'decoded'); the same splice one byte off is an error."""
    a, b = (
        next(s for s in seeds if s.name == f"D4/adaptive/{dt}") for dt in ("float16", "float32")
    )
    cut = 18 + int.from_bytes(a.blob[10:14], "little")
    ia, ib = seeds.index(a), seeds.index(b)
    m = fz.Mutation("splice", ia, ib, (cut, cut, 0, 0), 0, 0.0, b"")
    assert fuzzer.run_case(m, seeds) == "decoded"
    m = fz.Mutation("splice", ia, ib, (cut, cut + 1, 0, 0), 0, 0.0, b"")
    assert fuzzer.run_case(m, seeds) == "error"


def test_main_writes_counts_and_the_docs_block(tmp_path):
    page = tmp_path / "reliability.md"
    page.write_text("# Reliability\n\nhand-written text stays\n")
    out = tmp_path / "fuzz.json"
    argv = ["--cases", "6", "--quantizers", "Z,tcq", "--out", str(out), "--markdown", str(page)]
    res = fz.main(argv)
    assert all(res["coders"][c]["cases"] == 6 for c in fz.CODERS)
    assert res["run"]["seeds"] == 2 * 4 * 3
    text = page.read_text()
    assert "hand-written text stays" in text and "<!-- fuzz:begin -->" in text
    assert "| lzw | 6 |" in text
    again = fz.main(["--report", "--out", str(out), "--markdown", str(page)])
    assert again == res and page.read_text().count("<!-- fuzz:begin -->") == 1
    both = tmp_path / "both.json"
    summed = fz.main(["--merge", str(out), str(out), "--out", str(both), "--markdown", str(page)])
    assert all(summed["coders"][c]["cases"] == 12 for c in fz.CODERS)
    assert "| lzw | 12 |" in page.read_text() and "Runs, summed" in page.read_text()
