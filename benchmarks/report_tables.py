"""The report's tables as data: a header, rows of text cells and which columns are numbers
(right-aligned; prose is left-aligned), built from a run's metadata, summary and records.

Every cell is plain text; the Markdown and HTML renderers escape it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from .metrics import RunSummary, benchmark_sort_key, display_name, group_problems, sample_tokens
from .records import SampleRecord


@dataclass(frozen=True)
class Table:
    """A table of text cells; `numeric` holds the indices of right-aligned columns and
    `mean_last` marks a last row that is a mean (shown in bold); `row_keys` are the
    (benchmark, problem id) of each row when rows are problems (the HTML links them to
    the trajectory viewer)."""

    head: list[str]
    rows: list[list[str]]
    numeric: frozenset[int] = frozenset()
    mean_last: bool = False
    table_id: str = ""
    row_keys: tuple[tuple[str, str], ...] = ()


ACCURACY_HEAD = ["Benchmark", "Problems", "k", "avg@k", "95% CI", "pass@1", "pass@k", "maj@k"]
COST_HEAD = [
    "Benchmark",
    "Tokens/sample",
    "Tokens/correct sample",
    "Tool calls/sample",
    "Tool error rate",
    "Tool timeout rate",
    "Parse failure rate",
    "No answer",
]
ROBUST_HEAD = ["Benchmark", "Clean avg@k", "Perturbed avg@k", "Drop (points)"]
PROBLEM_HEAD = [
    "Benchmark",
    "Problem",
    "Correct",
    "Gold",
    "Extracted answers (samples)",
    "Tokens/sample",
    "Tool calls/sample",
]
NO_ANSWER = "(none)"


def pct(x: float | None) -> str:
    """A fraction as a percentage with one decimal, "–" for None."""
    return "–" if x is None else f"{100 * x:.1f}"


def num(x: float | None, digits: int = 0) -> str:
    """A number with thousands separators, "–" for None."""
    return "–" if x is None else f"{x:,.{digits}f}"


def _all_but_first(n: int) -> frozenset[int]:
    return frozenset(range(1, n))


def accuracy_table(summary: RunSummary) -> Table:
    """One row per benchmark, then the unweighted mean."""
    rows = []
    for b in summary.benchmarks.values():
        low, high = b.avg_at_k_ci or (None, None)
        ci = "–" if low is None else f"[{pct(low)}, {pct(high)}]"
        k = f"{b.k}–{b.k_max}*" if b.uneven_samples else str(b.k)
        scores = [b.avg_at_k, b.pass_at_1, b.pass_at_k, b.maj_at_k]
        avg, *rest = (pct(x) for x in scores)
        rows.append([b.display_name, str(b.n_problems), k, avg, ci, *rest])
    mean = pct(summary.mean_avg_at_k_unweighted)
    label = f"Mean of {len(summary.benchmarks)} benchmarks (unweighted)"
    rows.append([label, str(summary.total_problems), "", mean, "", "", "", ""])
    return Table(ACCURACY_HEAD, rows, _all_but_first(len(ACCURACY_HEAD)), mean_last=True)


def cost_table(summary: RunSummary) -> Table:
    """Tokens and tool use per benchmark."""
    rows = []
    for b in summary.benchmarks.values():
        rates = [b.tool_error_rate, b.tool_timeout_rate, b.parse_failure_rate, b.no_answer_rate]
        counts = [num(b.tokens_per_problem), num(b.tokens_per_correct)]
        rows.append([b.display_name, *counts, num(b.tool_calls_per_problem, 2)])
        rows[-1] += [pct(x) for x in rates]
    return Table(COST_HEAD, rows, _all_but_first(len(COST_HEAD)))


def robustness_table(result: dict[str, Any]) -> Table:
    """Clean and perturbed avg@k and the drop in points, then their unweighted means."""
    rows = [
        [r["display_name"], pct(r["clean"]), pct(r["perturbed"]), num(100 * r["drop"], 1)]
        for r in result["benchmarks"].values()
    ]
    drop = None if result["mean_drop"] is None else 100 * result["mean_drop"]
    means = [pct(result["mean_clean"]), pct(result["mean_perturbed"]), num(drop, 1)]
    rows.append(["Mean (unweighted)", *means])
    return Table(ROBUST_HEAD, rows, _all_but_first(len(ROBUST_HEAD)), mean_last=True)


def answer_counts(samples: list[SampleRecord]) -> str:
    """Distinct extracted answers with their sample counts, most frequent first
    ("(none)" for samples without an answer)."""
    counts = Counter(
        (r.extracted or "").strip() or NO_ANSWER for r in samples
    )
    return ", ".join(f"{answer} ×{n}" for answer, n in counts.most_common())


def problem_table(records: list[SampleRecord], k: int | None = None) -> Table:
    """One row per problem, benchmarks in the paper's order: correct samples out of the
    samples, the gold answer, the extracted answers, mean tokens and tool calls."""
    rows, keys = [], []
    grouped = group_problems(records, k)
    for bench in sorted(grouped, key=benchmark_sort_key):
        for pid, samples in grouped[bench].items():
            keys.append((bench, pid))
            rows.append([
                display_name(bench), pid,
                f"{sum(r.correct for r in samples)}/{len(samples)}", samples[0].gold,
                answer_counts(samples), num(fmean(sample_tokens(r) for r in samples)),
                num(fmean(r.tool_calls for r in samples), 1),
            ])
    return Table(PROBLEM_HEAD, rows, frozenset({2, 5, 6}), table_id="problems",
                 row_keys=tuple(keys))
