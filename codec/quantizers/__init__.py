"""Quantizers: the protocol (base.py), one module per quantizer, and the registry.

Registering a quantizer is one line here (or one call from anywhere, e.g. a
test or a plug-in): :func:`codec.quantizers.base.register`.
"""

from .base import register
from .codebook import CodebookQuantizer, ECSQDesigner, KMeansDesigner, UniformDesigner
from .lattice import LatticeDesigner, LatticeQuantizer
from .tcq import TrellisDesigner, TrellisQuantizer
from .vq import PQDesigner, RVQDesigner, VQDesigner, VQQuantizer

register(LatticeDesigner, LatticeQuantizer)
register(UniformDesigner, CodebookQuantizer)
register(ECSQDesigner)
register(KMeansDesigner)
register(TrellisDesigner, TrellisQuantizer)
register(VQDesigner, VQQuantizer)
register(PQDesigner)
register(RVQDesigner)
