"""Agreement with the labelled test pairs of peer graders (`tests/data/grading_peers/`).

`pairs.json` holds (gold, response, label) triples extracted from the test suites of
Math-Verify, lighteval, hendrycks MATH, NeMo-Skills, open-r1 and simple-evals, each with its
repository, path and commit (`extract.py` there rebuilds it from mirrors). On the pairs whose
response marks its answer (a box, an `<answer>` tag, an answer phrase) this grader must agree
with the labels at least as often as math-verify run on the same pairs, and grade no wrong
answer as correct (pairs whose label the project disputes, with the reason in the data, are
counted in the agreement but are not called false positives).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from math_verify import parse, verify

from deeptool_env.grading import extract_answer, grade_many

PAIRS = Path(__file__).parent / "data" / "grading_peers" / "pairs.json"
_MARKED = re.compile(r"\\(?:boxed|fbox)|<answer>|\banswer\s*\**\s*[:：]|final\s+answer\s+is", re.I)


def gold_answer(gold: str) -> str:
    """The gold as an answer: peers' golds are sometimes whole solutions ending in a box."""
    return (extract_answer(gold) or gold) if _MARKED.search(gold) else gold


def math_verify_says(gold: str, response: str) -> bool:
    """Plain math-verify (default extraction) on the same pair; golds get `$...$` if bare."""
    target = gold if "$" in gold or "\\boxed" in gold else f"${gold}$"
    return bool(verify(parse(target), parse(response)))


@pytest.fixture(scope="module")
def results() -> list[dict[str, Any]]:
    pairs = json.loads(PAIRS.read_text(encoding="utf-8"))
    verdicts = grade_many([(p["response"], gold_answer(p["gold"])) for p in pairs])
    for pair, verdict in zip(pairs, verdicts, strict=True):
        pair["ours"] = verdict.correct
        pair["verdict"] = verdict
    return pairs


def _agreement(rows: list[dict[str, Any]], key: str) -> float:
    return sum(r[key] == r["label"] for r in rows) / len(rows)


def test_pairs_have_provenance(results: list[dict[str, Any]]) -> None:
    assert len(results) >= 300
    assert all(re.fullmatch(r"[0-9a-f]{40}", r["commit"]) and r["path"] for r in results)
    assert len({r["repo"] for r in results}) >= 6


def test_marked_pairs_agree_at_least_as_math_verify(results: list[dict[str, Any]]) -> None:
    marked = [r for r in results if r["marked"]]
    for r in marked:
        r["math_verify"] = math_verify_says(r["gold"], r["response"])
    ours, theirs = _agreement(marked, "ours"), _agreement(marked, "math_verify")
    print(f"marked pairs: {len(marked)}; agreement ours {ours:.3f}, math-verify {theirs:.3f}")
    assert len(marked) >= 150
    assert ours >= theirs, [
        (r["gold"], r["response"][-80:], r["label"], r["verdict"])
        for r in marked
        if r["ours"] != r["label"]
    ]


def test_no_false_positive(results: list[dict[str, Any]]) -> None:
    wrong = [
        (r["repo"], r["gold"], r["response"][-80:], r["verdict"])
        for r in results
        if r["ours"] and not r["label"] and "disputed" not in r
    ]
    assert not wrong, wrong


def test_unmarked_text_has_no_answer(results: list[dict[str, Any]]) -> None:
    """The protocol has no last-expression fallback: unmarked text is never graded correct."""
    unmarked = [r for r in results if not r["marked"]]
    assert unmarked and not any(r["ours"] for r in unmarked)
