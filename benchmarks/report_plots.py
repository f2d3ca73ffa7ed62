"""The report's two plots as PNG bytes: accuracy per benchmark with 95% bootstrap intervals,
and accuracy against tokens per problem (the cost-effectiveness view).

Figures are drawn with matplotlib's object API on the Agg canvas, so no display and no
pyplot global state are involved (safe in threads and on headless machines).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .metrics import BenchmarkSummary, RunSummary

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
MARKERS = ("o", "s", "^", "D")

Runs = Sequence[tuple[str, RunSummary]]


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _yerr(rows: Sequence[BenchmarkSummary]) -> list[list[float]]:
    """Asymmetric error bars (in points) from each benchmark's bootstrap interval."""
    low, high = [], []
    for b in rows:
        ci = b.avg_at_k_ci or (b.avg_at_k, b.avg_at_k)
        low.append(max(0.0, 100 * (b.avg_at_k - ci[0])))
        high.append(max(0.0, 100 * (ci[1] - b.avg_at_k)))
    return [low, high]


def accuracy_plot(runs: Runs) -> bytes:
    """Grouped bars of avg@k (%) per benchmark for each run, plus the unweighted mean."""
    names = list(runs[0][1].benchmarks)
    labels = [runs[0][1].benchmarks[n].display_name for n in names] + ["Mean\n(unweighted)"]
    width = 0.8 / len(runs)
    fig = Figure(figsize=(max(6.0, 1.1 * len(labels) + 1), 4.2))
    ax = fig.add_subplot()
    for i, (label, summary) in enumerate(runs):
        rows = [summary.benchmarks[n] for n in names if n in summary.benchmarks]
        xs = [j + (i - (len(runs) - 1) / 2) * width for j, n in enumerate(names)]
        xs = [x for x, n in zip(xs, names, strict=True) if n in summary.benchmarks]
        color = COLORS[i % len(COLORS)]
        values = [100 * b.avg_at_k for b in rows]
        ax.bar(xs, values, width, color=color, alpha=0.85, label=label)
        ax.errorbar(xs, values, yerr=_yerr(rows), fmt="none", ecolor="black", capsize=3, lw=1)
        tops = [v + up for v, up in zip(values, _yerr(rows)[1], strict=True)]
        mean = summary.mean_avg_at_k_unweighted
        if mean is not None:
            xs.append(len(names) + (i - (len(runs) - 1) / 2) * width)
            values.append(100 * mean)
            tops.append(100 * mean)
            ax.bar(xs[-1:], values[-1:], width, color=color, alpha=0.85, hatch="//")
        for x, v, top in zip(xs, values, tops, strict=True):
            ax.annotate(
                f"{v:.1f}",
                (x, top),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel("avg@k accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title(
        "Accuracy per benchmark (error bars: 95% bootstrap interval over problems)", fontsize=10
    )
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if len(runs) > 1:
        ax.legend(fontsize=8, loc="upper right")
    return _png(fig)


def cost_plot(runs: Runs) -> bytes:
    """avg@k (%) against mean tokens per problem, one labelled point per benchmark and run."""
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.add_subplot()
    all_tokens: list[float] = []
    first = runs[0][1].benchmarks
    for i, (label, summary) in enumerate(runs):
        rows = list(summary.benchmarks.values())
        xs = [b.tokens_per_problem for b in rows]
        ys = [100 * b.avg_at_k for b in rows]
        all_tokens += xs
        ax.errorbar(
            xs,
            ys,
            yerr=_yerr(rows),
            fmt=MARKERS[i % len(MARKERS)],
            color=COLORS[i % len(COLORS)],
            ecolor="gray",
            capsize=3,
            label=label,
        )
        for b, x, y in zip(rows, xs, ys, strict=True):
            base = first.get(b.benchmark)
            if i == 0 or base is None:  # later runs: a dotted link to the first run's point
                ax.annotate(
                    b.display_name, (x, y), xytext=(5, 4), textcoords="offset points", fontsize=8
                )
            else:
                ax.plot(
                    [base.tokens_per_problem, x], [100 * base.avg_at_k, y], ":", color="gray", lw=1
                )
    positive = [t for t in all_tokens if t > 0]
    if positive and max(positive) / min(positive) > 20:
        ax.set_xscale("log")
    ax.set_xlabel("tokens per problem (mean per sample)")
    ax.set_ylabel("avg@k accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Accuracy vs cost (up and left is better)", fontsize=10)
    ax.grid(alpha=0.3)
    if len(runs) > 1:
        ax.legend(fontsize=8)
    return _png(fig)
