"""Benchmark metrics: avg@k, unbiased pass@k, maj@k by answer equivalence, bootstrap CIs,
per-run summaries and the clean-vs-perturbed accuracy drop.

Definitions follow the design notes (section 4): avg@k is the mean over problems of c_i/n_i
(DeepTool's headline), pass@k is Chen et al.'s unbiased estimator, intervals come from a
bootstrap over problems (samples of one problem are correlated, so they move together), and
the run-level average is the UNWEIGHTED mean over benchmarks, as TIR papers report it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from deeptool_env.tasks.names import BENCHMARKS, DISPLAY_NAMES

from .records import SampleRecord

BENCHMARK_ORDER = tuple(BENCHMARKS)  # the paper's order (deeptool_env.tasks.names)

Equivalent = Callable[[str, str], bool]


def display_name(benchmark: str) -> str:
    """The paper's name of a benchmark (unknown names are returned unchanged)."""
    return DISPLAY_NAMES.get(benchmark, benchmark)


def benchmark_sort_key(benchmark: str) -> tuple[int, str]:
    """The paper's benchmark order first, then any other benchmark alphabetically."""
    if benchmark in BENCHMARK_ORDER:
        return (BENCHMARK_ORDER.index(benchmark), "")
    return (len(BENCHMARK_ORDER), benchmark)


def avg_at_k(c: int | Sequence[int], n: int | Sequence[int]) -> float:
    """c/n for one problem, or the mean of c_i/n_i over problems when given sequences."""
    if isinstance(c, int) and isinstance(n, int):
        if n <= 0 or not 0 <= c <= n:
            raise ValueError(f"need 0 <= c <= n and n > 0, got c={c}, n={n}")
        return c / n
    if isinstance(c, int) or isinstance(n, int) or len(c) != len(n) or not c:
        raise ValueError("c and n must be non-empty sequences of the same length")
    return sum(avg_at_k(ci, ni) for ci, ni in zip(c, n, strict=True)) / len(c)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k = 1 - C(n-c, k)/C(n, k), as a product to stay stable for large n."""
    if k < 1 or k > n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if n - c < k:
        return 1.0
    miss = 1.0
    for j in range(n - c + 1, n + 1):
        miss *= 1.0 - k / j
    return 1.0 - miss


def grader_equivalent(a: str, b: str) -> bool:
    """Whether answer `a` grades as correct against `b` taken as gold (the project grader)."""
    from deeptool_env.grading import grade

    return grade("\\boxed{" + a + "}", b).correct


def maj_at_k(
    answers: Sequence[str | None],
    correct_flags: Sequence[bool],
    equivalent: Equivalent | None = None,
) -> bool:
    """Whether the majority answer is correct.

    Answers are clustered by equivalence against each cluster's representative (its earliest
    answer); missing/blank answers do not vote; a tie goes to the cluster whose earliest sample
    comes first. The majority is correct when its representative's sample was graded correct.
    """
    if len(answers) != len(correct_flags):
        raise ValueError("answers and correct_flags differ in length")
    same = equivalent or grader_equivalent
    clusters: list[list[int]] = []
    for i, answer in enumerate(answers):
        if answer is None or not answer.strip():
            continue
        for members in clusters:
            rep = answers[members[0]]
            assert rep is not None
            if answer.strip() == rep.strip() or same(answer, rep):
                members.append(i)
                break
        else:
            clusters.append([i])
    if not clusters:
        return False
    best = max(clusters, key=len)  # max keeps the first of equal sizes: the earliest cluster
    return bool(correct_flags[best[0]])


def bootstrap_ci(
    values: Sequence[float], *, resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean of per-problem values (None if empty).

    Problems are resampled with replacement; a problem's value (e.g. c_i/n_i) carries all its
    samples, so the interval reflects between-problem variation.
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return None
    if data.size == 1 or resamples <= 0:
        mean = float(data.mean())
        return (mean, mean)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return (float(low), float(high))


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
