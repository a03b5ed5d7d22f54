"""Fine-tuning the codebooks of VQ / PQ / RVQ streams (``finetune_shared_values``).

The shared values of a vector quantizer are its codewords' coordinates; fine-tuning moves
them with the indices fixed, and the archive's bytes carry the new codebooks.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
bt = pytest.importorskip("bindings.torch")

import codec  # noqa: E402
from codec.quantized import read_quantized  # noqa: E402

VQ_OPTIONS = {
    "vq": {"quantizer": "vq", "subvector": 2, "levels": 8},
    "pq": {"quantizer": "pq", "subvector": 2, "subspaces": 2, "levels": 8},
    "rvq": {"quantizer": "rvq", "subvector": 2, "stages": 2, "levels": 4},
}


@pytest.fixture(scope="module")
def task():
    """A small net fitted to a learnable rule, and its training batches."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(256, 8, generator=gen)
    y = (x[:, :3].sum(1) > 0).long() + (x[:, 3] > 1).long()
    batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 256, 32)]
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(30):
        for xb, yb in batches:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xb), yb).backward()
            opt.step()
    return net, batches


def _loss(net, state, batches) -> float:
    fresh = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    bt.load_compressed(state, fresh)
    with torch.no_grad():
        return sum(float(torch.nn.functional.cross_entropy(fresh(x), y)) for x, y in batches)


@pytest.mark.parametrize("kind", sorted(VQ_OPTIONS))
def test_vq_codebook_finetuning_keeps_indices_lowers_loss_and_round_trips(task, kind):
    net, batches = task
    cm = bt.compress_model(net, **VQ_OPTIONS[kind], seed=0)
    tuned = bt.finetune_shared_values(cm, net, batches, epochs=4, lr=1e-2, train_unquantized=False)
    blob = tuned.to_bytes()
    for old, new in zip(cm._plan.groups, tuned._plan.groups, strict=True):
        assert new.blob in blob  # the archive carries the re-coded stream
        q_old = read_quantized(old.blob, max_elements=None)
        q_new = read_quantized(new.blob, max_elements=None)
        np.testing.assert_array_equal(q_new.points, q_old.points)  # indices never change
        cb_old, cb_new = q_old.quantizer.codebooks, q_new.quantizer.codebooks
        assert cb_new.shape == cb_old.shape and not np.array_equal(cb_new, cb_old)
        # what the file decodes to is the sum over stages of the stored codewords
        rec = q_new.shared_values[q_new.shared_value_index].sum(0)
        np.testing.assert_allclose(codec.decode(new.blob).reshape(-1), rec, rtol=1e-6, atol=1e-7)
    # the bytes round-trip to exactly the tuned network, and it fits the data better
    from_file = bt.decompress_state_dict(blob)
    for k, v in tuned.state_dict().items():
        assert torch.equal(from_file[k], v), k
    assert _loss(net, blob, batches) < 0.97 * _loss(net, cm.to_bytes(), batches)


def test_rvq_shared_value_index_sums_the_stages():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(50)
    q = codec.quantize(x, quantizer="rvq", subvector=2, stages=3, levels=4)
    idx = q.shared_value_index
    assert idx.shape == (3, 50)
    np.testing.assert_allclose(q.shared_values[idx].sum(0), q.reconstruction(), atol=1e-12)
    # entries of different stages are disjoint parts of the table
    S, M, K, d = q.quantizer.codebooks.shape
    for s in range(S):
        assert idx[s].min() >= s * M * K * d and idx[s].max() < (s + 1) * M * K * d


def test_vq_with_shared_values_rejects_a_wrong_table():
    q = codec.quantize(np.linspace(-1, 1, 16), quantizer="vq", subvector=2, levels=4)
    with pytest.raises(ValueError, match="expected"):
        q.with_shared_values(q.shared_values[:-1])
