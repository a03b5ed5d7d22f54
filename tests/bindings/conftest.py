"""Binding tests run torch on one thread: the nets are tiny and the CI machine is shared."""

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
