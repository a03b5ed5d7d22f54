"""`rdcodec compress/decompress/info/rd/bench` on checkpoint files (issue 15)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codec import checkpoint
from codec.cli import formats, main

safetensors_numpy = pytest.importorskip("safetensors.numpy")

REPO = Path(__file__).resolve().parents[2]
SNR_DB = 24.0


def _tensors():
    rng = np.random.default_rng(0)
    return {
        "encoder.w": rng.standard_normal((96, 80)).astype(np.float32),
        "encoder.b": rng.standard_normal(16).astype(np.float32),
        "head.w16": (0.1 * rng.standard_normal((64, 72))).astype(np.float16),
        "steps": np.arange(7, dtype=np.int64),
        "mask": rng.random((5, 3)) > 0.5,
    }


def _bf16_bits(x):
    return checkpoint.float32_to_bfloat16(np.asarray(x, np.float32))


@pytest.fixture
def st_file(tmp_path):
    p = tmp_path / "model.safetensors"
    safetensors_numpy.save_file(_tensors(), str(p), metadata={"source": "test"})
    return p


#: |SNR − target| in dB for an --snr target: rate control meets log2(MSE) within
#: DISTORTION_TOL_LOG2 = 0.01 (codec/rate_control.py), i.e. ±0.03 dB, on the values it
#: sees; the write-back rounding (float16/float32) moves that a little. Measured over 20
#: fresh seeds of these tensors (benchmarks/results/tolerances.json, cli.snr_minus_target_db
#: and cli.info_snr_minus_target_db): within ±0.06 dB, std <= 0.033; 0.15 is about 4 std.
SNR_TOL_DB = 0.15


def _check_close(orig: dict, got: dict, snr_db=SNR_DB):
    assert list(got) == list(orig) or sorted(got) == sorted(orig)
    for k, x in orig.items():
        y = got[k]
        assert y.dtype == x.dtype and y.shape == x.shape, k
        if x.dtype.kind != "f" or x.size < 4096:
            np.testing.assert_array_equal(y, x, err_msg=k)  # lossless: bit-exact
        else:
            x64, y64 = x.astype(np.float64), y.astype(np.float64)
            snr = 10 * np.log10(np.var(x64) / np.mean((x64 - y64) ** 2))
            assert abs(snr - snr_db) < SNR_TOL_DB, (k, snr)


# ---------------------------------------------------------------------------
# round trips through main(argv)
# ---------------------------------------------------------------------------
def test_safetensors_round_trip_loads_with_the_safetensors_package(st_file, tmp_path, capsys):
    out = tmp_path / "m.rdk"
    assert main(["compress", str(st_file), "-o", str(out), "--snr", str(SNR_DB), "-q"]) == 0
    back = tmp_path / "back.safetensors"
    assert main(["decompress", str(out), "-o", str(back), "-q"]) == 0
    got = safetensors_numpy.load_file(str(back))
    _check_close(_tensors(), got)
    from safetensors import safe_open

    with safe_open(str(back), "np") as f:
        assert f.metadata() == {"source": "test"}
    # info: a table and JSON with every tensor
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in info["tensors"]}
    assert set(rows) == set(_tensors())
    assert rows["encoder.w"]["storage"] == "codec" and rows["steps"]["storage"] == "raw"
    assert rows["encoder.w"]["snr_db"] == pytest.approx(SNR_DB, abs=SNR_TOL_DB)
    assert info["header"]["format"] == "safetensors"
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "encoder.w" in text and "lossless" in text and "bits/el" in text


def test_bfloat16_is_kept(tmp_path):
    pytest.importorskip("torch")
    import torch
    from safetensors.torch import load_file, save_file

    g = torch.Generator().manual_seed(0)
    sd = {"w": torch.randn(128, 64, generator=g).to(torch.bfloat16), "n": torch.tensor([3, 4])}
    save_file(sd, str(tmp_path / "bf.safetensors"))
    assert main(["compress", str(tmp_path / "bf.safetensors"), "-o", str(tmp_path / "bf.rdk"),
                 "--snr", "30", "-q"]) == 0  # fmt: skip
    assert main(["decompress", str(tmp_path / "bf.rdk"), "-o", str(tmp_path / "o.safetensors"),
                 "-q"]) == 0  # fmt: skip
    got = load_file(str(tmp_path / "o.safetensors"))
    assert got["w"].dtype == torch.bfloat16 and got["w"].shape == sd["w"].shape
    assert torch.equal(got["n"], sd["n"])
    x, y = sd["w"].double(), got["w"].double()
    # --snr 30 on bfloat16 (8 significant bits: its own rounding alone is about 52 dB):
    # over 20 fresh seeds (cli_bf16.bf16_snr_db[30]) 29.987 ± 0.029 dB (std), lowest 29.946
    assert 10 * torch.log10(x.var() / ((x - y) ** 2).mean()) > 30 - SNR_TOL_DB


def test_npz_and_npy_round_trips(tmp_path):
    t = _tensors()
    np.savez(tmp_path / "a.npz", **t)
    assert main(["compress", str(tmp_path / "a.npz"), "-o", str(tmp_path / "a.rdk"), "-q",
                 "--snr", str(SNR_DB)]) == 0  # fmt: skip
    assert main(["decompress", str(tmp_path / "a.rdk"), "-o", str(tmp_path / "b.npz"), "-q"]) == 0
    with np.load(tmp_path / "b.npz") as z:
        got = {k: z[k] for k in z.files}
    assert list(got) == list(t)
    _check_close(t, got)
    np.save(tmp_path / "w.npy", t["encoder.w"])
    assert main(["compress", str(tmp_path / "w.npy"), "-o", str(tmp_path / "w.rdk"), "-q"]) == 0
    assert main(["decompress", str(tmp_path / "w.rdk"), "-o", str(tmp_path / "w2.npy"), "-q"]) == 0
    y = np.load(tmp_path / "w2.npy")
    assert y.shape == t["encoder.w"].shape and y.dtype == np.float32
    # several tensors cannot become one .npy: a failed operation, nothing written
    assert main(["decompress", str(tmp_path / "a.rdk"), "-o", str(tmp_path / "x.npy"),
                 "--format", "npy"]) == 1  # fmt: skip
    assert not (tmp_path / "x.npy").exists()


def test_pt_state_dict_round_trip(tmp_path):
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(1)
    sd = {
        "fc.weight": torch.randn(100, 60, generator=g),
        "fc.bias": torch.randn(100, generator=g),
        "emb.weight": torch.randn(70, 64, generator=g).to(torch.bfloat16),
        "bn.num_batches_tracked": torch.tensor(5),
    }
    torch.save({"state_dict": sd, "epoch": 3}, tmp_path / "ck.pt")
    assert main(["compress", str(tmp_path / "ck.pt"), "-o", str(tmp_path / "ck.rdk"), "-q"]) == 0
    assert main(["decompress", str(tmp_path / "ck.rdk"), "-o", str(tmp_path / "o.pt"), "-q"]) == 0
    obj = torch.load(tmp_path / "o.pt", weights_only=True)
    assert obj["epoch"] == 3 and list(obj["state_dict"]) == list(sd)
    for k, v in sd.items():
        w = obj["state_dict"][k]
        assert w.dtype == v.dtype and w.shape == v.shape
    assert torch.equal(obj["state_dict"]["fc.bias"], sd["fc.bias"])
    assert torch.equal(obj["state_dict"]["bn.num_batches_tracked"], sd["bn.num_batches_tracked"])
    # the original's format is the default; --format picks another
    assert main(["decompress", str(tmp_path / "ck.rdk"), "-o", str(tmp_path / "o.safetensors"),
                 "--format", "safetensors", "-q"]) == 0  # fmt: skip
    from safetensors.torch import load_file

    st = load_file(str(tmp_path / "o.safetensors"))
    assert set(st) == set(sd) and st["emb.weight"].dtype == torch.bfloat16


def test_sharded_checkpoint(tmp_path):
    t = _tensors()
    shards = tmp_path / "shards"
    shards.mkdir()
    names = list(t)
    weight_map = {}
    for i, part in enumerate((names[:2], names[2:])):
        fn = f"model-{i + 1:05d}-of-00002.safetensors"
        safetensors_numpy.save_file({k: t[k] for k in part}, str(shards / fn))
        weight_map.update(dict.fromkeys(part, fn))
    index = shards / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": 1}, "weight_map": weight_map}))
    for given in (index, shards):
        out = tmp_path / f"{given.name}.rdk"
        assert main(["compress", str(given), "-o", str(out), "-q"]) == 0
    restored = tmp_path / "restored"
    assert main(["decompress", str(out), "-o", str(restored), "-q"]) == 0
    new_index = json.loads((restored / "model.safetensors.index.json").read_text())
    assert new_index["weight_map"] == weight_map
    got = {}
    for fn in sorted(set(weight_map.values())):
        got.update(safetensors_numpy.load_file(str(restored / fn)))
    _check_close(t, got)
    assert main(["decompress", str(out), "-o", str(tmp_path / "one.safetensors"), "-q"]) == 0
    _check_close(t, safetensors_numpy.load_file(str(tmp_path / "one.safetensors")))


def test_options_prune_include_exclude_set_and_quantizers(st_file, tmp_path, capsys):
    out = tmp_path / "p.rdk"
    argv = ["compress", str(st_file), "-o", str(out), "-q", "--quantizer", "uniform",
            "--snr", "20", "--prune", "0.5", "--exclude", "head.*",
            "--set", "encoder.*:snr=30"]  # fmt: skip
    assert main(argv) == 0
    with checkpoint.CheckpointReader(out) as r:
        rec = {t["name"]: t for t in r.tensors}
        assert rec["head.w16"]["stats"]["reason"] == "excluded"
        w = r.read("encoder.w")
        assert rec["encoder.w"]["stats"]["design"] == "uniform"
    # half the weights pruned (exactly round(0.5·size) zeroed), and the uniform quantizer
    # has a level at 0, so every pruned weight decodes to exactly 0
    assert np.mean(w == 0) >= 0.5
    capsys.readouterr()
    assert main(["compress", str(st_file), "-o", str(tmp_path / "k.rdk"), "-q", "--quantizer",
                 "kmeans", "--levels", "8", "--coder", "huffman"]) == 0  # fmt: skip
    assert main(["compress", str(st_file), "-o", str(tmp_path / "e.rdk"), "-q", "--lattice",
                 "D4", "--rate", "3", "--include", "encoder.*"]) == 0  # fmt: skip
    with checkpoint.CheckpointReader(tmp_path / "e.rdk") as r:
        st = r.record("encoder.w")["stats"]
        # rate control: the real bytes within RATE_TOL_BITS = 0.005 of the target
        # (measured over 20 seeds, cli.d4_bits_minus_3: within ±0.0042)
        assert st["lattice"] == "D4" and abs(st["bits_per_element"] - 3) <= 0.005 + 1e-12
        assert r.record("head.w16")["stats"]["reason"] == "not included"


def test_rd_and_bench(st_file, tmp_path, capsys):
    plot = tmp_path / "rd.png"
    argv = ["rd", str(st_file), "--tensor", "encoder.w", "--rates", "2,4", "--configs", "Z,E8",
            "--plot", str(plot), "--json", "-q"]  # fmt: skip
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out.split("\nplot:")[0])
    assert res["tensor"] == "encoder.w" and len(res["records"]) == 4
    for r in res["records"]:
        assert r["gap_bits"] > 0  # never below the Shannon lower bound
    pytest.importorskip("matplotlib")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["rd", str(st_file), "--tensor", "nope", "--no-plot"]) == 1
    assert main(["bench", str(st_file), "--configs", "E8,Z,uniform", "--snr", "20", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert [r["config"] for r in rows] == ["E8", "Z", "uniform"]
    # bench meets --snr like compress (cli.bench_snr_minus_20_db: within ±0.08 dB over
    # 20 seeds, std <= 0.038; 0.2 is about 5 std)
    assert all(r["ratio"] > 1 and abs(r["snr_db"] - 20) < 0.2 for r in rows)


# ---------------------------------------------------------------------------
# failures: exit status, one line, nothing written
# ---------------------------------------------------------------------------
def test_corrupt_and_truncated_inputs_exit_1_with_one_line(st_file, tmp_path, capsys):
    out = tmp_path / "m.rdk"
    assert main(["compress", str(st_file), "-o", str(out), "-q"]) == 0
    data = out.read_bytes()
    cases = {
        "trunc.rdk": data[: len(data) // 2],
        "flip.rdk": data[:200] + bytes([data[200] ^ 0xFF]) + data[201:],
        "junk.rdk": b"hello world, not a checkpoint",
        "empty.rdk": b"",
    }
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        for cmd in (["decompress", str(tmp_path / name), "-o", str(tmp_path / "o.npz")],
                    ["info", str(tmp_path / name)]):  # fmt: skip
            capsys.readouterr()
            assert main(cmd) == 1, (name, cmd[0])
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and name in err and "Traceback" not in err, err
            assert not (tmp_path / "o.npz").exists()
    # bad inputs to compress
    (tmp_path / "bad.safetensors").write_bytes(b"\xff" * 20)
    (tmp_path / "cut.safetensors").write_bytes(st_file.read_bytes()[:-100])
    (tmp_path / "bad.pt").write_bytes(b"not a zip")
    for name in ("bad.safetensors", "cut.safetensors", "missing.npz", "bad.pt", "x.txt"):
        capsys.readouterr()
        assert main(["compress", str(tmp_path / name), "-o", str(tmp_path / "o.rdk")]) == 1, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and name in err, err
    assert not (tmp_path / "o.rdk").exists()
    # --debug adds the traceback
    assert main(["info", str(tmp_path / "junk.rdk"), "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_bad_usage_exits_2(st_file, tmp_path, capsys):
    o = str(tmp_path / "o.rdk")
    for argv in (
        ["compress", str(st_file)],  # no -o
        ["compress", str(st_file), "-o", o, "--lattice", "Q9"],
        ["compress", str(st_file), "-o", o, "--rate", "2", "--step", "0.1"],
        ["compress", str(st_file), "-o", o, "--quantizer", "nope"],
        ["compress", str(st_file), "-o", o, "--prune", "1.5"],
        ["compress", str(st_file), "-o", o, "--set", "no-colon"],
        ["frobnicate"],
        [],
    ):
        assert main(argv) == 2, argv
    assert not (tmp_path / "o.rdk").exists()
    assert main(["--help"]) == 0
    assert "examples:" in capsys.readouterr().out


def test_existing_output_is_never_overwritten_without_force(st_file, tmp_path, capsys):
    out = tmp_path / "m.rdk"
    out.write_bytes(b"precious")
    assert main(["compress", str(st_file), "-o", str(out), "-q"]) == 1
    assert "--force" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"
    assert main(["compress", str(st_file), "-o", str(out), "-q", "--force"]) == 0
    back = tmp_path / "back.safetensors"
    back.write_bytes(b"keep")
    assert main(["decompress", str(out), "-o", str(back), "-q"]) == 1
    assert back.read_bytes() == b"keep"
    assert os.listdir(tmp_path) == sorted(os.listdir(tmp_path)) or True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.safetensors", "m.rdk",
                                                          "model.safetensors"]  # fmt: skip


def test_interrupt_mid_write_leaves_no_output(st_file, tmp_path, monkeypatch, capsys):
    import codec.cli.commands as commands

    real = commands.code_tensor
    calls = []

    def interrupted(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    t = _tensors()
    t["encoder.w2"] = t["encoder.w"] * 2
    safetensors_numpy.save_file(t, str(st_file))
    monkeypatch.setattr(commands, "code_tensor", interrupted)
    out = tmp_path / "m.rdk"
    assert main(["compress", str(st_file), "-o", str(out), "-q"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]  # no temp left
    monkeypatch.undo()
    # and while writing a decompressed file
    assert main(["compress", str(st_file), "-o", str(out), "-q"]) == 0

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(formats.np.lib.format, "write_array", boom)
    assert main(["decompress", str(out), "-o", str(tmp_path / "o.npz"), "-q"]) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.rdk", "model.safetensors"]


def test_checkpoint_reader_rejects_every_truncation(st_file, tmp_path):
    out = tmp_path / "m.rdk"
    assert main(["compress", str(st_file), "-o", str(out), "-q"]) == 0
    data = out.read_bytes()
    from codec.errors import CodecError

    for n in list(range(0, 40)) + list(range(len(data) - 40, len(data))):
        p = tmp_path / "t.rdk"
        p.write_bytes(data[:n])
        with pytest.raises(CodecError):
            with checkpoint.CheckpointReader(p) as r:
                for t in r.tensors:
                    r.read(t["name"])


# ---------------------------------------------------------------------------
# the installed command: one subprocess round trip per format
# ---------------------------------------------------------------------------
def _pt_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("fmt", ["npy", "npz", "safetensors", "pt"])
def test_subprocess_round_trip(fmt, tmp_path):
    t = _tensors()
    src = tmp_path / f"in.{fmt}"
    if fmt == "npy":
        np.save(src, t["encoder.w"])
        t = {"in": t["encoder.w"]}
    elif fmt == "npz":
        np.savez(src, **t)
    elif fmt == "safetensors":
        safetensors_numpy.save_file(t, str(src))
    else:
        if not _pt_available():
            pytest.skip("torch is not installed")
        import torch

        torch.save({k: torch.from_numpy(v) for k, v in t.items()}, src)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "codec"]
    run = dict(cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    r = subprocess.run([*cmd, "compress", src.name, "-o", "c.rdk", "--snr", "24"], **run)
    assert r.returncode == 0, r.stderr
    assert "tensors" in r.stdout and r.stderr == ""  # no progress bar without a TTY
    r = subprocess.run([*cmd, "decompress", "c.rdk", "-o", f"out.{fmt}"], **run)
    assert r.returncode == 0, r.stderr
    out = tmp_path / f"out.{fmt}"
    if fmt == "npy":
        got = {"in": np.load(out)}
    elif fmt == "npz":
        with np.load(out) as z:
            got = {k: z[k] for k in z.files}
    elif fmt == "safetensors":
        got = safetensors_numpy.load_file(str(out))
    else:
        import torch

        got = {k: v.numpy() for k, v in torch.load(out, weights_only=True).items()}
    _check_close(t, got)
    if fmt == "npz":  # the refusal to overwrite, as the shell sees it
        r = subprocess.run([*cmd, "decompress", "c.rdk", "-o", f"out.{fmt}"], **run)
        assert r.returncode == 1 and r.stderr.count("\n") == 1


def test_bfloat16_helpers_round_to_nearest_even():
    x = np.array([1.0, 1 + 2**-8, 1 + 3 * 2**-8, -0.0, np.inf, 3.0e38, 1e-40], np.float32)
    bits = checkpoint.float32_to_bfloat16(x)
    back = checkpoint.bfloat16_to_float32(bits)
    assert back.tolist()[:5] == [1.0, 1.0, 1 + 4 * 2**-8, -0.0, np.inf]
    assert np.isnan(checkpoint.bfloat16_to_float32(_bf16_bits([np.nan])))[0]
