"""`make repro-mnist`: the papers' LeNet results on real MNIST (Choi et al. 2017, 2018).

Trains LeNet-5 (Caffe variant, 431,080 parameters) and LeNet-300-100 (266,610) on
MNIST's first 50,000 training images (the last 10,000 are the validation split; the
10,000 test images are only reported), prunes them by global weight magnitude with
retraining (gradual pruning, Zhu & Gupta's cubic schedule; the loss distils the dense
network, ``--distill``) to the papers' density
(LeNet-5 keeps 8.55 % of its weights, LeNet-300-100 8 %), then to a deeper density,
and compresses them with rdcodec through the PyTorch binding:

* Choi et al. 2017, Table 1 (at the papers' density, Huffman coder, shared values
  fine-tuned): k-means (Lloyd), Hessian-weighted k-means (Adam's second moments),
  uniform, iterative ECSQ (Chou–Lookabaugh–Gray), each at the coarsest setting that holds
  validation and at the finest that reaches the paper's ratio;
* Choi et al. 2018 (at the deeper density): dithered Z, D4 and E8 lattices with the
  universal coders (adaptive arithmetic, LZW), shared values fine-tuned;
* the codec's best: ECSQ by exact dynamic programming, the trellis quantizer (TCQ,
  8 states, Hessian-weighted; the binding cannot fine-tune its values); with
  ``--all-methods`` also Hessian-weighted k-means by exact DP, E8 with the static
  arithmetic coder and TCQ with 256 states;
* the headline: ECSQ by exact DP of the kept weights, the pruning mask context-coded
  (:mod:`codec.coders.mask`), the shared values fine-tuned, at the deeper density, at
  the finest setting that reaches the target ratio; the row at the coarsest setting that
  holds validation and the row with the pruned weights coded as ECSQ's zero level
  instead of a mask stay beside it.

Every ratio is the float32 size of *all* parameters over the bytes of the real
archive (masks, codebooks, headers, the biases rounded to ``mnist_search.BIAS_BITS``
significant bits and coded, the index). Settings are chosen on the validation split: the
deeper pruning goes down a ladder of densities while the retrained float network stays
within ``--deep-margin`` (0.12) validation points of the dense one, and stops at the
first network whose headline reaches the issue's target ratio (``--target-ratio``); a
quantizer's setting is the coarsest of a fixed ladder whose validation accuracy stays
within ``--tolerance`` points of the pruned float network it compresses (0.05 at the
papers' density, 0.08 at the deeper one: with the margin, 0.2 points of validation
accuracy at most for the headline); the rows "at the target" then go back to finer rungs
while the ratio stays at the target (the issue's for the headline, the paper's in
Table 1). The test accuracy is reported, against the dense float network. Writes the
results as JSON (``--out``).

The networks and training live in :mod:`examples.mnist_train`, the methods and the
setting searches in :mod:`examples.mnist_search`, the data in :mod:`examples.mnist_data`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

if not __package__:  # python examples/mnist.py: import the examples package all the same
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from examples import mnist_data  # noqa: E402
from examples.mnist_search import (  # noqa: E402
    AT_TARGET,
    FT_BATCH,
    HEAD,
    ZERO_LEVEL,
    Experiment,
    best_methods,
    table1_methods,
    universal_methods,
)
from examples.mnist_train import (  # noqa: E402
    BATCH,
    BUILDERS,
    DISTILL_T,
    NetSpec,
    accuracy,
    accuracy_floor,
    density,
    load_data,
    train,
    with_teacher,
)

#: The headline: the codec's exact entropy-constrained scalar quantizer of the kept
#: weights, the pruning mask context-coded (codec.coders.mask) and fine-tuned shared
#: values, at the deeper density, at the finest setting that reaches the target ratio
#: (mnist_search.Experiment.at_target). (Until 2026-11-26 the pruned weights were ECSQ's
#: zero level instead of a mask: 0.5 % smaller than a gap-coded mask, 4-5 % larger than a
#: context-coded one on LeNet-5 at 2.6 %. Until the ninth session the headline was the
#: coarsest setting that held validation, "ECSQ (exact DP) + FT", still a row: on 10
#: seeds it overshot the target, 61-76x for 60x on LeNet-300-100, and spent the 0.2-point
#: budget doing so, -0.16 to -0.26 on test on 7 of them; docs/results.md.)
MAIN_METHOD = "ECSQ (exact DP)" + AT_TARGET
#: A rung of the deeper ladder whose retrained network falls below the margin gets this
#: many more epochs at its density (a quarter of the learning rate: a continuation, not a
#: restart) before the ladder gives up on it, the way iterative pruning retrains until the
#: accuracy recovers. (LeNet-5 seed 3 stops at 5.5 % by one validation image; the epoch
#: did not recover it, nor seed 0's 2.1 % rung.)
RECOVERY_EPOCHS = 1


NETS = {
    # One epoch per rung and 3 epochs of pruning lost 0.2-0.5 points on seeds 1-2 (the
    # 2026-11-26 runs in mnist_previous_seed*.json), 2 per rung and 5 still 0.3-0.4 with
    # labels only (mnist_labels_seed*.json); now 3 per rung, 8 to the papers' density, with
    # distillation, and rungs close enough that the headline's 124.8x falls between two
    # (LeNet-300-100's 7 % rung: its 60x lies between the 8 % network's 47-58x and the
    # 6 % one's 73-76x).
    "LeNet-5": NetSpec(
        name="LeNet-5",
        parameters=431_080,
        epochs=3,
        lr=4e-3,
        paper_density=0.0855,
        deep_ladder=(0.055, 0.04, 0.032, 0.026, 0.021, 0.017),
        prune_epochs=8,
        deep_epochs=3,
        target_ratio=124.8,
    ),
    "LeNet-300-100": NetSpec(
        name="LeNet-300-100",
        parameters=266_610,
        epochs=8,
        lr=4e-3,
        paper_density=0.08,
        deep_ladder=(0.07, 0.06, 0.045, 0.035, 0.028, 0.022),
        prune_epochs=12,
        deep_epochs=3,
        target_ratio=60.0,
    ),
}
#: The papers' LeNet numbers (THEORY.md), shown beside ours.
PAPER = {
    ("LeNet-5", "k-means + Huffman + FT"): 44.58,
    ("LeNet-5", "Hessian k-means + Huffman + FT"): 47.16,
    ("LeNet-5", "uniform + Huffman + FT"): 51.25,
    ("LeNet-5", "iterative ECSQ + Huffman + FT"): 49.01,
    ("LeNet-5", "Deep Compression (Han et al.)"): 39.0,
    ("LeNet-300-100", "Deep Compression (Han et al.)"): 40.0,
    ("LeNet-5", "universal (Choi et al. 2018)"): 124.8,
}


# ---------------------------------------------------------------------------
# one network end to end
# ---------------------------------------------------------------------------
def run_network(args, spec: NetSpec, data, progress: bool, checkpoint=None) -> dict:
    """Train, prune and compress one network; the JSON record of it (rows, headline,
    accuracies, CPU seconds per stage). ``checkpoint(record)`` is called with the record
    so far (``"complete": False``) after each method, so a run cut short keeps its rows."""
    import torch

    torch.manual_seed(args.seed)
    w0, cpu = time.perf_counter(), {}
    net, float_acc = train_float(args, spec, data, progress, cpu)
    # the dense network's logits on the training split: the soft targets of the pruning
    # retraining and of the fine-tuning (``--distill 0``: labels only)
    data = {**data, "distill": with_teacher(data["train"], net) if args.distill else data["train"]}
    exp = Experiment(args, spec, data, net, float_acc)
    paper, h_paper, deep, h_deep, pruned_acc = prune_both(args, spec, data, net, float_acc,
                                                          progress, cpu, exp)  # fmt: skip
    exp.deep = deep
    print(HEAD)
    print("  " + "-" * (len(HEAD) - 2), flush=True)
    t = time.process_time()

    def record(complete: bool) -> dict:
        cpu["rows"] = round(time.process_time() - t, 1)
        cpu["total"] = round(sum(v for k, v in cpu.items() if k != "total"), 1)
        n_params = sum(p.numel() for p in net.parameters())
        return {
            "network": spec.name,
            "parameters": n_params,
            "float32_bytes": 4 * n_params,
            "float_validation_accuracy": float_acc["val"],
            "float_test_accuracy": float_acc["test"],
            "pruned": pruned_acc,
            "rows": exp.rows,
            "main": main_row(exp, deep),
            "errors": exp.errors,
            "cpu_seconds": dict(cpu),
            "seconds": time.perf_counter() - w0,
            "torch_threads": torch.get_num_threads(),
            "complete": complete,
        }

    floor = accuracy_floor(pruned_acc["deep"]["validation_accuracy"], args.tolerance_deep)
    for job in compression_jobs(args, spec, paper, h_paper, deep, h_deep):
        run_job(exp, job, h_deep, floor)
        if checkpoint is not None:
            checkpoint(record(False))
    result = record(True)
    main = headline(spec, result["main"])
    if args.save_archive and not main.get("missing"):
        stem = os.path.splitext(args.out)[0]
        exp.archives[(main["method"], "deep")].save(f"{stem}_{spec.name}.rdc")
    print(f"  {spec.name}: CPU seconds per stage {cpu}; "
          f"{time.perf_counter() - w0:.0f} s wall\n", flush=True)  # fmt: skip
    return result


def train_float(args, spec: NetSpec, data, progress: bool, cpu: dict):
    """The float network of ``spec``, trained; its validation and test accuracy."""
    t = time.process_time()
    net = BUILDERS[spec.name]()
    n_params = sum(p.numel() for p in net.parameters())
    train(net, data["train"], epochs=1 if args.quick else spec.epochs, lr=spec.lr,
          seed=args.seed, progress=progress, desc=f"train {spec.name}")  # fmt: skip
    float_acc = {k: accuracy(net, data[k]) for k in ("val", "test")}
    cpu["float_training"] = round(time.process_time() - t, 1)
    print(
        f"{spec.name}: {n_params} parameters = {4 * n_params} bytes as float32; trained in "
        f"{cpu['float_training']:.0f} CPU s: validation {float_acc['val']:.2f} %, "
        f"test {float_acc['test']:.2f} %",
        flush=True,
    )
    return net, float_acc


def prune_both(args, spec: NetSpec, data, net, float_acc, progress: bool, cpu: dict, exp):
    """Gradual pruning with retraining to the papers' density, then deeper down the ladder
    while validation holds, until the headline reaches the target ratio
    (:func:`prune_deeper`); both networks with their Hessian substitutes and accuracies."""
    t = time.process_time()
    paper = BUILDERS[spec.name]()
    paper.load_state_dict(net.state_dict())
    opt = train(paper, data["distill"], epochs=1 if args.quick else args.prune_epochs or
                spec.prune_epochs, lr=spec.lr, seed=args.seed + 1,
                prune=(1.0, spec.paper_density), alpha=args.distill, progress=progress,
                desc=f"prune {spec.name} to {spec.paper_density:.2%}")  # fmt: skip
    h_paper = hessian_of(paper, paper, opt)
    cpu["prune_paper_density"] = round(time.process_time() - t, 1)
    t = time.process_time()
    target = spec.target_ratio if args.target_ratio is None else args.target_ratio
    reaches = (lambda net, h: headline_ratio(exp, net, h)) if target > 0 else None
    deep, h_deep, ladder_log = prune_deeper(args, spec, data, (paper, h_paper), float_acc,
                                            progress, reaches, target)  # fmt: skip
    cpu["prune_deeper"] = round(time.process_time() - t, 1)
    pruned_acc = {"deep_ladder": ladder_log}
    for tag, m in (("paper", paper), ("deep", deep)):
        pruned_acc[tag] = {
            "density": density(m),
            "validation_accuracy": accuracy(m, data["val"]),
            "test_accuracy": accuracy(m, data["test"]),
        }
        print(
            f"  pruned to {density(m):.2%} kept, retrained (float32): validation "
            f"{pruned_acc[tag]['validation_accuracy']:.2f} %, test "
            f"{pruned_acc[tag]['test_accuracy']:.2f} %",
            flush=True,
        )
    return paper, h_paper, deep, h_deep, pruned_acc


def compression_jobs(args, spec: NetSpec, paper, h_paper, deep, h_deep) -> list:
    """``(method, network, Hessian substitute, tolerance, target ratio)``: Table 1 at the
    papers' density (targets: the paper's ratios), the universal rows, the codec's best and
    the headline (target: the issue's) at the deeper one. The default run leaves out rows
    that repeat another's result (``--all-methods`` runs them)."""
    t1, uni, best = table1_methods(), universal_methods(), best_methods()
    every = args.all_methods
    if args.quick and not every:
        t1, uni, best = t1[:1], uni[2:], [best[0], best[3]]
    elif not every:  # Z and D4 (E8 stands for the lattices), E8 with the static coder,
        uni, best = uni[2:], [best[0], best[3]]  # Hessian k-means by DP, TCQ 256 states
    # the headline first, then the deeper density, then Table 1: a run cut short (see
    # run_network's checkpoint) has the headline
    target = spec.target_ratio if args.target_ratio is None else args.target_ratio
    jobs = [(best[0], deep, h_deep, args.tolerance_deep, target or None)]
    jobs += [(m, deep, h_deep, args.tolerance_deep, None) for m in [ZERO_LEVEL, *uni, *best[1:]]]
    jobs += [(m, paper, h_paper, args.tolerance, PAPER.get((spec.name, m[0] + " + FT")))
             for m in t1]  # fmt: skip
    if every:
        jobs.append((ZERO_LEVEL, paper, h_paper, args.tolerance, None))
    return jobs


def run_job(exp: Experiment, job, h_deep, floor_deep: float) -> None:
    """One method's search (and its LZW row for the adaptive coder); a failure is recorded
    and the run goes on."""
    (label, opts, knob, ladder), net, hessian, tol, target = job
    try:
        rows = exp.search(label, opts, knob, ladder, net, hessian=hessian, tol=tol,
                          target=target)  # fmt: skip
        if opts.get("coder") == "adaptive":
            lzw_row(exp, label, opts, rows, h_deep, floor_deep)
    except Exception as e:  # a long run records the failure and goes on
        exp.errors.append(f"{label}: {type(e).__name__}: {e}")
        print(f"  {label}: FAILED: {type(e).__name__}: {e}", flush=True)


def lzw_row(exp: Experiment, label, opts, rows, h_deep, floor: float) -> None:
    """The same quantizer and setting with LZW (Choi et al. 2018's universal coder)."""
    t = time.process_time()
    ft = rows[-1]
    knob, value = ft["setting"].split("=")
    cm = exp.compress(exp.deep, {**opts, "coder": "lzw"}, knob, float(value),
                      hessian=h_deep, pruned=True)  # fmt: skip
    cm = exp.finetune(cm, exp.deep, salt=99)
    name = label.replace("adaptive arithmetic", "LZW") + " + FT"
    exp.add(name, (cm, ft["setting"], exp.accuracy_of(cm, "val")), exp.deep, True, floor, t)


def main_row(exp: Experiment, deep) -> dict:
    """The row of :data:`MAIN_METHOD` at the deeper density (a stand-in if it failed)."""
    main = next((r for r in exp.rows if r["method"] == MAIN_METHOD and r["stage"] == "deep"), None)
    if main is None:
        main = {"method": MAIN_METHOD, "ratio": 0.0, "test_accuracy": 0.0, "test_drop": 100.0,
                "density": density(deep), "missing": True}  # fmt: skip
    return main


def headline(spec: NetSpec, main: dict) -> dict:
    """Prints the headline row; returns it."""
    print(
        f"  {spec.name} headline ({MAIN_METHOD}, {main['density']:.2%} kept): "
        f"{main['ratio']:.1f}x, test {main['test_accuracy']:.2f} % "
        f"({-main['test_drop']:+.2f} pp)",
        flush=True,
    )
    return main


def headline_method():
    """The ``(label, options, knob, ladder)`` whose row at the target is :data:`MAIN_METHOD`."""
    return next(m for m in best_methods() if m[0] + AT_TARGET == MAIN_METHOD)


def headline_ratio(exp, net, hessian) -> float:
    """The ratio of the headline's quantizer on ``net`` at the coarsest setting that passes
    validation (``--tolerance-deep``), before fine-tuning (which only goes coarser)."""
    _, opts, knob, ladder = headline_method()
    _, probes, rung, _ = exp.bisect(opts, knob, ladder, net, hessian=hessian,
                                    tol=exp.args.tolerance_deep)  # fmt: skip
    return probes[(rung, False)][0].ratio


def prune_deeper(args, spec: NetSpec, data, paper_and_hessian, float_acc, progress,
                 headline=None, target=0.0):  # fmt: skip
    """Prune the network at the papers' density further down ``spec.deep_ladder`` (kept
    fractions), retraining ``spec.deep_epochs`` per rung (gradual pruning from the
    previous rung); stop at the first rung whose validation accuracy falls more than
    ``--deep-margin`` points below the float network's, or, given ``headline(net,
    hessian) -> ratio``, at the first network (the papers' density one included) that
    holds and where the headline reaches ``target`` (prune no deeper than the target
    needs: the accuracy left is kept). A rung below the margin first gets
    :data:`RECOVERY_EPOCHS` more epochs of retraining at its density. Returns that network
    (chosen on validation only; a copy when it is the papers' density one), its Hessian
    substitute and what every rung tried gave."""
    build = BUILDERS[spec.name]
    paper, h_paper = paper_and_hessian
    ladder = (args.deep_density,) if args.deep_density else spec.deep_ladder
    if args.quick:
        ladder = ladder[-1:]
    floor = accuracy_floor(float_acc["val"], args.deep_margin)
    kept, log = None, []
    net = build()
    net.load_state_dict(paper.state_dict())
    if headline is not None and not args.deep_density:
        ratio = round(headline(paper, h_paper), 2)
        val = accuracy(paper, data["val"])
        print(f"  headline at {spec.paper_density:.2%}: {ratio:.1f}x", flush=True)
        log.append({"density": spec.paper_density, "validation_accuracy": val,
                    "headline_ratio": ratio})  # fmt: skip
        if ratio >= target and val >= floor:
            return net, h_paper, log
    d0 = spec.paper_density
    for i, d in enumerate(ladder):
        epochs = 1 if args.quick else (args.deep_epochs or spec.deep_epochs)
        opt = train(net, data["distill"], epochs=epochs, lr=spec.lr, seed=args.seed + 2 + i,
                    prune=(d0, d), alpha=args.distill, progress=progress,
                    desc=f"prune {spec.name} to {d:.2%}")  # fmt: skip
        val = accuracy(net, data["val"])
        log.append({"density": d, "validation_accuracy": val})
        print(f"  pruned to {d:.2%}: validation {val:.2f} %", flush=True)
        if val < floor:  # retrain until it recovers, one epoch at most
            opt = train(net, data["distill"], epochs=RECOVERY_EPOCHS, lr=spec.lr / 4,
                        seed=args.seed + 50 + i, prune=(d, d), alpha=args.distill,
                        progress=progress, desc=f"recover {spec.name} at {d:.2%}")  # fmt: skip
            val = log[-1]["validation_accuracy"] = accuracy(net, data["val"])
            log[-1]["recovery_epochs"] = RECOVERY_EPOCHS
            print(f"  after {RECOVERY_EPOCHS} more epoch: validation {val:.2f} %", flush=True)
        if kept is not None and val < floor:
            break
        snapshot = build()
        snapshot.load_state_dict(net.state_dict())
        kept, d0 = (snapshot, hessian_of(snapshot, net, opt)), d
        if val < floor:  # even the first rung falls short: keep it, go no further
            break
        if headline is not None:
            log[-1]["headline_ratio"] = round(headline(*kept), 2)
            print(f"  headline at {d:.2%}: {log[-1]['headline_ratio']:.1f}x", flush=True)
            if log[-1]["headline_ratio"] >= target:
                break
    snapshot, hessian = kept
    return snapshot, hessian, log


def hessian_of(snapshot, trained, optimizer) -> dict:
    """Choi et al.'s diagonal Hessian substitute, the square root of Adam's second moments
    of ``trained`` (:func:`bindings.torch.hessian_from_adam`), keyed for ``snapshot``."""
    import bindings.torch as bt

    names = [n for n, _ in snapshot.named_parameters() if n.endswith("weight")]
    return bt.hessian_from_adam(trained, optimizer, names=names)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.mnist", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out/mnist.json", help="results JSON to write")
    parser.add_argument("--mnist", default=None, help="a folder with the four MNIST idx files")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 2,000 training images, 1 epoch, a few methods",
    )
    parser.add_argument(
        "--networks",
        default=None,
        help="comma-separated (default: both; LeNet-300-100 with --quick)",
    )
    parser.add_argument(
        "--deep-density",
        type=float,
        default=None,
        help="kept fraction of the deeper pruning (default: a ladder per network)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.05,
        help="validation points a quantized network may lose against the pruned float one "
        "it compresses, papers' density",
    )
    parser.add_argument(
        "--tolerance-deep", type=float, default=0.08, help="the same at the deeper density"
    )
    parser.add_argument(
        "--deep-margin",
        type=float,
        default=0.12,
        help="validation points the deeper-pruned float network may lose against the dense one",
    )
    parser.add_argument(
        "--target-ratio",
        type=float,
        default=None,
        help="stop the deeper pruning at the first rung where the headline reaches this "
        "ratio (default: the issue's target per network, 124.8 and 60; 0: prune as deep "
        "as validation allows)",
    )
    parser.add_argument(
        "--prune-epochs",
        type=float,
        default=None,
        help="retraining epochs to the papers' density (default per network)",
    )
    parser.add_argument(
        "--deep-epochs",
        type=float,
        default=None,
        help="retraining epochs per deeper rung (default per network)",
    )
    parser.add_argument(
        "--distill",
        type=float,
        default=0.5,
        help="weight of the distillation from the dense network in the pruning retraining "
        "and the fine-tuning of the shared values (0: cross-entropy on the labels only)",
    )
    parser.add_argument("--finetune-batches", type=int, default=60)
    parser.add_argument("--finetune-lr", type=float, default=3e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--save-archive", action="store_true", help="also write each headline archive next to --out"
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--all-methods",
        action="store_true",
        help="with --quick: every method (a smoke test of every path)",
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="no run: merge the results of one seed's runs with different --networks "
        "(e.g. one process per network) into --out",
    )
    args = parser.parse_args(argv)  # fmt: skip
    if args.merge:
        return merge_results(args.merge, args.out)
    if not 0.0 <= args.distill <= 1.0:
        parser.error(f"--distill is a weight in [0, 1], got {args.distill}")
    if args.networks is None:  # a smoke run checks the pipeline on the cheaper network
        args.networks = "LeNet-300-100" if args.quick else ",".join(NETS)
    unknown = [n for n in args.networks.split(",") if n not in NETS]
    if unknown:
        parser.error(f"unknown networks {unknown}; choose from {list(NETS)}")
    try:
        data = load_data(args.mnist, args.quick)
    except mnist_data.MnistUnavailable as e:
        print(e, file=sys.stderr)
        return 1
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    # Adam's moments of pruned weights decay into denormals (slow on CPUs): flushed while
    # this runs, restored afterwards (process-wide CPU state).
    torch.set_flush_denormal(True)
    t0 = time.perf_counter()
    nets = []
    try:
        for name in args.networks.split(","):
            done = list(nets)

            def save(record, done=done):  # partial results survive a run cut short
                write_results(args, [*done, record], time.perf_counter() - t0)

            nets.append(run_network(args, NETS[name], data, not args.no_progress, save))
            write_results(args, nets, time.perf_counter() - t0)
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(threads)
    print(f"wrote {args.out}; total {time.perf_counter() - t0:.0f} s")
    return 0


def write_results(args, nets: list, seconds: float) -> None:
    """The JSON of ``--out``: every row, the headline (LeNet-5's when it ran), and each
    network's details."""
    first = next((n for n in nets if n["network"] == "LeNet-5"), nets[0])
    results = {
        "dataset": "mnist",
        "seed": args.seed,
        "quick": args.quick,
        "float_test_accuracy": first["float_test_accuracy"],
        "main_method": MAIN_METHOD,
        "rows": [r for n in nets for r in n["rows"]],
        "main": first["main"],
        "networks": {n["network"]: {k: v for k, v in n.items() if k != "rows"} for n in nets},
        "paper": [{"network": k[0], "method": k[1], "ratio": v} for k, v in PAPER.items()],
        "settings": {
            "tolerance": args.tolerance,
            "tolerance_deep": args.tolerance_deep,
            "deep_margin": args.deep_margin,
            "target_ratio": {
                n: args.target_ratio if args.target_ratio is not None else NETS[n].target_ratio
                for n in args.networks.split(",")
            },
            "distill": args.distill,
            "distill_temperature": DISTILL_T,
            "finetune_batches": args.finetune_batches,
            "finetune_lr": args.finetune_lr,
            "batch": BATCH,
            "finetune_batch": FT_BATCH,
            "threads": args.threads,
        },
        "seconds": seconds,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = f"{args.out}.part"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, args.out)


def merge_results(paths: list, out: str) -> int:
    """One seed's result files (each from a run with its own ``--networks``) as one, the
    way a run of both networks writes it; a network in a later file replaces its rows
    and record from an earlier one (a rerun of one network). ValueError if the seeds or
    settings differ."""
    runs = []
    for path in paths:
        with open(path) as f:
            runs.append(json.load(f))
    # per network: the thread count (also recorded as torch_threads) and the target
    per_net = ("threads", "target_ratio")
    same = [{k: v for k, v in r["settings"].items() if k not in per_net} for r in runs]
    pairs = zip(runs, same, strict=True)
    keys = {(r["seed"], r["quick"], json.dumps(o, sort_keys=True)) for r, o in pairs}
    if len(keys) != 1:
        raise ValueError(f"cannot merge runs of different seeds or settings: {sorted(keys)}")
    merged = dict(runs[0])
    nets, rows, targets = {}, {}, {}
    for r in runs:
        nets.update(r["networks"])
        targets.update(r["settings"].get("target_ratio") or {})
        for name in r["networks"]:
            rows[name] = [row for row in r["rows"] if row["network"] == name]
    merged["settings"] = {**same[0], "threads": [r["settings"]["threads"] for r in runs],
                          "target_ratio": targets}  # fmt: skip
    merged["networks"] = nets
    merged["rows"] = [row for name in nets for row in rows[name]]
    first = nets.get("LeNet-5") or next(iter(nets.values()))
    merged["main"], merged["float_test_accuracy"] = first["main"], first["float_test_accuracy"]
    merged["seconds"] = sum(n["seconds"] for n in nets.values())
    merged["merged_from"] = [os.path.basename(p) for p in paths]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(merged, f, indent=1)
    print(f"wrote {out} ({', '.join(nets)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
