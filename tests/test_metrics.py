"""Metrics against hand-computed values: pass@k, avg@k, maj@k, bootstrap CI, summaries."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks.metrics import (
    avg_at_k,
    bootstrap_ci,
    maj_at_k,
    pass_at_k,
    robustness,
    summarize,
)
from benchmarks.records import SampleRecord

from .record_factory import make_record


def same_str(a: str, b: str) -> bool:
    return a.replace(" ", "") == b.replace(" ", "")


def make(
    benchmark: str, pid: str, sample: int, correct: bool, extracted: str | None = "1", **kw
) -> SampleRecord:
    """A synthetic record; counters default to one turn, no tools, 100 episode tokens."""
    return make_record(benchmark, pid, sample, correct, extracted=extracted, **kw)


# pass@k


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 0, 1, 0.0),  # c = 0
        (5, 5, 3, 1.0),  # c = n
        (5, 3, 3, 1.0),  # n - c = 2 < k = 3
        (5, 2, 5, 1.0),  # k = n, some correct
        (5, 0, 5, 0.0),  # k = n, none correct
        (4, 1, 1, 0.25),  # pass@1 = c/n
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (10, 3, 4, 1 - 35 / 210),  # 1 - C(7,4)/C(10,4)
    ],
)
def test_pass_at_k_hand_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_matches_binomials_and_is_stable() -> None:
    for n, c, k in [(16, 5, 8), (30, 1, 10), (7, 2, 3)]:
        assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))
    assert 0.0 < pass_at_k(10_000, 1, 1) == pytest.approx(1e-4)


@pytest.mark.parametrize(("n", "c", "k"), [(3, 1, 4), (3, 1, 0), (3, 4, 1), (3, -1, 1)])
def test_pass_at_k_rejects_bad_arguments(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


# avg@k


def test_avg_at_k_per_problem_and_over_problems() -> None:
    assert avg_at_k(3, 8) == 0.375
    assert avg_at_k([8, 0, 4], [8, 8, 8]) == pytest.approx(0.5)
    assert avg_at_k([1, 1], [2, 4]) == pytest.approx(0.375)  # mean of ratios, not 2/6
    with pytest.raises(ValueError):
        avg_at_k(3, 2)
    with pytest.raises(ValueError):
        avg_at_k([], [])


# maj@k


def test_maj_at_k_with_the_real_grader_clusters_equivalent_strings() -> None:
    # "1/2", "\frac{1}{2}" and "0.5" form one cluster of 3 against two "3"s.
    answers = ["3", "1/2", "\\frac{1}{2}", "3", "0.5"]
    flags = [False, True, True, False, True]
    assert maj_at_k(answers, flags) is True
    # Without equivalence the two "3"s would win.
    assert maj_at_k(answers, flags, equivalent=lambda a, b: a == b) is False


def test_maj_at_k_tie_goes_to_the_earliest_cluster() -> None:
    assert maj_at_k(["a", "b", "b", "a"], [True, False, False, True], same_str) is True
    assert maj_at_k(["b", "a", "a", "b"], [False, True, True, False], same_str) is False


def test_maj_at_k_no_answer_samples_do_not_vote() -> None:
    answers = [None, "", "  ", None, "7", "x"]
    flags = [False, False, False, False, True, False]
    assert maj_at_k(answers, flags, same_str) is True  # "7" first among 1-member clusters
    assert maj_at_k([None, None], [False, False], same_str) is False
    assert maj_at_k([], [], same_str) is False


def test_maj_at_k_uses_the_representative_verdict() -> None:
    # The cluster "x" (2 votes) wins; its representative (sample 1) was graded wrong.
    assert maj_at_k(["y", "x", "x "], [True, False, True], same_str) is False


# bootstrap


def test_bootstrap_ci_contains_estimate_and_is_seeded() -> None:
    values = [1.0, 0.0, 0.5, 0.25, 1.0, 0.0, 0.75, 0.125, 0.875, 0.5]
    mean = sum(values) / len(values)
    low, high = bootstrap_ci(values, resamples=1000, seed=3)
    assert 0.0 <= low < mean < high <= 1.0
    assert bootstrap_ci(values, resamples=1000, seed=3) == (low, high)
    assert bootstrap_ci(values, resamples=1000, seed=4) != (low, high)
    assert bootstrap_ci([0.375], seed=1) == (0.375, 0.375)
    assert bootstrap_ci([]) is None


# summarize / robustness


def test_summarize_hand_computed_benchmark() -> None:
    recs = [  # p1: 2 of 4 correct, majority "1" correct; p2: 0 of 4, two without answer
        make("aime24", "p1", 0, True, prompt_tokens=50, completion_tokens=150),
        make("aime24", "p1", 1, False, "2", tool_calls=2, tool_errors=1),
        make("aime24", "p1", 2, True, tool_calls=2, tool_timeouts=1),
        make("aime24", "p1", 3, False, "3", turns=[{}, {}, {}], parse_errors=1),
        make("aime24", "p2", 0, False, "5"),
        make("aime24", "p2", 1, False, None),
        make("aime24", "p2", 2, False, None),
        make("aime24", "p2", 3, False, "5"),
        make("aime24", "p2", 3, True),  # duplicate key: the first copy wins
    ]
    b = summarize(recs, bootstrap=200, seed=0, equivalent=same_str).benchmarks["aime24"]
    assert (b.n_problems, b.n_samples, b.k, b.uneven_samples) == (2, 8, 4, False)
    assert b.avg_at_k == pytest.approx(0.25) == b.pass_at_1
    assert b.pass_at_k == pytest.approx(0.5)  # pass@4: 1 for p1, 0 for p2
    assert b.maj_at_k == pytest.approx(0.5)
    assert b.avg_at_k_ci is not None and b.avg_at_k_ci[0] <= 0.25 <= b.avg_at_k_ci[1]
    assert b.tokens_per_problem == pytest.approx((200 + 7 * 100) / 8)
    assert b.tokens_per_correct == pytest.approx(900 / 2)
    assert b.tool_calls_per_problem == pytest.approx(0.5)
    assert b.tool_error_rate == pytest.approx(0.25) == b.tool_timeout_rate
    assert b.parse_failure_rate == pytest.approx(1 / 10)
    assert b.no_answer_rate == pytest.approx(0.25)
    assert b.display_name == "AIME24"


def test_summarize_uneven_k_order_unweighted_mean_and_json() -> None:
    recs = [make("procedural", "q", i, i < 1) for i in range(2)]  # 1 of 2
    recs += [make("math500", f"m{j}", i, True) for j in range(3) for i in range(4)]
    recs += [make("math500", "m3", i, i == 0) for i in range(2)]  # only 2 samples
    s = summarize(recs, bootstrap=100, equivalent=same_str)
    assert list(s.benchmarks) == ["math500", "procedural"]  # paper order, then others
    m = s.benchmarks["math500"]
    assert (m.k, m.k_max, m.uneven_samples) == (2, 4, True)
    assert m.avg_at_k == pytest.approx((1 + 1 + 1 + 0.5) / 4)
    assert m.pass_at_k == pytest.approx(1.0)  # pass@2 of m3 with n=2, c=1 is 1
    assert s.mean_avg_at_k_unweighted == pytest.approx((0.875 + 0.5) / 2)
    assert (s.total_samples, s.total_problems) == (16, 5)
    assert s.benchmarks["procedural"].tool_error_rate is None  # no tool calls: undefined
    data = json.loads(json.dumps(s.to_dict()))
    assert data["benchmarks"]["math500"]["k"] == 2
    first_k = summarize(recs, k=1, bootstrap=0, equivalent=same_str).benchmarks["math500"]
    assert (first_k.k, first_k.n_samples, first_k.avg_at_k) == (1, 4, 1.0)


def test_summarize_empty_and_robustness() -> None:
    assert summarize([]).mean_avg_at_k_unweighted is None
    clean = summarize(
        [make("aime24", "a", 0, True), make("amc23", "b", 0, True)],
        bootstrap=0,
        equivalent=same_str,
    )
    pert = summarize(
        [make("aime24", "a", 0, False), make("amc23", "b", 0, True), make("extra", "c", 0, True)],
        bootstrap=0,
        equivalent=same_str,
    )
    r = robustness(clean, pert)
    assert r["benchmarks"]["aime24"]["drop"] == 1.0
    assert r["benchmarks"]["amc23"]["drop"] == 0.0
    assert "extra" not in r["benchmarks"]
    assert r["mean_drop"] == pytest.approx(0.5)
    json.dumps(r)
