"""The setting searches of examples/mnist.py (`make repro-mnist`): the methods and
their ladders, and :class:`Experiment`, which compresses a network through the PyTorch
binding at a rung, fine-tunes the shared values, and picks each method's setting on the
validation split.
"""

from __future__ import annotations

import time

import numpy as np

from .mnist_train import (
    BUILDERS,
    NetSpec,
    accuracy,
    accuracy_floor,
    density,
    distillation_loss,
    shuffled_batches,
)

#: Steps (and ECSQ's distortion target, the MSE of a uniform quantizer with that step)
#: in units of the standard deviation of the kept weights; coarsest first, a quarter octave
#: apart (half-octave rungs left up to 0.5 bit per kept weight on the table).
STEP_LADDER = tuple(round(2.0 ** (-k / 4), 4) for k in range(-4, 17))
LEVELS_LADDER = (2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 32, 48, 64)
#: How many rungs coarser than the plain setting the fine-tuned one may go.
FT_RUNGS = 2
#: Fine-tuning batch of the shared values.
FT_BATCH = 128
#: Biases and other unquantized float tensors: rounded to 6 significant bits (error at most
#: 1/64 of the tensor's largest magnitude) and coded: about 500 bytes on LeNet-5 where
#: float16 takes 1,160 and 8 bits 690 (on a seed-11 LeNet-5 at 8.55 %, 8 -> 6 bits left
#: validation accuracy unchanged, 99.05 %).
BIAS_BITS = 6


# ---------------------------------------------------------------------------
# compression rows
# ---------------------------------------------------------------------------
def knob_value(knob, k, std, kept=1.0):
    """A ladder rung ``k`` as the quantizer's setting: a step ``k·std``, or the MSE of a
    uniform quantizer with that step over the kept weights, times ``kept`` (the fraction
    of the coded values that are kept weights: the zero level's pruned weights add no
    error), or a number of levels."""
    if knob == "step":
        return float(f"{k * std:.4g}")
    if knob == "distortion":
        return float(f"{kept * (k * std) ** 2 / 12:.4g}")
    return k


def table1_methods():
    """Choi et al. 2017's Table 1 (Huffman-coded, as in the paper)."""
    return [
        ("k-means + Huffman", {"quantizer": "kmeans", "method": "lloyd", "coder": "huffman"},
         "levels", LEVELS_LADDER),
        ("Hessian k-means + Huffman",
         {"quantizer": "kmeans", "method": "lloyd", "coder": "huffman", "hessian": "adam"},
         "levels", LEVELS_LADDER),
        ("uniform + Huffman", {"quantizer": "uniform", "coder": "huffman"}, "step", STEP_LADDER),
        ("iterative ECSQ + Huffman", {"quantizer": "ecsq", "method": "clg", "coder": "huffman"},
         "distortion", STEP_LADDER),
    ]  # fmt: skip


def universal_methods():
    """Choi et al. 2018: dithered lattices, universal coders (the LZW row reuses the
    adaptive row's setting)."""
    return [
        (f"{lat} dithered + adaptive arithmetic", {"lattice": lat, "coder": "adaptive"}, "step",
         STEP_LADDER)
        for lat in ("Z", "D4", "E8")
    ]  # fmt: skip


def best_methods():
    """The codec's own best: exact designs, E8 with the static coder, trellis quantizers."""
    return [
        ("ECSQ (exact DP)", {"quantizer": "ecsq", "method": "dp", "coder": "arithmetic"},
         "distortion", STEP_LADDER),
        ("Hessian k-means (exact DP)",
         {"quantizer": "kmeans", "method": "dp", "coder": "arithmetic", "hessian": "adam"},
         "levels", LEVELS_LADDER),
        ("E8 dithered + arithmetic", {"lattice": "E8", "coder": "arithmetic"}, "step",
         STEP_LADDER),
        ("TCQ 8 states + Hessian", {"quantizer": "tcq", "states": 8, "coder": "arithmetic",
                                    "hessian": "adam"}, "step", STEP_LADDER),
        ("TCQ 256 states + Hessian", {"quantizer": "tcq", "states": 256, "coder": "arithmetic",
                                      "hessian": "adam"}, "step", STEP_LADDER),
    ]  # fmt: skip


#: The suffix of a method's row at a target ratio (:meth:`Experiment.at_target`): the
#: headline's target at the deeper density, the paper's ratio in Table 1.
AT_TARGET = " + FT, at the target"
#: Quantizers whose shared values the binding can fine-tune (TCQ has none).
FINETUNABLE = ("kmeans", "uniform", "ecsq", None)


class Experiment:
    """Compress-and-evaluate searches over one network; collects the rows."""

    def __init__(self, args, spec: NetSpec, data, float_net, float_acc):
        self.args, self.spec, self.data = args, spec, data
        self.float_net, self.float_acc = float_net, float_acc
        self.rows: list[dict] = []
        self.archives: dict = {}
        self.deep = None  # the deeper-pruned network, once made
        self.errors: list[str] = []
        self.reference_val: dict = {}  # validation accuracy of each pruned float network

    # -- one archive --------------------------------------------------------
    def compress(self, net, opts, knob, value, *, hessian, pruned):
        import bindings.torch as bt

        opts = dict(opts)
        if opts.get("hessian") == "adam":
            opts["hessian"] = hessian  # the Hessian substitute of the net (a dict)
        zero_level = opts.pop("zero_level", False)
        if zero_level:  # the pruned weights are the zero level, which decodes to 0.0
            opts["pin_zero"] = True
        return bt.compress_model(
            net,
            prune=0.0 if (zero_level or not pruned) else "zeros",
            unquantized=BIAS_BITS,
            seed=self.args.seed,
            **opts,
            **{knob: value},
        )

    def finetune(self, cm, net, salt: int, keep_zero: bool = False):
        import bindings.torch as bt

        batches = shuffled_batches(
            self.data["distill"],
            self.args.seed * 7919 + salt,
            self.args.finetune_batches,
            FT_BATCH,
        )
        alpha = self.args.distill
        return bt.finetune_shared_values(
            cm,
            net,
            batches,
            epochs=1,
            lr=self.args.finetune_lr,
            keep_zero=keep_zero,
            loss_fn=lambda model, batch: distillation_loss(model(batch[0]), batch, alpha),
        )

    def decoded(self, cm):
        import bindings.torch as bt

        fresh = BUILDERS[self.spec.name]()
        bt.load_compressed(cm.to_bytes(), fresh)  # exactly what a user of the file gets
        return fresh

    def accuracy_of(self, cm, split: str) -> float:
        return accuracy(self.decoded(cm), self.data[split])

    # -- a setting search ---------------------------------------------------
    def search(self, label, opts, knob, ladder, net, *, hessian, tol, finetune=True, tag="",
               target=None):  # fmt: skip
        """No fine-tuning: bisection for the coarsest rung whose validation accuracy is within
        ``tol`` of the float network's. With fine-tuning: the coarsest of the up to
        :data:`FT_RUNGS` rungs coarser that passes fine-tuned, else the no-FT rung
        fine-tuned; if that fails validation where the no-FT archive passed, the method's
        output is the no-FT archive (the row says ``"finetune_rejected": True``): a user
        keeps the fine-tuning only where validation accepts it. Given a ``target`` ratio,
        also the row :data:`AT_TARGET` (:meth:`at_target`). Adds the rows; returns them."""
        t0 = time.process_time()
        probe, probes, chosen, floor = self.bisect(
            opts, knob, ladder, net, hessian=hessian, tol=tol
        )
        rows = [self.add(label + tag, probes[(chosen, False)], net, False, floor, t0)]
        t0 = time.process_time()
        can_ft = opts.get("quantizer") in FINETUNABLE
        if finetune and can_ft:
            coarser = [i for i in range(chosen - FT_RUNGS, chosen) if i >= 0]
            pick = next((i for i in coarser if probe(i, True)), chosen)
            rejected = not probe(pick, True) and probe(chosen)
            out = probes[(chosen, False)] if rejected else probes[(pick, True)]
            row = self.add(label + " + FT" + tag, out, net, True, floor, t0,
                           finetune_rejected=rejected)  # fmt: skip
            rows.append(row)
            if target is not None:
                t0 = time.process_time()
                got, extra = self.at_target(probe, probes, pick, (out, rejected), target)
                rows.append(self.add(label + AT_TARGET + tag, got, net, True, floor, t0, **extra))
        return rows

    def at_target(self, probe, probes, pick, picked, target):
        """The archive that reaches ``target`` with the least compression: from the
        fine-tuned rung ``pick`` (``picked``: its row's probe tuple ``out`` and whether its
        fine-tuning was rejected) towards finer rungs while the plain archives' ratio stays
        at or above ``target``, then that rung fine-tuned (or, if fine-tuning fails
        validation there, plain; if neither passes, ``out``). Short of the target at
        ``pick`` already, ``out`` itself. A codec with a ratio to meet spends the rest on
        accuracy, as the deeper pruning stops at the first density that reaches it.
        Returns ``(probe tuple, extra row fields)``."""
        out, rejected = picked
        extra = {"target_ratio": target, "finetune_rejected": rejected}
        if out[0].ratio < target:
            return out, extra
        rung = pick
        while rung + 1 < probe.rungs:
            probe(rung + 1)  # the plain archive's ratio: fine-tuning keeps every index
            if probes[(rung + 1, False)][0].ratio < target:
                break
            rung += 1
        if rung == pick:
            return out, extra
        for ft in (True, False):  # fine-tuned first; the plain archive if that fails
            if probe(rung, ft) and probes[(rung, ft)][0].ratio >= target:
                return probes[(rung, ft)], {**extra, "finetune_rejected": not ft}
        return out, extra

    def bisect(self, opts, knob, ladder, net, *, hessian, tol):
        """The coarsest rung of ``ladder`` whose archive keeps validation accuracy within
        ``tol`` of the float ``net`` (bisection, assuming accuracy falls with the rung):
        ``(probe, probes, rung, floor)``, where ``probe(i, ft)`` compresses at rung ``i``
        (fine-tuned with ``ft``) once, caches ``(archive, setting, validation %)`` in
        ``probes`` and says whether it passes; ``probe.rungs`` is the number of rungs it
        can take (fewer in a ``--quick`` run)."""
        w = np.concatenate(
            [p.detach().reshape(-1).numpy() for n, p in net.named_parameters()
             if n.endswith("weight")]
        )  # fmt: skip
        std = float(w[w != 0].std())
        if id(net) not in self.reference_val:
            self.reference_val[id(net)] = accuracy(net, self.data["val"])
        # against the network it compresses
        floor = accuracy_floor(self.reference_val[id(net)], tol)
        pruned = density(net) < 0.999
        zero_level = bool(opts.get("zero_level"))
        kept = density(net) if zero_level else 1.0
        probes = {}
        if self.args.quick:  # a smoke run: three rungs
            ladder = ladder[4::8][:3]

        def probe(i, ft=False):
            key = (i, ft)
            if key not in probes:
                value = knob_value(knob, ladder[i], std, kept)
                cm = self.compress(net, opts, knob, value, hessian=hessian, pruned=pruned)
                if ft:
                    cm = self.finetune(cm, net, salt=i, keep_zero=zero_level)
                probes[key] = (cm, f"{knob}={value:g}", self.accuracy_of(cm, "val"))
            return probes[key][2] >= floor

        probe.rungs = len(ladder)
        lo, hi = 0, len(ladder) - 1  # find the first passing index (monotone assumption)
        if not probe(hi):
            return probe, probes, hi, floor
        while lo < hi:
            mid = (lo + hi) // 2
            if probe(mid):
                hi = mid
            else:
                lo = mid + 1
        return probe, probes, lo, floor

    def add(self, method, probe, net, finetuned, floor, t0, **extra):
        cm, setting, val = probe
        kept = density(net)
        decoded = self.decoded(cm)
        row = {
            "network": self.spec.name,
            "method": method,
            "pruned": kept < 0.999,
            "stage": "deep" if net is self.deep else ("paper" if kept < 0.999 else "dense"),
            "density": round(kept, 5),
            "finetuned": finetuned,
            "setting": setting,
            "ratio": cm.ratio,
            "bits_per_weight": cm.bits_per_weight,
            "n_bytes": cm.n_bytes,
            "test_accuracy": accuracy(decoded, self.data["test"]),
            "decoded_density": round(density(decoded), 5),  # nonzero weights after decoding
            "validation_accuracy": val,
            "passed": val >= floor,
        }
        if finetuned:
            row["finetune_rejected"] = False
        row.update(extra)
        row["test_drop"] = self.float_acc["test"] - row["test_accuracy"]
        row["cpu_seconds"] = round(time.process_time() - t0, 1)  # search and evaluation
        self.rows.append(row)
        self.archives[(method, row["stage"])] = cm
        print(format_row(row), flush=True)
        return row


HEAD = (
    f"  {'network':13} {'method':44} {'kept':>6} {'setting':>20} {'bits/w':>7} {'ratio':>7} "
    f"{'val %':>6} {'test %':>6} {'drop':>6}"
)


def format_row(r) -> str:
    return (
        f"  {r['network']:13} {r['method']:44} {r['density']:6.2%} {r['setting']:>20} "
        f"{r['bits_per_weight']:7.4f} {r['ratio']:7.1f} {r['validation_accuracy']:6.2f} "
        f"{r['test_accuracy']:6.2f} {r['test_drop']:+6.2f}{'' if r['passed'] else ' *'}"
        + (" (fine-tuning rejected on validation)" if r.get("finetune_rejected") else "")
    )


#: The zero level coded with the values (no separate mask, the level pinned at 0).
ZERO_LEVEL = ("ECSQ (exact DP), zero as a level",
              {"quantizer": "ecsq", "method": "dp", "coder": "arithmetic", "zero_level": True},
              "distortion", STEP_LADDER)  # fmt: skip
