"""Memory safety of the decoders: every truncation and a sample of bit flips of each
coder's stream (and of a context-coded mask), decoded by kernels compiled with
``NUMBA_BOUNDSCHECK=1``, where a read past the end of the bytes is an IndexError
instead of a silent stray read. Only codec errors may come out.

The kernels compile afresh in a subprocess (its own Numba cache directory), about a
minute on two cores: the cached kernels of the other tests are compiled without
bounds checks. docs/testing.md (mutation testing, ``adaptive.py`` line 270) tells
why: a check that keeps a read inside the stream changes no status the other tests
see.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json
import numpy as np
from codec.coders import get_coder
from codec.coders.adaptive import AdaptiveArithmeticCoder
from codec.coders.mask import decode_mask, encode_mask
from codec.errors import CodecError

rng = np.random.default_rng(11)
x = np.concatenate([np.round(rng.standard_normal(1500) * 3), [2**40, -(2**45), 7777]])
x = x.astype(np.int64)
escaped = []

def attempt(what, decode, blob):
    try:
        decode(blob)
    except CodecError:
        pass
    except Exception as e:  # an IndexError here is a read outside the stream's bytes
        escaped.append(f"{what}: {type(e).__name__}: {e}")

def damaged(blob):
    for cut in range(len(blob)):
        yield f"cut at {cut}", blob[:cut]
    for _ in range(200):
        b = bytearray(blob)
        b[rng.integers(len(b))] ^= 1 << int(rng.integers(8))
        yield "flip", bytes(b)

coders = {name: get_coder(name) for name in ("arithmetic", "huffman", "lzw", "adaptive")}
coders["adaptive, magnitude contexts"] = AdaptiveArithmeticCoder(context="magnitude")
coders["adaptive, position contexts"] = AdaptiveArithmeticCoder(context="position")
for name, c in coders.items():
    for what, blob in damaged(c.encode(x)):
        attempt(f"{name} {what}", lambda b: c.decode(b, x.size), blob)
shapes = [(40, 30), (7,)]
mask = rng.random(1207) < 0.2
for what, blob in damaged(encode_mask(mask, shapes)):
    attempt(f"mask {what}", lambda b: decode_mask(b, shapes), blob)
print(json.dumps(escaped[:20]))
"""


def test_damaged_streams_never_read_outside_their_bytes(tmp_path):
    env = dict(os.environ)
    env.update(
        NUMBA_BOUNDSCHECK="1",
        NUMBA_CACHE_DIR=str(tmp_path / "numba"),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    run = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stderr[-3000:]
    escaped = json.loads(run.stdout.strip().splitlines()[-1])
    assert escaped == [], escaped
