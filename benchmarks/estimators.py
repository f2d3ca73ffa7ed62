"""Per-problem estimators of the benchmark metrics: avg@k, unbiased pass@k, maj@k by answer
equivalence, and the bootstrap interval of a mean over problems.

avg@k is the mean over problems of c_i/n_i (DeepTool's headline), pass@k is Chen et al.'s
unbiased estimator, and intervals come from a bootstrap over problems (samples of one
problem are correlated, so they move together). `metrics.py` applies them to a run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Equivalent = Callable[[str, str], bool]


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
