"""Benchmark metrics of a run: per-benchmark summaries, the run summary and the
clean-vs-perturbed accuracy drop.

Definitions follow the design notes (section 4); the per-problem estimators (avg@k, pass@k,
maj@k, bootstrap CIs) are in `estimators.py` and importable from here. The run-level
average is the UNWEIGHTED mean over benchmarks, as TIR papers report it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from deeptool_env.tasks.names import BENCHMARKS, DISPLAY_NAMES

from .estimators import (
    Equivalent,
    avg_at_k,
    bootstrap_ci,
    grader_equivalent,
    maj_at_k,
    pass_at_k,
)
from .records import SampleRecord

__all__ = ["BENCHMARK_ORDER", "DISPLAY_NAMES", "BenchmarkSummary", "Equivalent", "RunSummary",
           "avg_at_k", "benchmark_sort_key", "bootstrap_ci", "display_name",
           "grader_equivalent", "group_problems", "maj_at_k", "pass_at_k", "robustness",
           "sample_tokens", "summarize", "summarize_benchmark"]

BENCHMARK_ORDER = tuple(BENCHMARKS)  # the paper's order (deeptool_env.tasks.names)


def display_name(benchmark: str) -> str:
    """The paper's name of a benchmark (unknown names are returned unchanged)."""
    return DISPLAY_NAMES.get(benchmark, benchmark)


def benchmark_sort_key(benchmark: str) -> tuple[int, str]:
    """The paper's benchmark order first, then any other benchmark alphabetically."""
    if benchmark in BENCHMARK_ORDER:
        return (BENCHMARK_ORDER.index(benchmark), "")
    return (len(BENCHMARK_ORDER), benchmark)


@dataclass
class BenchmarkSummary:
    """Metrics of one benchmark. Rates are fractions in [0, 1]; None when undefined.

    `k` is the smallest number of samples of any problem (used for pass@k); `uneven_samples`
    says whether problems had different counts (`k_max` is then larger). Token and tool-call
    figures are means per sample, i.e. per attempt at a problem.
    """

    benchmark: str
    display_name: str
    n_problems: int
    n_samples: int
    k: int
    k_max: int
    uneven_samples: bool
    avg_at_k: float
    avg_at_k_ci: tuple[float, float] | None
    pass_at_1: float
    pass_at_k: float
    maj_at_k: float
    tokens_per_problem: float
    tokens_per_correct: float | None
    tool_calls_per_problem: float
    tool_error_rate: float | None
    tool_timeout_rate: float | None
    parse_failure_rate: float | None
    no_answer_rate: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunSummary:
    """All benchmarks of a run; `mean_avg_at_k_unweighted` weighs each benchmark equally."""

    benchmarks: dict[str, BenchmarkSummary] = field(default_factory=dict)
    mean_avg_at_k_unweighted: float | None = None
    total_samples: int = 0
    total_problems: int = 0
    k_requested: int | None = None
    bootstrap_resamples: int = 1000
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample_tokens(record: SampleRecord) -> int:
    """prompt + completion tokens when recorded, else the episode's token count."""
    both = record.prompt_tokens + record.completion_tokens
    return both if both > 0 else record.episode_tokens


def _has_answer(record: SampleRecord) -> bool:
    return record.extracted is not None and bool(record.extracted.strip())


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def group_problems(
    records: Iterable[SampleRecord], k: int | None = None
) -> dict[str, dict[str, list[SampleRecord]]]:
    """benchmark -> problem -> samples in sample order (first copy of a duplicate key wins;
    with `k`, only each problem's first k samples)."""
    seen: set[tuple[str, str, int]] = set()
    out: dict[str, dict[str, list[SampleRecord]]] = {}
    for rec in records:
        if rec.key in seen:
            continue
        seen.add(rec.key)
        out.setdefault(rec.benchmark, {}).setdefault(rec.problem_id, []).append(rec)
    for problems in out.values():
        for pid, samples in problems.items():
            samples.sort(key=lambda r: r.sample)
            problems[pid] = samples[:k] if k else samples
    return out


def summarize_benchmark(
    name: str,
    problems: dict[str, list[SampleRecord]],
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    equivalent: Equivalent | None = None,
) -> BenchmarkSummary:
    """Metrics of one benchmark from its problems' samples."""
    counts = [(len(s), sum(r.correct for r in s)) for s in problems.values()]
    per_problem = [c / n for n, c in counts]
    k = min(n for n, _ in counts)
    k_max = max(n for n, _ in counts)
    samples = [r for s in problems.values() for r in s]
    majority = [
        maj_at_k([r.extracted for r in s], [r.correct for r in s], equivalent)
        for s in problems.values()
    ]
    tokens = sum(sample_tokens(r) for r in samples)
    calls = sum(r.tool_calls for r in samples)
    turns = sum(len(r.turns) for r in samples)
    avg = float(np.mean(per_problem))
    return BenchmarkSummary(
        benchmark=name,
        display_name=display_name(name),
        n_problems=len(problems),
        n_samples=len(samples),
        k=k,
        k_max=k_max,
        uneven_samples=k != k_max,
        avg_at_k=avg,
        avg_at_k_ci=bootstrap_ci(per_problem, resamples=bootstrap, seed=seed),
        pass_at_1=avg,
        pass_at_k=float(np.mean([pass_at_k(n, c, k) for n, c in counts])),
        maj_at_k=float(np.mean(majority)),
        tokens_per_problem=tokens / len(samples),
        tokens_per_correct=_ratio(tokens, sum(r.correct for r in samples)),
        tool_calls_per_problem=calls / len(samples),
        tool_error_rate=_ratio(sum(r.tool_errors for r in samples), calls),
        tool_timeout_rate=_ratio(sum(r.tool_timeouts for r in samples), calls),
        parse_failure_rate=_ratio(sum(r.parse_errors for r in samples), turns),
        no_answer_rate=sum(not _has_answer(r) for r in samples) / len(samples),
    )


def summarize(
    records: Iterable[SampleRecord],
    *,
    k: int | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    equivalent: Equivalent | None = None,
) -> RunSummary:
    """Summarise a run per benchmark; `k` keeps each problem's first k samples (default all).

    `equivalent` overrides the grader-based answer equivalence used by maj@k.
    """
    groups = group_problems(records, k)
    benchmarks = {
        name: summarize_benchmark(
            name, groups[name], bootstrap=bootstrap, seed=seed, equivalent=equivalent
        )
        for name in sorted(groups, key=benchmark_sort_key)
    }
    scores = [b.avg_at_k for b in benchmarks.values()]
    return RunSummary(
        benchmarks=benchmarks,
        mean_avg_at_k_unweighted=float(np.mean(scores)) if scores else None,
        total_samples=sum(b.n_samples for b in benchmarks.values()),
        total_problems=sum(b.n_problems for b in benchmarks.values()),
        k_requested=k,
        bootstrap_resamples=bootstrap,
        seed=seed,
    )


def robustness(clean: RunSummary, perturbed: RunSummary) -> dict[str, Any]:
    """avg@k drop (clean - perturbed) per benchmark present in both runs, and its
    unweighted mean over those benchmarks."""
    common = [name for name in clean.benchmarks if name in perturbed.benchmarks]
    rows = {}
    for name in common:
        before, after = clean.benchmarks[name].avg_at_k, perturbed.benchmarks[name].avg_at_k
        rows[name] = {
            "display_name": display_name(name),
            "clean": before,
            "perturbed": after,
            "drop": before - after,
        }

    def mean(key: str) -> float | None:
        return float(np.mean([r[key] for r in rows.values()])) if rows else None

    return {
        "benchmarks": rows,
        "mean_clean": mean("clean"),
        "mean_perturbed": mean("perturbed"),
        "mean_drop": mean("drop"),
    }
