"""The figure of examples/demo.py (`make demo`): test accuracy against compression ratio."""

from __future__ import annotations

import os


def plot(rows, base_test, path) -> None:
    """Test accuracy versus compression ratio: every setting tried, one curve per method.

    One colour per quantizer (k-means and its Hessian-weighted version apart); dashed
    without fine-tuning, solid with; the chosen setting of each row is the filled marker.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bases = []
    for row in rows:
        b = row.method.replace(" + FT", "").replace("SLQ ", "")
        if b not in bases:
            bases.append(b)
    colours = {b: plt.get_cmap("tab10")(i % 10) for i, b in enumerate(bases)}
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    for ax, pruned in zip(axes, (False, True), strict=True):
        for row in rows:
            if row.pruned != pruned or not row.curve:
                continue
            b = row.method.replace(" + FT", "").replace("SLQ ", "")
            r, a = zip(*row.curve, strict=True)
            style = ":" if row.method.startswith("SLQ") else ("-" if row.finetuned else "--")
            ax.plot(r, a, style, color=colours[b], lw=1, alpha=0.8)
            ax.plot(
                [row.ratio],
                [row.test_acc],
                "o" if row.finetuned else "s",
                color=colours[b],
                ms=5,
                label=row.method,
            )
        ax.axhline(base_test, color="k", lw=0.8)
        ax.axhline(base_test - 0.5, color="k", lw=0.8, ls=":")
        ax.set_xlabel("compression ratio over float32 (every byte counted)")
        ax.set_title(
            "dense" if not pruned else "pruned 95% + retrained (circles: fine-tuned shared values)"
        )
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)  — line: float32, dotted: 0.5 pp below")
    axes[0].set_ylim(max(0.0, base_test - 6), min(100.0, base_test + 3))
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="center right")
    fig.suptitle("LeNet-5 on 8x8 digits compressed with rdcodec")
    fig.tight_layout(rect=(0, 0, 0.84, 1))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"  wrote {path}")
