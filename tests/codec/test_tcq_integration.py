"""TCQ wherever a quantizer goes: theory.rd_sweep, codec weights, the torch binding."""

import math
import warnings

import numpy as np
import pytest

import codec
import theory
from codec.quantizers.base import get_designer


@pytest.fixture(scope="module")
def gaussian():
    return np.random.default_rng(11).standard_normal(1 << 15)


@pytest.mark.parametrize("states, gap_max", [(8, 0.16), (256, 0.12)])
def test_rd_sweep_with_tcq(gaussian, states, gap_max):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missed rate target warns: fail on it
        recs = theory.rd_sweep(
            gaussian,
            {f"tcq{states}": {"quantizer": "tcq", "states": states}},
            [2.0, 4.0],
            source=theory.GaussianSource(1.0),
        )
    assert [r["name"] for r in recs] == [f"tcq{states}"] * 2
    for r, target in zip(recs, (2.0, 4.0), strict=True):
        assert r["reference"] == "gaussian_rate_distortion"
        assert abs(r["bits_per_element"] - target) < 0.02
        # 2**15 samples: the stream's fixed costs and the smoothed tables add a few
        # hundredths to the 0.075 (8) / 0.032 (256) bit of the theory; never below R(D)
        assert -0.01 < r["gap_bits"] < gap_max
        assert math.isclose(r["gap_bits"], r["bits_per_element"] - r["reference_rate"])


def test_rd_sweep_tcq_beats_the_lattices(gaussian):
    recs = theory.rd_sweep(
        gaussian,
        {"tcq": {"quantizer": "tcq", "states": 256}, "e8": {"lattice": "E8", "dither": False}},
        [3.0],
        source=theory.GaussianSource(1.0),
    )
    tcq, e8 = recs
    assert tcq["gap_bits"] < e8["gap_bits"] - 0.03


def test_codec_weights_steer_the_error():
    """Per-element weights in the Viterbi cost: heavy elements get the smaller error."""
    assert get_designer("tcq").accepts_weights
    x = np.random.default_rng(3).standard_normal(1 << 14)
    w = np.where(np.arange(x.size) % 2 == 0, 100.0, 1.0)
    y = codec.decode(codec.encode(x, quantizer="tcq", states=8, step=0.3, weights=w))
    e2 = (x - y) ** 2
    assert e2[0::2].mean() < 0.8 * e2[1::2].mean()


def _tiny_net(torch):
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 10),
    )


@pytest.mark.parametrize("states", [8, 256])
def test_torch_binding_round_trip(states):
    torch = pytest.importorskip("torch")
    from bindings import pytorch as bp

    net = _tiny_net(torch)
    cm = bp.compress_model(net, quantizer="tcq", states=states, step=0.01)
    fresh = bp.load_compressed(cm.to_bytes(), _tiny_net(torch))
    restored = cm.state_dict()
    for name, p in net.state_dict().items():
        got = fresh.state_dict()[name]
        assert torch.equal(got, restored[name])
        if name.endswith("weight"):
            # TCQ at high rate: MSE = G·(2·step)², G ≈ 0.065 (8) … 0.061 (256)
            mse = float(((got - p) ** 2).mean())
            assert 0.0 < mse < 0.35 * 0.01**2
    with torch.no_grad():
        x = torch.randn(2, 1, 8, 8)
        assert torch.allclose(fresh(x), net(x), atol=0.05)


def test_torch_binding_hessian_weights():
    """hessian= for tcq: the binding passes the weights on to the Viterbi distortion."""
    torch = pytest.importorskip("torch")
    from bindings import pytorch as bp

    net = _tiny_net(torch)
    hess = {n: torch.ones_like(p) for n, p in net.state_dict().items() if n.endswith("weight")}
    hess["3.weight"][:5] = 100.0  # the first five output rows matter most
    w = net.state_dict()["3.weight"]

    def heavy_error(**kw):
        cm = bp.compress_model(net, quantizer="tcq", states=8, step=0.05, **kw)
        return float(((cm.state_dict()["3.weight"] - w)[:5] ** 2).mean())

    # The weights steer the path choice only (each element keeps its subset's nearest
    # points), so the heavy rows gain most at a coarse step: 0.73-0.80x of the error
    # without weights over three seeds (0.93-0.97x at steps 0.005-0.02).
    assert heavy_error(hessian=hess) < 0.9 * heavy_error()
