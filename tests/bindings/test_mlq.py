"""Ternary MLQ (bindings.torch.mlq): TWN's quantizer, the incremental schedule, the archive."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import bindings.torch as bt  # noqa: E402
import codec  # noqa: E402
from bindings.torch import mlq  # noqa: E402
from codec import container  # noqa: E402

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
from examples.demo import lenet5  # noqa: E402

INCLUDE = r"^(0|2|5|8|10)\.weight$"  # LeNet-5's conv/linear weights (examples/demo.py)


# ---------------------------------------------------------------------------
# the quantizer
# ---------------------------------------------------------------------------
def test_ternarize_follows_twn_threshold_and_least_squares_scale():
    w = torch.randn(5000, generator=torch.Generator().manual_seed(1))
    q, alpha, delta = bt.ternarize(w, 0.7)
    assert delta == pytest.approx(0.7 * float(w.abs().double().mean()), rel=1e-12)
    big = w.abs() > delta
    assert torch.equal(q == 0, ~big)
    assert torch.equal(torch.sign(q[big]), torch.sign(w[big]))
    assert set(q.abs().unique().tolist()) == {0.0, alpha}
    # α is the least-squares scale of the support: any other scale has a larger error
    err = lambda a: float(((w - a * torch.sign(w) * big) ** 2).sum())  # noqa: E731
    assert err(alpha) < min(err(alpha * 0.99), err(alpha * 1.01))


def test_ternarize_ignores_pruned_weights_and_handles_an_empty_support():
    w = torch.tensor([[5.0, -0.2], [0.3, -4.0]])
    keep = torch.tensor([[False, True], [True, True]])
    q, alpha, delta = bt.ternarize(w, 0.7, keep)
    assert delta == pytest.approx(0.7 * (0.2 + 0.3 + 4.0) / 3)
    assert alpha == 4.0 and q.tolist() == [[0.0, 0.0], [0.0, -4.0]]
    q0, a0, _ = bt.ternarize(torch.zeros(3))
    assert a0 == 0.0 and q0.tolist() == [0.0, 0.0, 0.0]


def test_exact_threshold_minimises_the_squared_error_over_every_support():
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(400, generator=gen)
    keep = w.abs() > 1.0  # a magnitude-pruned layer: the kept weights have no small values
    q, alpha, delta = bt.ternarize(w, "exact", keep)
    err = float(((w * keep - q) ** 2).sum())
    mags = w[keep].abs().sort(descending=True).values.double()
    total = float((mags**2).sum())
    # brute force over the supports "the k largest" (the best support is one of them)
    best = min(total - float(mags[:k].sum()) ** 2 / k for k in range(1, mags.numel() + 1))
    assert err == pytest.approx(best, rel=1e-6)
    assert torch.all(q[~keep] == 0) and set(q[keep].abs().unique().tolist()) <= {0.0, alpha}
    # TWN's rule, made for dense Gaussian weights, zeroes far more of the kept ones
    q_twn, _, _ = bt.ternarize(w, 0.7, keep)
    assert (q_twn[keep] == 0).sum() > 5 * max(int((q[keep] == 0).sum()), 1)
    assert float(((w * keep - q_twn) ** 2).sum()) > err


@pytest.mark.parametrize(
    "args, exc, match",
    [
        ((torch.arange(3),), TypeError, "floating"),
        ((torch.ones(3), 0.0), ValueError, "positive"),
        ((torch.ones(3), "x"), ValueError, "exact"),
        ((torch.ones(3), [0.7]), TypeError, "number"),
        ((torch.ones(3), 0.7, torch.ones(2, dtype=torch.bool)), ValueError, "shape"),
    ],
)
def test_ternarize_rejects_bad_arguments(args, exc, match):
    with pytest.raises(exc, match=match):
        bt.ternarize(*args)


# ---------------------------------------------------------------------------
# MLQ on LeNet-5
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lenet():
    """LeNet-5 (8x8) and a fixed learnable task: labels from a random teacher network."""
    torch.manual_seed(0)
    net, teacher = lenet5(), lenet5()
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(160, 1, 8, 8, generator=gen)
    with torch.no_grad():
        y = teacher(x).argmax(1)
    data = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 160, 32)]
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(8):
        for xb, yb in data:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xb), yb).backward()
            opt.step()
    return net.eval(), data


def loss_on(net, data) -> float:
    with torch.no_grad():
        return sum(float(torch.nn.functional.cross_entropy(net(x), y)) for x, y in data)


def test_lenet_ternary_round_trips_through_the_archive(lenet):
    net, data = lenet
    before = {k: v.clone() for k, v in net.state_dict().items()}
    cm = bt.mlq_compress(net, data, stages=(0.5, 1.0), include=INCLUDE, lr=1e-3)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())  # untouched
    blob = cm.to_bytes()
    fresh = lenet5()
    bt.load_compressed(blob, fresh)
    restored = fresh.state_dict()
    decoded = bt.decompress_state_dict(blob)
    for name in ("0.weight", "2.weight", "5.weight", "8.weight", "10.weight"):
        w = restored[name]
        assert torch.equal(w, decoded[name])
        levels = w.unique()
        alpha = float(levels.max())
        # exactly {-α, 0, +α}: the zero level is exact, both signs share one magnitude
        assert levels.tolist() == [-alpha, 0.0, alpha] and alpha > 0
        assert 0.05 < float((w == 0).double().mean()) < 0.95
    # each layer is one codec stream (in the archive) whose codebook is exactly those levels
    for grp in cm._plan.groups:
        assert grp.blob in blob and codec.inspect(grp.blob).quantizer == "scalar"
        (name,) = grp.members
        levels = container.parse(grp.blob).quantizer.levels
        assert levels.tolist() == restored[name].unique().double().tolist()
    # the ratio counts every byte of the archive
    assert cm.ratio == pytest.approx(4 * sum(p.numel() for p in net.parameters()) / len(blob))
    bits = 8 * len(blob) / sum(v.numel() for k, v in restored.items() if k.endswith("weight"))
    assert 1.0 < bits < 2.2  # ~log2(3) bits/weight plus biases and headers, not 32


def test_retraining_compensates_what_plain_ternarization_loses(lenet):
    net, data = lenet
    plain = lenet5()
    bt.load_compressed(bt.mlq_compress(net, data, stages=(1.0,), epochs=0, include=INCLUDE), plain)
    tuned = lenet5()
    cm = bt.mlq_compress(net, data, stages=(0.5, 1.0), include=INCLUDE, lr=1e-3)
    bt.load_compressed(cm, tuned)
    base, lost = loss_on(net, data), loss_on(plain, data)
    # measured: float 3.75, plain ternary 5.27, MLQ 3.82 (95 % of the loss won back)
    assert loss_on(tuned, data) < base + 0.25 * (lost - base)


def test_plain_ternarization_equals_ternarize_per_layer(lenet):
    net, data = lenet
    cm = bt.mlq_compress(net, data, stages=(1.0,), epochs=0, include=INCLUDE, order="forward")
    out = cm.state_dict()
    for name, p in net.named_parameters():
        if name.endswith("weight"):
            assert torch.equal(out[name], bt.ternarize(p.detach())[0])
        else:  # biases stored losslessly, not trained with epochs=0
            assert torch.equal(out[name], p.detach())


def test_network_grouping_codes_the_same_values_in_one_stream(lenet):
    net, data = lenet
    kw = dict(stages=(1.0,), epochs=0, include=INCLUDE)
    per_layer = bt.mlq_compress(net, data, **kw)
    one = bt.mlq_compress(net, data, grouping="network", **kw)
    a, b = per_layer.state_dict(), one.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert len(one._plan.groups) == 1 and len(per_layer._plan.groups) == 5


def test_pruned_weights_stay_zero_and_are_coded_as_the_mask(lenet):
    net, data = lenet
    cm = bt.mlq_compress(net, data, stages=(1.0,), include=INCLUDE, prune=0.8)
    out = cm.state_dict()
    weights = torch.cat([out[k].reshape(-1) for k in out if k.endswith("weight")])
    assert float((weights == 0).double().mean()) >= 0.8
    assert all(grp.mask is not None for grp in cm._plan.groups)
    dense = bt.mlq_compress(net, data, stages=(1.0,), epochs=0, include=INCLUDE)
    assert cm.n_bytes < dense.n_bytes


def test_loss_order_takes_the_layer_whose_ternarization_hurts_least():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))
    with torch.no_grad():  # layer 2 is ternary already: ternarizing it changes nothing
        net[2].weight.copy_(torch.sign(torch.randn(3, 6)) * 0.5)
    params = dict(net.named_parameters())
    names = ["0.weight", "2.weight"]
    layers = mlq._Layers(
        params={n: params[n] for n in names},
        keep={n: torch.ones_like(params[n], dtype=torch.bool) for n in names},
        frozen={},
        target={},
        scale={},
    )
    x = torch.randn(64, 6)
    with torch.no_grad():
        batches = [(x, net(x))]

    def moved(model, batch):  # how far the outputs moved: 0 exactly when nothing changed
        return ((model(batch[0]) - batch[1]) ** 2).sum()

    args = (0.7, batches, moved, torch.device("cpu"))
    assert mlq._next_layer(net, layers, names, "loss", *args) == "2.weight"
    assert mlq._next_layer(net, layers, names, "forward", *args) == "0.weight"
    assert torch.equal(params["0.weight"], net[0].weight)  # restored after each trial


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        ({"stages": (0.5, 0.9)}, ValueError, "stages"),
        ({"threshold": -1}, ValueError, "threshold"),
        ({"order": "random"}, ValueError, "order"),
        ({"calibration_batches": 0}, ValueError, "calibration_batches"),
        ({"calibration_batches": 1.5}, TypeError, "calibration_batches"),
        ({"lr": 0}, ValueError, "lr"),
        ({"grouping": "row"}, ValueError, "grouping"),
    ],
)
def test_mlq_rejects_bad_arguments(lenet, kw, exc, match):
    net, data = lenet
    with pytest.raises(exc, match=match):
        bt.mlq_compress(net, data, epochs=0, **kw)


def test_mlq_needs_a_module():
    with pytest.raises(TypeError, match="Module"):
        bt.mlq_compress({"w": torch.ones(2, 2)}, [])


def test_codebook_levels_are_exact_for_float32_ternary_values():
    # why the archive can promise exact levels: the DP k-means of data taking K values
    # returns those K values, and float32 levels store them bit for bit
    alpha = np.float32(0.123456789)
    x = np.random.default_rng(0).choice(np.array([-alpha, 0, alpha], np.float32), 100_000)
    y = codec.decode(codec.encode(x, quantizer="kmeans", method="dp", levels=3))
    assert np.array_equal(x, y)
