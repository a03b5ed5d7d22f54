"""``finetune_shared_values(..., keep_zero=True)``: a shared value that is exactly 0 stays 0."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
bt = pytest.importorskip("bindings.torch")


def test_keep_zero_freezes_the_pinned_zero_level_only():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    with torch.no_grad():  # prune 80 % by magnitude: the zero level carries most weights
        for m in (net[0], net[2]):
            w = m.weight
            w.mul_(w.abs() > w.abs().flatten().kthvalue(int(0.8 * w.numel())).values)
    batches = [(torch.randn(64, 16), torch.randint(0, 4, (64,))) for _ in range(8)]
    cm = bt.compress_model(net, quantizer="ecsq", distortion=1e-4, pin_zero=True)
    zeros = {k: v == 0 for k, v in cm.state_dict().items() if k.endswith("weight")}
    kept = bt.finetune_shared_values(cm, net, batches, lr=1e-2, keep_zero=True).state_dict()
    moved = bt.finetune_shared_values(cm, net, batches, lr=1e-2).state_dict()
    for k, z in zeros.items():
        assert z.float().mean() > 0.7
        assert torch.all(kept[k][z] == 0)  # still exactly 0 after fine-tuning
        assert torch.all(moved[k][z] != 0)  # without keep_zero the zero level moves
    assert any(not torch.equal(kept[k][~z], cm.state_dict()[k][~z]) for k, z in zeros.items())
