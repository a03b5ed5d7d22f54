"""A quantizer is one class pair and one registry line: a test-only sign quantizer.

The sign quantizer (1 bit per element, reconstruction ``±mean|x|``) lives only
in this file. Registered here, it goes through ``codec.encode``/``decode``/
``inspect``, ``codec.quantize`` and the torch binding without any other file
knowing it (issue 10's plug-in check).
"""

from types import MappingProxyType

import numpy as np
import pytest

import codec
from codec.errors import CodecError
from codec.framing import FieldReader
from codec.quantizers import base


class SignQuantizer(base.Quantizer):
    kind = "sign"
    kind_code = 250  # test-only; real quantizers take codes from docs/format.md

    def __init__(self, scale: float):
        self.scale = float(scale)

    def quantize(self, x, chunk_elements=None, weights=None, first=0):
        return (x >= 0).astype(np.int64)

    def dequantize(self, points, chunk_elements=None, first=0):
        if points.size and (points.min() < 0 or points.max() > 1):
            raise codec.errors.CorruptStreamError("a sign index is neither 0 nor 1")
        return np.where(points == 1, self.scale, -self.scale)

    def header_fields(self) -> bytes:
        return np.float64(self.scale).tobytes()

    @classmethod
    def from_header(cls, fields: FieldReader, extras: bytes):
        scale = fields.f64()
        if not np.isfinite(scale) or scale < 0 or extras:
            raise ValueError("bad sign quantizer header")
        return cls(scale)

    def from_streams(self, symbols, offsets, chunk_elements, n_padded):
        if symbols.size and (symbols.min() < 0 or symbols.max() > 1):
            raise codec.errors.CorruptStreamError("a sign index is neither 0 nor 1")
        return symbols

    def describe(self):
        return {"step": self.scale}


class SignDesigner(base.Designer):
    name = "sign"
    targets = ()
    options = MappingProxyType({"shrink": 1.0})

    def __init__(self, values, weights, seed, dtype, *, shrink):
        super().__init__(values, weights, seed, dtype)
        if not 0 < shrink <= 1:
            raise ValueError("shrink must lie in (0, 1]")
        self.shrink = shrink

    def quantizer(self):
        # values come in the array's own dtype: accumulate in float64
        scale = float(np.abs(self.values).mean(dtype=np.float64)) if self.values.size else 0.0
        return SignQuantizer(self.shrink * scale)

    def rate_search(self, rate):
        raise ValueError("the sign quantizer has a fixed rate of 1 bit per element")

    def for_distortion(self, mse):
        raise ValueError("the sign quantizer has a fixed distortion")


@pytest.fixture
def sign_registered():
    base.register(SignDesigner, SignQuantizer)
    yield
    base.unregister("sign", SignQuantizer.kind_code)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (0,), (7,), (33, 5)])
def test_sign_quantizer_round_trips(sign_registered, dtype, shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    blob = codec.encode(x, quantizer="sign", coder="huffman")
    y = codec.decode(blob)
    assert y.shape == x.shape and y.dtype == x.dtype
    scale = float(np.abs(x.astype(np.float64)).mean()) if x.size else 0.0
    expected = np.where(x >= 0, scale, -scale).astype(dtype)
    assert np.array_equal(y, expected)
    info = codec.inspect(blob)
    assert info.quantizer == "sign" and info.step == pytest.approx(scale, rel=1e-12)
    q = codec.quantize(x, quantizer="sign", shrink=0.5)
    assert np.array_equal(q.indices, (x.reshape(-1) >= 0).astype(np.int64))


def test_sign_quantizer_options_and_errors(sign_registered):
    x = np.linspace(-1, 1, 100)
    with pytest.raises(ValueError, match="fixed rate"):
        codec.encode(x, quantizer="sign", rate=1.0)
    with pytest.raises(ValueError, match="does not apply"):
        codec.encode(x, quantizer="sign", step=0.1)
    with pytest.raises(ValueError, match="shrink"):
        codec.encode(x, quantizer="sign", shrink=2.0)
    with pytest.raises(ValueError, match="does not apply"):
        codec.encode(x, quantizer="lattice", shrink=0.5)
    blob = codec.encode(x, quantizer="sign")
    with pytest.raises(CodecError):
        codec.decode(blob[:-1])


def test_unregistered_kind_is_unsupported(sign_registered):
    blob = codec.encode(np.ones(10), quantizer="sign")
    base.unregister("sign", SignQuantizer.kind_code)
    with pytest.raises(codec.errors.UnsupportedFormatError, match="quantizer kind 250"):
        codec.decode(blob)
    with pytest.raises(ValueError, match="unknown quantizer"):
        codec.encode(np.ones(10), quantizer="sign")


def test_sign_quantizer_through_the_torch_binding(sign_registered):
    torch = pytest.importorskip("torch")
    from bindings import pytorch as bp

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    cm = bp.compress_model(net, quantizer="sign")
    fresh = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    bp.load_compressed(cm.to_bytes(), fresh)
    w = [net[0].weight, net[2].weight]
    scale = float(torch.cat([t.detach().reshape(-1) for t in w]).abs().mean())
    for old, new in ((net[0].weight, fresh[0].weight), (net[2].weight, fresh[2].weight)):
        expected = torch.where(old >= 0, scale, -scale)
        assert torch.allclose(new, expected, rtol=1e-6)
    assert torch.equal(fresh[0].bias, net[0].bias)  # biases are kept losslessly
