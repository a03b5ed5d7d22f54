"""Figures and tables of docs/rate_distortion.md from the rd_<source>.json results.

Run from the repository root after ``rd_analysis.py`` (``make docs`` runs both)::

    .venv/bin/python docs/scripts/rd_plots.py [--results-dir benchmarks/results]
        [--figures-dir docs/figures] [--doc docs/rate_distortion.md]

For each ``benchmarks/results/rd_<source>.json`` it writes

* ``docs/figures/rd_<source>.png`` — bits/element against normalised MSE
  (``10 log10(MSE / var)`` dB) for every quantizer with the arithmetic coder,
  with the reference curves (R(D), Blahut–Arimoto R(D), Shannon lower bound, and
  for non-Gaussian sources the Gaussian R(D) of the same variance, an upper
  bound on R(D));
* ``docs/figures/rd_<source>_gap.png`` — the gap to the reference against
  the rate, one panel per coder;

and regenerates the generated blocks between ``<!-- rd:begin NAME -->`` and
``<!-- rd:end NAME -->`` markers of ``--doc`` (``--doc ""`` leaves the page
alone; the blocks are always printed): ``summary`` (headline numbers as
sentences, so the hand-written prose quotes none), ``reference`` (R(D)/SLB
and the entropy estimates), ``gaps-<source>``, ``gains`` (granular gains of
D4/E8 over Z), ``bdrate``, ``ecdq``, ``missed`` (rate targets not reached)
and ``runs``. Every number of those blocks is computed here from the JSON.

Gaps at a fixed rate R* (2, 4, 6 bit/element) are read off each operational
curve by linear interpolation of log(MSE) against the measured bits/element
between the two measured points that bracket R* (or along the end segment when
R* lies within 0.02 bit beyond the last point; points with MSE >= var, which a
zero-rate code beats, are dropped first); the gap is R* - R_ref(MSE*).
R_ref is the Gaussian R(D), max(Blahut–Arimoto R(D), SLB) for the Laplacian
(the SLB below the smallest BA distortion), or the SLB with the estimated
differential entropy for the network weights.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import theory  # noqa: E402

SOURCES = ("gaussian", "laplacian", "minilm", "lenet5")
QUANTIZERS = (
    "Z+dither", "D4+dither", "E8+dither", "Z", "D4", "E8", "uniform",
    "ECSQ (CLG)", "k-means (Lloyd)", "ECSQ (DP)", "k-means (DP)", "TCQ-8", "TCQ-256",
)
STYLE = {
    "Z+dither": ("tab:blue", "-", "o"),
    "D4+dither": ("tab:orange", "-", "s"),
    "E8+dither": ("tab:green", "-", "D"),
    "Z": ("tab:blue", "--", "o"),
    "D4": ("tab:orange", "--", "s"),
    "E8": ("tab:green", "--", "D"),
    "uniform": ("tab:purple", ":", "v"),
    "ECSQ (CLG)": ("tab:red", "-", "^"),
    "k-means (Lloyd)": ("tab:brown", "-.", "x"),
    "ECSQ (DP)": ("black", "none", "*"),
    "k-means (DP)": ("tab:brown", "none", "P"),
    "TCQ-8": ("tab:cyan", "-", "h"),
    "TCQ-256": ("tab:pink", "-", "p"),
}
#: Trellis state counts of the TCQ rows, with the high-rate G = MSE / (2·step)² of the codec.
TCQ_STATES = {"TCQ-8": 8, "TCQ-256": 256}
#: Rates of the TCQ table (issue 11's targets: every rate from 1 to 6 bit/element).
TCQ_RATES = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
#: NNCodec's dependent quantization measured on 2**20 Gaussian samples, (bits, gap), used
#: only when benchmarks/results/nncodec_gaussian.json is absent.
NNCODEC_FALLBACK = {"gaussian": ((2.1, 0.230), (3.3, 0.169), (4.8, 0.145), (6.3, 0.206))}
TABLE_RATES = (2.0, 4.0, 6.0)
LATTICE_PAIRS = (("D4", "Z"), ("E8", "Z"))
#: Rates at which the granular gains are read off (the high-rate end of the lattice grid).
GAIN_RATES = (4.0, 5.0, 6.0, 7.0)
#: A table rate may lie this far (bits) beyond the last measured point (targets are met
#: to within 0.005 bit, so a point aimed at 6.0 may land at 5.997).
EXTRAPOLATE = 0.02


# ---------------------------------------------------------------------------
# reading and reference curves
# ---------------------------------------------------------------------------
def title(name: str, n: int) -> str:
    """Figure title of a source, with its number of elements from the results."""
    return {
        "gaussian": f"Gaussian N(0, 1), {n:,} samples",
        "laplacian": f"Laplacian, unit variance, {n:,} samples",
        "minilm": f"all-MiniLM-L6-v2 Linear weights, {n:,} sampled",
        "lenet5": f"LeNet-5 (sklearn digits) conv/linear weights, {n:,}",
    }.get(name, name)


class SourceResults:
    """The rows of one rd_<source>.json, split by kind, with its reference R_ref(D)."""

    def __init__(self, path: Path):
        doc = theory.read_rd_json(path)
        self.path = path
        self.name = doc["name"].removeprefix("rd_")
        self.description = doc["description"]
        # rd_analysis.py ends its description with the source's wall time (load, reference
        # curves, sweep)
        wall = re.search(r"Wall time (\d+) s", self.description)
        self.wall_seconds = wall.group(1) if wall else "—"
        recs = doc["records"]
        self.measured = [r for r in recs if r["kind"] == "measured"]
        self.errors = [r for r in recs if r["kind"] == "error"]
        self.theory = [r for r in recs if r["kind"] == "theory"]
        meta = self.theory[0]["config"]
        self.variance = float(meta["variance"])
        self.h_bits = float(meta["h_bits"])
        self.n = int(meta["n"])
        self.curves = {}
        for r in self.theory:
            self.curves.setdefault(r["name"], []).append((r["mse"], r["bits_per_element"]))
        self.curves = {k: np.array(sorted(v)) for k, v in self.curves.items()}
        self.coders = list(dict.fromkeys(r["coder"] for r in self.measured))
        self.quantizers = [q for q in QUANTIZERS if any(r["quantizer"] == q for r in self.measured)]
        if "R(D)" in self.curves:
            self.ref_label = "R(D)"
        elif "R(D) Blahut-Arimoto" in self.curves:
            self.ref_label = "R(D) (Blahut–Arimoto; SLB below D = var/16)"
        else:
            self.ref_label = "SLB (estimated h)"

    def slb(self, mse):
        return theory.shannon_lower_bound(self.h_bits, np.asarray(mse, dtype=np.float64))

    def reference(self, mse) -> np.ndarray:
        """R_ref at ``mse``: Gaussian R(D); Laplacian max(BA, SLB) (SLB beyond the BA
        grid); weights: the estimated SLB."""
        d = np.atleast_1d(np.asarray(mse, dtype=np.float64))
        if "R(D)" in self.curves:
            return theory.gaussian_rate_distortion(d, self.variance)
        slb = self.slb(d)
        ba = self.curves.get("R(D) Blahut-Arimoto")
        if ba is None:
            return slb
        log_d, rate = np.log(ba[:, 0]), ba[:, 1]
        # beyond the largest BA distortion, R falls to 0 at D = var
        log_d = np.append(log_d, math.log(self.variance))
        rate = np.append(rate, 0.0)
        inside = d >= ba[0, 0]
        ba_rate = np.interp(np.log(np.maximum(d, 1e-300)), log_d, rate, right=0.0)
        return np.where(inside, np.maximum(ba_rate, slb), slb)

    def curve(self, quantizer: str, coder: str, *, drop_useless=True):
        """(bits, mse) of one configuration, sorted by bits, duplicates removed."""
        pts = sorted(
            {(r["bits_per_element"], r["mse"]) for r in self.measured
             if r["quantizer"] == quantizer and r["coder"] == coder}
        )
        if drop_useless:
            pts = [p for p in pts if p[1] < self.variance]
        if not pts:
            return np.empty(0), np.empty(0)
        arr = np.array(pts)
        return arr[:, 0], arr[:, 1]

    def mse_at(self, quantizer: str, coder: str, rate: float) -> float:
        """log-MSE interpolated at ``rate`` between the bracketing measured points."""
        bits, mse = self.curve(quantizer, coder)
        if bits.size < 2 or not bits[0] - EXTRAPOLATE <= rate <= bits[-1] + EXTRAPOLATE:
            return math.nan
        # the bracketing segment, or the end segment within EXTRAPOLATE bits of its end
        i = int(np.clip(np.searchsorted(bits, rate), 1, bits.size - 1))
        (b0, b1), (l0, l1) = bits[i - 1 : i + 1], np.log(mse[i - 1 : i + 1])
        return float(np.exp(l0 + (l1 - l0) * (rate - b0) / (b1 - b0)))

    def gap_at(self, quantizer: str, coder: str, rate: float) -> float:
        d = self.mse_at(quantizer, coder, rate)
        if not math.isfinite(d):
            return math.nan
        return float(rate - self.reference(d)[0])

    def gain_db(self, quantizer: str, base: str, coder: str, rate: float) -> float:
        """10 log10(MSE_base / MSE_quantizer) at equal ``rate`` (NaN if not bracketed)."""
        a, b = self.mse_at(base, coder, rate), self.mse_at(quantizer, coder, rate)
        if not (a > 0 and b > 0):
            return math.nan
        return 10.0 * math.log10(a / b)

    def missed(self):
        """Records whose encode warned (rate target missed) or raised."""
        return [r for r in self.measured if r["warning"]] + self.errors


def load_all(results_dir: Path) -> dict[str, SourceResults]:
    out = {}
    for name in SOURCES:
        path = results_dir / f"rd_{name}.json"
        if path.exists():
            out[name] = SourceResults(path)
            out[name].nncodec = nncodec_points(results_dir, name)
    return out


def nncodec_points(results_dir: Path, name: str) -> dict[str, np.ndarray]:
    """NNCodec's measured (bits, gap) points of ``benchmarks/vs_nncodec.py`` for a source
    (2**20 samples there; the gap to R(D) or to the SLB at the measured MSE), by method;
    the issue's four Gaussian points when that file is absent."""
    path = results_dir / f"nncodec_{name}.json"
    out = {}
    if path.exists():
        pts = json.loads(path.read_text())["results"]["points"]
        for label in ("NNCodec+DQ", "NNCodec"):
            idx = [i for i, m in enumerate(pts["method"])
                   if m == label and pts["status"][i] == "ok" and pts["gap_bits"][i] is not None]
            if idx:
                out[label] = np.array(sorted((pts["bits_per_weight"][i], pts["gap_bits"][i])
                                             for i in idx))
    elif name in NNCODEC_FALLBACK:
        out["NNCodec+DQ"] = np.array(NNCODEC_FALLBACK[name])
    return out


def tcq_high_rate_gap(label: str) -> float:
    """0.5·log2(2πe·G) with the codec's G = MSE / (2·step)² of plain TCQ at high rate."""
    from codec.quantizers.tcq import GRANULAR_G

    return 0.5 * math.log2(2.0 * math.pi * math.e * GRANULAR_G[TCQ_STATES[label]])


def _interp_gap(points: np.ndarray, rate: float) -> float:
    """A (bits, gap) polyline read at ``rate`` (linear), NaN outside its range."""
    if points.shape[0] < 2 or not points[0, 0] <= rate <= points[-1, 0]:
        return math.nan
    return float(np.interp(rate, points[:, 0], points[:, 1]))


# ---------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------
def _db(x):
    return 10.0 * np.log10(x)


def plot_rd(res: SourceResults, path: Path, coder: str = "arithmetic") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = 6.0  # dB above the variance: points beyond are drawn on the edge as ▲
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    d = res.variance * 2.0 ** -np.linspace(0.0, 16.0, 400)
    if "R(D)" in res.curves:
        ax.plot(res.reference(d), _db(d / res.variance), "k-", lw=2, label="R(D)")
    else:
        ax.plot(res.slb(d), _db(d / res.variance), "k:", lw=1.5,
                label="Shannon lower bound" + ("" if "R(D) Blahut-Arimoto" in res.curves
                                               else " (estimated h)"))
        if "R(D) Blahut-Arimoto" in res.curves:
            ba = res.curves["R(D) Blahut-Arimoto"]
            ax.plot(ba[:, 1], _db(ba[:, 0] / res.variance), "k-", lw=2,
                    label="R(D), Blahut–Arimoto")
        # R(D) of a Gaussian of the same variance bounds R(D) from above: the true
        # curve lies between the two black lines.
        ax.plot(theory.gaussian_rate_distortion(d, res.variance), _db(d / res.variance),
                color="grey", ls="--", lw=1, label="Gaussian R(D), same variance")
    for q in res.quantizers:
        bits, mse = res.curve(q, coder, drop_useless=False)
        if bits.size == 0:
            continue
        color, ls, marker = STYLE[q]
        y = _db(mse / res.variance)
        ax.plot(bits, np.minimum(y, top), color=color, ls=ls, marker=marker, ms=4, lw=1.2,
                label=q)
        over = y > top
        if over.any():
            ax.plot(bits[over], np.full(over.sum(), top), ls="none", marker="^", ms=9,
                    mfc="none", color=color)
    ax.set_xlim(0.0, 7.5)
    ax.set_ylim(-45.0, top + 1.0)
    ax.set_xlabel("rate (bits/element, all stream bytes)")
    ax.set_ylabel("MSE / variance (dB)")
    ax.set_title(f"{title(res.name, res.n)} — coder: {coder}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2, loc="lower left")
    ax.text(7.4, top + 0.5, f"▲ = MSE more than {top:g} dB above the variance (clipped)",
            ha="right", va="center", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_gaps(res: SourceResults, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    coders = res.coders
    ncol = 2
    nrow = math.ceil(len(coders) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(11, 3.6 * nrow), sharex=True, squeeze=False)
    z, d4, e8 = (theory.lattice_constants(n) for n in ("Z", "D4", "E8"))
    for ax, coder in zip(axes.flat, coders, strict=False):
        worst = 0.0
        for q in res.quantizers:
            bits, mse = res.curve(q, coder)
            if bits.size == 0:
                continue
            color, ls, marker = STYLE[q]
            gap = bits - res.reference(mse)
            worst = max(worst, float(gap.max()))
            ax.plot(bits, gap, color=color, ls=ls, marker=marker, ms=3.5, lw=1.1, label=q)
        # the labels of the three close high-rate lines are spread along x
        for val, txt, x in ((z.ecdq_high_rate_redundancy, "Z/ECSQ high rate", 0.1),
                            (d4.ecdq_high_rate_redundancy, "D4 high rate", 2.6),
                            (e8.ecdq_high_rate_redundancy, "E8 high rate", 5.1),
                            (z.ecdq_redundancy_bound, "Z ECDQ bound, any rate", 0.1),
                            *((tcq_high_rate_gap(q), f"{q} high rate", 0.1 + 2.5 * k)
                              for k, q in enumerate(TCQ_STATES) if q in res.quantizers)):
            ax.axhline(val, color="grey", lw=0.8, ls=":")
            ax.text(x, val + 0.005, f"{val:.3f} ({txt})", fontsize=6.5, color="grey",
                    va="bottom")
        ax.set_title(f"coder: {coder}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.set_ylim(0.0, min(max(1.2, 1.05 * worst), 3.0))
        ax.set_xlim(0.0, 7.5)
    for ax in axes[-1]:
        ax.set_xlabel("rate (bits/element)")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"gap to {'R(D)' if 'R(D)' in res.ref_label else 'SLB'} (bits)")
    for ax in list(axes.flat)[len(coders):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, ncol=6, loc="lower center")
    fig.suptitle(f"{title(res.name, res.n)}: gap to {res.ref_label} "
                 "(points with MSE >= var left out)", fontsize=10)
    fig.tight_layout(rect=(0.0, 0.06, 1.0, 1.0))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_gap_overview(all_res: dict[str, SourceResults], path: Path,
                      coder: str = "arithmetic") -> bool:
    """Gap versus rate of every quantizer (one coder) on the Gaussian and the Laplacian,
    with NNCodec's measured points; False when neither source has results."""
    names = [n for n in ("gaussian", "laplacian") if n in all_res]
    if not names:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = 0.6
    fig, axes = plt.subplots(1, len(names), figsize=(6.2 * len(names), 4.8), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=True):
        res = all_res[name]
        for q in res.quantizers:
            bits, mse = res.curve(q, coder)
            if bits.size == 0:
                continue
            color, ls, marker = STYLE[q]
            tcq = q in TCQ_STATES
            ax.plot(bits, np.minimum(bits - res.reference(mse), top), color=color, ls=ls,
                    marker=marker, ms=5 if tcq else 3.5, lw=2.0 if tcq else 1.0, label=q,
                    zorder=3 if tcq else 2)
        for label, pts in res.nncodec.items():
            dq = label == "NNCodec+DQ"
            ax.plot(pts[:, 0], np.minimum(pts[:, 1], top), color="black", ls="-" if dq else "--",
                    marker="s", ms=6, mfc="black" if dq else "none", lw=1.5,
                    label=f"{label} (2^20 samples, vs_nncodec.py)", zorder=4)
        for q in TCQ_STATES:
            if q in res.quantizers:
                v = tcq_high_rate_gap(q)
                ax.axhline(v, color=STYLE[q][0], lw=0.8, ls=":")
                ax.text(7.4, v + 0.004, f"{q} high rate {v:.3f}", ha="right", fontsize=7,
                        color=STYLE[q][0])
        ref = "R(D)" if "R(D)" in res.ref_label else "SLB"
        if name == "laplacian":
            ref = "R(D) (Blahut–Arimoto; SLB above 2 bit)"
        ax.set_title(f"{title(name, res.n)} — coder {coder}", fontsize=9)
        ax.set_xlabel("rate (bits/element, all stream bytes)")
        ax.set_ylabel(f"gap to {ref} (bit)")
        ax.set_xlim(0.0, 7.5)
        ax.set_ylim(0.0, top)
        ax.grid(alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7.5, ncol=5, loc="lower center")
    fig.suptitle(f"Gap to the rate–distortion limit of every quantizer; gaps above {top} "
                 "drawn on the top edge", fontsize=10)
    fig.tight_layout(rect=(0.0, 0.13, 1.0, 1.0))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------
# tables (markdown)
# ---------------------------------------------------------------------------
def _f(v, digits=3, signed=False):
    if v is None or not math.isfinite(v):
        return "—"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def gap_table(res: SourceResults) -> str:
    head = "| quantizer | " + " | ".join(
        f"{c} {int(r)}" for c in res.coders for r in TABLE_RATES) + " |"
    sep = "|---|" + "---:|" * (len(res.coders) * len(TABLE_RATES))
    lines = [head, sep]
    for q in res.quantizers:
        cells = [_f(res.gap_at(q, c, r)) for c in res.coders for r in TABLE_RATES]
        lines.append(f"| {q} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Gap in bits/element to {res.ref_label} at 2, 4, 6 bit/element "
                 "(log-MSE interpolated linearly in the measured bits/element between the two "
                 "measured points that bracket each rate); — = rate not bracketed by the "
                 "measured points, or not run (the exact DP designs run with the arithmetic "
                 "coder only).")
    return "\n".join(lines)


def gains_table(all_res: dict[str, SourceResults], coders=("arithmetic", "adaptive"),
                rates=GAIN_RATES) -> str:
    """Measured granular gain of D4 and E8 over Z: 10 log10(MSE_Z / MSE_lattice) at equal
    rate (log-MSE interpolated at each rate), which at high rate tends to
    10 log10(G_Z / G_lattice) whatever the source."""
    lines = [
        "| source | coder | lattice | dither | predicted (dB) | "
        + " | ".join(f"measured @{r:g} bit (dB)" for r in rates) + " |",
        "|---|---|---|---|---:|" + "---:|" * len(rates),
    ]
    for name, res in all_res.items():
        for coder in coders:
            if coder not in res.coders:
                continue
            for lat, base in LATTICE_PAIRS:
                pred = theory.lattice_constants(lat).granular_gain_db
                for dither in (True, False):
                    sfx = "+dither" if dither else ""
                    cells = [_f(res.gain_db(lat + sfx, base + sfx, coder, r), 2, True)
                             for r in rates]
                    lines.append(
                        f"| {name} | {coder} | {lat} vs {base} | {'yes' if dither else 'no'} | "
                        f"{pred:.3f} | " + " | ".join(cells) + " |"
                    )
    return "\n".join(lines)


def _bd_curve(res: SourceResults, quantizer: str, coder: str, min_bits: float):
    bits, mse = res.curve(quantizer, coder)
    keep = bits >= min_bits
    bits, mse = bits[keep], mse[keep]
    snr = 10 * np.log10(res.variance / mse)
    snr, idx = np.unique(np.round(snr, 9), return_index=True)
    return bits[idx], snr


def bd_table(all_res: dict[str, SourceResults], min_bits: float = 1.5) -> str:
    pairs = (
        ("D4+dither", "Z+dither"), ("E8+dither", "Z+dither"),
        ("D4", "Z"), ("E8", "Z"), ("ECSQ (CLG)", "uniform"), ("ECSQ (DP)", "uniform"),
        ("k-means (Lloyd)", "uniform"), ("TCQ-8", "uniform"), ("TCQ-256", "uniform"),
        ("TCQ-8", "E8"), ("TCQ-256", "E8"),
    )
    any_res = next(iter(all_res.values()))
    coders = any_res.coders
    lines = [
        "| source | pair (b vs a) | " + " | ".join(coders) + " |",
        "|---|---|" + "---:|" * len(coders),
    ]
    for name, res in all_res.items():
        for b, a in pairs:
            cells = []
            for coder in coders:
                try:
                    cells.append(_f(theory.bd_rate(_bd_curve(res, a, coder, min_bits),
                                                   _bd_curve(res, b, coder, min_bits)), 1, True))
                except (ValueError, TypeError):
                    cells.append("—")
            lines.append(f"| {name} | {b} vs {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ecdq_table(all_res: dict[str, SourceResults], coder: str = "arithmetic") -> str:
    """Gaps of the dithered lattices, uniform and ECSQ against their theory: the high-rate
    gap, and for ECDQ the any-rate bound 0.5 log2(4 pi e G), checked at every measured
    point whose MSE is below the variance (low rates included: that is where it bites)."""
    lines = [
        "| source | quantizer | high-rate gap, theory | gap@4 | gap@6 | bound 0.5·log2(4πeG) "
        "| max gap below 1.5 bit | max gap 1.5–7 bit | points above bound (at bits/element) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, res in all_res.items():
        if coder not in res.coders:
            continue
        for q, lat in (("Z+dither", "Z"), ("D4+dither", "D4"), ("E8+dither", "E8"),
                       ("uniform", "Z"), ("ECSQ (CLG)", "Z"), ("ECSQ (DP)", "Z")):
            c = theory.lattice_constants(lat)
            bits, mse = res.curve(q, coder)  # points with MSE >= var already dropped
            gaps = bits - res.reference(mse) if bits.size else np.empty(0)
            low, high = gaps[bits < 1.5], gaps[(bits >= 1.5) & (bits <= 7.05)]
            dithered = "dither" in q
            bound = c.ecdq_redundancy_bound if dithered else math.nan
            if dithered:
                over = bits[gaps > bound]
                above = f"{over.size}/{gaps.size}" + (
                    f" ({', '.join(f'{b:.2f}' for b in over)})" if over.size else "")
            else:
                above = "—"
            theory_gap = c.ecdq_high_rate_redundancy  # ECSQ, uniform: the scalar 0.2546
            lines.append(
                f"| {name} | {q} | {theory_gap:.4f} | {_f(res.gap_at(q, coder, 4.0))} | "
                f"{_f(res.gap_at(q, coder, 6.0))} | {_f(bound, 4)} | "
                f"{_f(float(low.max()) if low.size else math.nan)} | "
                f"{_f(float(high.max()) if high.size else math.nan)} | {above} |"
            )
    return "\n".join(lines)


def warnings_table(all_res: dict[str, SourceResults], small: float = 0.02) -> str:
    """One row per configuration whose rate= target the codec missed (RuntimeWarning) by
    more than ``small`` bits, or at an MSE above the variance, or that raised."""
    lines = ["| source | configuration | target → reached bits/element (MSE/var where > 1) |",
             "|---|---|---|"]
    n_small = 0
    for name, res in all_res.items():
        by_config: dict[str, list[str]] = {}
        for r in res.missed():
            if r["kind"] == "error":
                txt = f"{r['target_rate']:g} → error ({r['warning'][:60]})"
            else:
                ratio = r["mse"] / res.variance
                if abs(r["bits_per_element"] - r["target_rate"]) <= small and ratio <= 1:
                    n_small += 1
                    continue
                txt = f"{r['target_rate']:g} → {r['bits_per_element']:.3f}"
                if ratio > 1:
                    txt += f" ({ratio:.3g})"
            by_config.setdefault(r["name"], []).append(txt)
        for cname, items in by_config.items():
            lines.append(f"| {name} | {cname} | {'; '.join(items)} |")
    lines.append("")
    lines.append(f"Not listed: {n_small} further targets missed by at most {small} bit "
                 "(the codec's tolerance is 0.005 bit).")
    return "\n".join(lines)


def runs_table(all_res: dict[str, SourceResults]) -> str:
    lines = ["| source | elements | variance | h (bits) | coders | measured points "
             "| missed targets | errors | encode+decode seconds | source wall seconds |",
             "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for name, res in all_res.items():
        secs = sum(r["seconds"] for r in res.measured)
        missed = sum(1 for r in res.measured if r["warning"])
        lines.append(
            f"| {name} | {res.n} | {res.variance:.4g} | {res.h_bits:.4f} | "
            f"{', '.join(res.coders)} | {len(res.measured)} | {missed} | {len(res.errors)} | "
            f"{secs:.0f} | {res.wall_seconds} |"
        )
    return "\n".join(lines)


def reference_table(all_res: dict[str, SourceResults]) -> str:
    """What each source's reference is, with the entropy (and for the weights, how much
    the estimate moves with its window: a rough error bar on every gap to the SLB)."""
    lines = ["| source | reference | variance | h (bits) | h, window m/4 · m · 4m (bits) "
             "| Gaussian h, same variance (bits) | Gaussian R(D) − SLB (bits) |",
             "|---|---|---:|---:|---|---:|---:|"]
    for name, res in all_res.items():
        meta = res.theory[0]["config"]
        by_w = meta.get("h_bits_by_window")
        if by_w:
            hs = [v for _, v in sorted(by_w.items(), key=lambda kv: int(kv[0]))]
            spread = " · ".join(f"{v:.4f}" for v in hs) + f" (m = {meta['h_window']})"
        else:
            spread = "exact"
        h_gauss = 0.5 * math.log2(2 * math.pi * math.e * res.variance)
        lines.append(
            f"| {name} | {res.ref_label} | {res.variance:.4g} | {res.h_bits:.4f} | "
            f"{spread} | {h_gauss:.4f} | {h_gauss - res.h_bits:.4f} |"
        )
    for name, res in all_res.items():
        ba = res.curves.get("R(D) Blahut-Arimoto")
        if ba is None:
            continue
        d0, r0 = ba[0]
        lines.append("")
        lines.append(
            f"{name}: Blahut–Arimoto R(D) of the discretised source, {len(ba)} points for D "
            f"from {d0 / res.variance:.4g}·var to {ba[-1][0] / res.variance:.3g}·var; at its "
            f"smallest D it is {r0 - float(res.slb(d0)):+.4f} bit from the SLB "
            f"(R = {r0:.3f} bit), so below that D the SLB is used as R(D)."
        )
    return "\n".join(lines)


def _best(res: SourceResults, coder: str, rate: float) -> tuple[str, float]:
    gaps = {q: res.gap_at(q, coder, rate) for q in res.quantizers}
    gaps = {q: g for q, g in gaps.items() if math.isfinite(g)}
    if not gaps:
        return "—", math.nan
    q = min(gaps, key=gaps.get)
    return q, gaps[q]


def summary(all_res: dict[str, SourceResults], coder: str = "arithmetic") -> str:
    """Generated sentences with the headline numbers of every source (so that the prose
    of the page quotes no number by hand)."""
    z, e8 = theory.lattice_constants("Z"), theory.lattice_constants("E8")
    lines = []
    for name, res in all_res.items():
        ref = "R(D)" if "R(D)" in res.ref_label else "the SLB"
        best = "; ".join(
            f"{r:g} bit: {q} {_f(g)}" for r in TABLE_RATES for q, g in [_best(res, coder, r)]
        )
        dither_cost = res.gap_at("Z+dither", coder, 2.0) - res.gap_at("Z", coder, 2.0)
        e8_cost = res.gap_at("E8+dither", coder, 2.0) - res.gap_at("E8", coder, 2.0)
        acc = re.search(r"test accuracy ([\d.]+%)", res.description)
        what = f"; the trained network's test accuracy is {acc.group(1)}" if acc else ""
        lines.append(
            f"- **{name}** (coder {coder}, gaps to {ref} in bit/element{what}). Smallest gap at "
            f"{best}. At 6 bit: Z+dither {_f(res.gap_at('Z+dither', coder, 6.0))} "
            f"(theory {z.ecdq_high_rate_redundancy:.3f}), E8+dither "
            f"{_f(res.gap_at('E8+dither', coder, 6.0))} (theory "
            f"{e8.ecdq_high_rate_redundancy:.3f}), ECSQ (DP) "
            f"{_f(res.gap_at('ECSQ (DP)', coder, 6.0))}, k-means (DP) "
            f"{_f(res.gap_at('k-means (DP)', coder, 6.0))}, uniform "
            f"{_f(res.gap_at('uniform', coder, 6.0))}. TCQ-8 at 2/4/6 bit: "
            + "/".join(_f(res.gap_at("TCQ-8", coder, r)) for r in TABLE_RATES)
            + ", TCQ-256: " + "/".join(_f(res.gap_at("TCQ-256", coder, r)) for r in TABLE_RATES)
            + f" (high-rate theory {tcq_high_rate_gap('TCQ-8'):.3f} and "
            f"{tcq_high_rate_gap('TCQ-256'):.3f}). At 2 bit the dither costs "
            f"{_f(dither_cost, signed=True)} bit (Z) and {_f(e8_cost, signed=True)} bit (E8) "
            "over plain rounding with the same lattice."
        )
    parts = []
    for name, res in all_res.items():
        cells = []
        for lat, base in LATTICE_PAIRS:
            vals = [res.gain_db(lat + "+dither", base + "+dither", "adaptive", r)
                    for r in (5.0, 6.0)]
            vals = [v for v in vals if math.isfinite(v)]
            if vals:
                cells.append(f"{lat} {min(vals):+.2f} to {max(vals):+.2f}")
        if cells:
            parts.append(f"{name}: " + ", ".join(cells))
    if parts:
        pred = ", ".join(f"{lat} {theory.lattice_constants(lat).granular_gain_db:.3f}"
                         for lat, _ in LATTICE_PAIRS)
        lines.append(
            "- **granular gains over Z** (dithered, adaptive coder, at 5 and 6 bit, dB; "
            f"predicted {pred}): " + "; ".join(parts) + "."
        )
    return "\n".join(lines)


def tcq_table(all_res: dict[str, SourceResults], coder: str = "arithmetic") -> str:
    """Gaps of TCQ-8/-256 at 1–6 bit/element beside E8, ECSQ and NNCodec's measured gaps."""
    rows = ("TCQ-8", "TCQ-256", "E8", "E8+dither", "ECSQ (CLG)")
    lines = ["| source | quantizer | " + " | ".join(f"{r:g} bit" for r in TCQ_RATES)
             + " | high-rate theory |", "|---|---|" + "---:|" * (len(TCQ_RATES) + 1)]
    for name, res in all_res.items():
        for q in rows:
            if q not in res.quantizers:
                continue
            cells = [_f(res.gap_at(q, coder, r)) for r in TCQ_RATES]
            if q in TCQ_STATES:
                th = f"{tcq_high_rate_gap(q):.3f}"
            else:
                lat = "E8" if q.startswith("E8") else "Z"
                th = f"{theory.lattice_constants(lat).ecdq_high_rate_redundancy:.3f}"
            lines.append(f"| {name} | {q} | " + " | ".join(cells) + f" | {th} |")
        for label, pts in res.nncodec.items():
            cells = [_f(_interp_gap(pts, r)) for r in TCQ_RATES]
            lines.append(f"| {name} | {label} (2^20 samples) | " + " | ".join(cells) + " | — |")
    lines += ["", f"Coder {coder}; rdcodec rows as in the gap tables below (2^18 samples, "
              "log-MSE interpolated at each rate); NNCodec rows are its gaps measured by "
              "`benchmarks/vs_nncodec.py` on 2^20 samples of the same distribution, linear in "
              "rate between its points (— outside them; its Laplacian gaps are to the SLB). "
              "High-rate theory: 0.5·log2(2πeG), G of TCQ = MSE/(2·step)² at high rate."]
    return "\n".join(lines)


def all_tables(all_res: dict[str, SourceResults]) -> dict[str, str]:
    tables = {"summary": summary(all_res), "reference": reference_table(all_res)}
    tables.update({f"gaps-{name}": gap_table(res) for name, res in all_res.items()})
    tables["tcq"] = tcq_table(all_res)
    tables["gains"] = gains_table(all_res)
    tables["bdrate"] = bd_table(all_res)
    tables["ecdq"] = ecdq_table(all_res)
    tables["missed"] = warnings_table(all_res)
    tables["runs"] = runs_table(all_res)
    return tables


def update_doc(doc: Path, tables: dict[str, str]) -> list[str]:
    """Replace the text between the rd:begin/rd:end markers of each table; return the
    names replaced."""
    text = doc.read_text(encoding="utf-8")
    done = []
    for name, body in tables.items():
        pat = re.compile(
            rf"(<!-- rd:begin {re.escape(name)} -->\n).*?(<!-- rd:end {re.escape(name)} -->)",
            re.S,
        )
        text, n = pat.subn(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
        if n:
            done.append(name)
    doc.write_text(text, encoding="utf-8")
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="docs/scripts/rd_plots.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--results-dir", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--figures-dir", default=str(ROOT / "docs" / "figures"))
    parser.add_argument("--doc", default=str(ROOT / "docs" / "rate_distortion.md"),
                        help='page whose marked tables are regenerated ("" = none)')
    args = parser.parse_args(argv)
    all_res = load_all(Path(args.results_dir))
    if not all_res:
        parser.error(f"no rd_<source>.json in {args.results_dir}; run rd_analysis.py first")
    figs = Path(args.figures_dir)
    figs.mkdir(parents=True, exist_ok=True)
    if plot_gap_overview(all_res, figs / "rd_gap_overview.png"):
        print(f"wrote {figs / 'rd_gap_overview.png'}")
    for name, res in all_res.items():
        plot_rd(res, figs / f"rd_{name}.png")
        plot_gaps(res, figs / f"rd_{name}_gap.png")
        print(f"wrote {figs / f'rd_{name}.png'} and {figs / f'rd_{name}_gap.png'}")
    tables = all_tables(all_res)
    for name, body in tables.items():
        print(f"\n### {name}\n\n{body}")
    if args.doc and Path(args.doc).exists():
        done = update_doc(Path(args.doc), tables)
        print(f"\nupdated {len(done)} tables in {args.doc}: {', '.join(done) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
