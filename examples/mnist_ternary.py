"""Ternary LeNet-5 on MNIST: TWN's threshold alone, and MLQ (Xu et al. 2018), through rdcodec.

Trains LeNet-5 (Caffe variant, 431,080 parameters) on MNIST with the data and
training helpers of examples/mnist_train.py (read-only here: same split, same schedule),
then makes its conv/linear weights ternary, {-a, 0, +a} per layer, two ways:

* **TWN**: the threshold rule alone, no retraining (Li & Liu 2016: Delta = t * mean|W|,
  a = the mean magnitude above Delta);
* **MLQ**: :func:`bindings.torch.mlq_compress`, layer after layer (the layer whose
  ternarization costs the least calibration loss first), each in parts (the weights
  closest to their ternary value first), everything still free retrained after each
  part.

Each layer is stored as one codec stream with a 3-level scalar codebook (exact zero),
indices arithmetic-coded; biases as float16. The ratio is the float32 size of all
parameters over the archive's real bytes. Writes ``--out`` (JSON) and prints a table.

Run: ``.venv/bin/python -m examples.mnist_ternary [--mnist DIR] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

if not __package__:  # python examples/mnist_ternary.py: import the examples package all the same
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from examples import mnist, mnist_train  # noqa: E402

NET = "LeNet-5"
INCLUDE = r"weight$"
UNQUANTIZED = "float16"


def mlq_data(data, seed: int, n_batches: int | None):
    """A callable giving a fresh shuffled pass (its first ``n_batches``) per call."""
    calls = iter(range(1 << 30))
    return lambda: mnist_train.shuffled_batches(data, seed * 1000 + next(calls), n_batches)


def evaluate(cm, data) -> dict:
    """Accuracies of the network decoded from the archive bytes (what a user loads)."""
    import bindings.torch as bt

    net = mnist_train.BUILDERS[NET]()
    bt.load_compressed(cm.to_bytes(), net)
    return {k: mnist_train.accuracy(net, data[k]) for k in ("val", "test")}


def rows(args, model, data, progress: bool) -> list[dict]:
    """The TWN and MLQ rows for ``model``."""
    import bindings.torch as bt

    settings = [
        ("ternary TWN", {"stages": (1.0,), "epochs": 0}),
        ("MLQ ternary", {"stages": args.stages, "epochs": 1, "lr": args.lr}),
    ]
    out = []
    for label, opts in settings:
        t0 = time.perf_counter()
        cm = bt.mlq_compress(
            model,
            mlq_data(data["train"], args.seed + 5, args.mlq_batches),
            threshold=args.threshold,
            include=INCLUDE,
            unquantized=UNQUANTIZED,
            progress=progress,
            **opts,
        )
        acc = evaluate(cm, data)
        row = {
            "method": label,
            "threshold": args.threshold,
            "stages": list(opts["stages"]),
            "n_bytes": cm.n_bytes,
            "bits_per_weight": cm.bits_per_weight,
            "ratio": cm.ratio,
            "val_acc": acc["val"],
            "test_acc": acc["test"],
            "seconds": time.perf_counter() - t0,
        }
        print(
            f"  {label:14} {cm.n_bytes:9d} B {cm.bits_per_weight:7.3f} bit/w "
            f"{cm.ratio:7.1f}x  test {acc['test']:6.2f}%  val {acc['val']:6.2f}%",
            flush=True,
        )
        out.append(row)
    return out


def parse(argv):
    p = argparse.ArgumentParser(
        prog="python -m examples.mnist_ternary", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--mnist", default=None, help="a folder with the four MNIST idx files")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/mnist_ternary.json")
    p.add_argument("--quick", action="store_true", help="2,000 images, 1 epoch (a smoke run)")
    p.add_argument("--epochs", type=float, default=None, help="float training epochs")
    p.add_argument("--threshold", type=float, default=0.7, help="TWN's t (Delta = t mean|W|)")
    p.add_argument("--stages", default="0.5,0.75,0.875,1", help="MLQ's frozen fractions per layer")
    p.add_argument("--lr", type=float, default=1e-4, help="MLQ's retraining learning rate")
    p.add_argument(
        "--mlq-batches",
        type=int,
        default=None,
        help="batches of 128 per MLQ retraining pass (default: a whole epoch)",
    )
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    try:
        args.stages = tuple(float(s) for s in args.stages.split(","))
    except ValueError:
        p.error(f"--stages must be comma-separated fractions, got {args.stages!r}")
    return args


def main(argv=None) -> int:
    import torch

    args = parse(argv)
    progress = not args.no_progress
    torch.manual_seed(args.seed)
    load_start = list(os.getloadavg())
    t0 = time.perf_counter()
    data = mnist_train.load_data(args.mnist, quick=args.quick)
    spec = mnist.NETS[NET]
    model = mnist_train.BUILDERS[NET]()
    epochs = args.epochs if args.epochs is not None else (1 if args.quick else spec.epochs)
    mnist_train.train(
        model,
        data["train"],
        epochs=epochs,
        lr=spec.lr,
        seed=args.seed,
        progress=progress,
        desc=f"train {NET}",
    )
    base = {k: mnist_train.accuracy(model, data[k]) for k in ("val", "test")}
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"{NET} on MNIST: {n_params} parameters, {4 * n_params} bytes as float32; test "
        f"accuracy {base['test']:.2f}% (validation {base['val']:.2f}%)",
        flush=True,
    )
    found = rows(args, model, data, progress)
    results = {
        "name": "mnist_ternary",
        "description": (
            "Ternary LeNet-5 on MNIST (examples/mnist_ternary.py): TWN threshold alone and "
            "MLQ; ratios count every byte of the archive (3-level codebook per layer, "
            "float16 biases)"
        ),
        "command": "python -m examples.mnist_ternary "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "load_average_start": load_start,
        "load_average_end": list(os.getloadavg()),
        "seconds": time.perf_counter() - t0,
        "results": {
            "network": NET,
            "seed": args.seed,
            "quick": args.quick,
            "parameters": n_params,
            "float32_bytes": 4 * n_params,
            "float_val_acc": base["val"],
            "float_test_acc": base["test"],
            "rows": found,
        },
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"  wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
