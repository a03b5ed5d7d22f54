"""The PyTorch binding under its former name: :mod:`bindings.torch`, re-exported.

``from bindings import pytorch`` and ``import bindings.pytorch as bp`` keep
working; new code imports ``bindings.torch``.
"""

from bindings import torch as _package
from bindings.torch import *  # noqa: F403 - the same public names, one list of them

__all__ = list(_package.__all__)
