"""Regression tests of issue 12's grader defects: reward hacks, false negatives, empty golds.

Every false positive here graded a wrong answer as correct before the fix (a reward hack worth
1.02 instead of 0.02 per episode); each must now be a mismatch. The false negatives are forms the
env's answer protocol accepts (docs/grading.md).
"""

from __future__ import annotations

import pytest

from deeptool_env.grading import extract_answer, grade, grade_many


def boxed(s: str) -> str:
    return "So the result is \\boxed{" + s + "}."


# (gold, response): each one a wrong answer.
FALSE_POSITIVES = [
    ("x=5", boxed("2x=5")),
    ("x=5", boxed("x^2=5")),
    ("x=5", boxed(r"\text{not } x = 5")),
    ("2", boxed("1=2")),
    ("6", boxed("5=6")),
    ("N=n", boxed("1=1")),
    ("N=n", boxed("x=x")),
    (r"\frac{7}{15}", boxed(r"\neq \frac{7}{15}")),
    (r"\frac{7}{15}", boxed(r"x \ne \frac{7}{15}")),
    ("5", boxed(r"5 \text{ is not the answer; it is 6}")),
    (r"\sqrt{2}", boxed(r"\sqrt{2}+10^{-20}")),
    (r"\pi", boxed(r"\pi + 10^{-20}")),
    (r"e^{x}", boxed(r"e^{x}+10^{-20}")),
    ("32349", boxed("32, 349")),
    (r"\frac13", boxed("0.333334")),
    (r"\text{Evelyn}", boxed(r"-\left(\text{Evelyn}\right)")),
    ("(1,2)", boxed("2(1,2)")),
    ("(1,2)", boxed("-(1,2)")),
    ("(1,2)", boxed("(1,2)^2")),
    (r"(\sqrt{2},\pi)", boxed(r"-\left(\sqrt{2},\pi\right)")),
    ("3", boxed(r"\pi = 3")),
    ("5", boxed(r"x > 5")),
]


@pytest.mark.parametrize(("gold", "response"), FALSE_POSITIVES)
def test_false_positive_is_a_mismatch(gold: str, response: str) -> None:
    verdict = grade(response, gold)
    assert not verdict.correct, verdict
    assert verdict.reason == "mismatch", verdict


# (gold, response, meta): each one a right answer the protocol accepts.
FALSE_NEGATIVES = [
    ("1, 2", r"\boxed{1}, \boxed{2}", None),
    ("(2, 2), (6, 2)", r"$$\boxed{(2, 2)} \quad \text{and} \quad \boxed{(6, 2)}$$", None),
    ("1,2,3", r"\boxed{1} and \boxed{2} and \boxed{3}", None),
    ("34", "We check.\nFinal Answer: The largest $n$ is 34.", None),
    ("3", "Final Answer: Jane started growing Sphere 3 hours ago. I hope it is correct.", None),
    ("10455", r"So $\boxed{255}$ then. Final Answer: The final answer is $10,455$.", None),
    ("1.22", boxed("1,22"), None),
    ("0.111", boxed("0,111"), None),
    ("2, 3, 5", boxed("{2, 3, 5}"), None),
    ("(11,7), (7,11)", boxed("(7,11)or(11,7)"), None),
    ("(3,17), (17,3)", boxed("(3,17), (17,3), (3,17)"), None),
    ("185", r"\boxed{185\}", None),
    ("x=5", boxed("5"), None),
    ("5", boxed("x = 2+3 = 5"), None),
    ("AB=4,CD=5", boxed("4, 5"), None),
    ("(p,q)=(3,2)", boxed("(3, 2)"), None),
    (r"x \le 5", boxed(r"5 \ge x"), None),
    ("y=2x+3", boxed("2x+3=y"), None),
    (r"\frac{\sqrt{3}}{3}", boxed(r"\frac{\sqrt{3}}{3} \approx 0.577"), None),
    (r"\frac{7}{18}", boxed("0.388888"), None),
    (r"\sqrt{2}", boxed("1.41421356"), None),
]


@pytest.mark.parametrize(("gold", "response", "meta"), FALSE_NEGATIVES)
def test_accepted_form_is_a_match(gold: str, response: str, meta: dict | None) -> None:
    verdict = grade(response, gold, meta=meta)
    assert verdict.correct, verdict


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (r"\boxed{1} first, then \boxed{2}", "2"),  # prose between boxes: not one answer
        (r"\boxed{1} and \boxed{2}", "1, 2"),
        ("Final Answer: The answer is not 5.", None),
        pytest.param("\\boxed{" * 50_000 + "5", None, id="50000-unclosed-boxes"),
    ],
)
def test_box_runs(response: str, expected: str | None) -> None:
    assert extract_answer(response) == expected


def test_repeats_count_when_the_gold_repeats() -> None:
    assert not grade(boxed("-2"), "-2, -2", meta={"extra": {"is_multiple_answer": True}}).correct
    assert not grade(boxed("1, 1, 3"), "1, 3, 5").correct


@pytest.mark.parametrize("gold", ["", "  ", "$$"])
def test_empty_gold_is_a_verdict(gold: str) -> None:
    verdict = grade(boxed("5"), gold)
    assert verdict.reason == "parse_error" and not verdict.correct
    assert "gold answer is empty" in verdict.explanation


def test_empty_gold_does_not_abort_a_batch() -> None:
    verdicts = grade_many([(boxed("5"), ""), (boxed("5"), "5"), (boxed("7"), "$$")])
    assert [v.reason for v in verdicts] == ["parse_error", "match", "parse_error"]
