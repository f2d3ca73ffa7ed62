"""Self-tests of the grader on the real benchmark golds (1305 items of six benchmarks).

The data lives outside the repository: `$DEEPTOOL_DATA_DIR` or `<repo>/../shared/data`, with
`benchmarks/<name>/<name>.jsonl` (see that folder's SOURCES.md). Skipped if it is missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from deeptool_env.grading import grade_many
from deeptool_env.grading.literals import split_top_level
from deeptool_env.grading.normalize import normalize
from deeptool_env.grading.options import GradeOptions
from deeptool_env.grading.symbolic import deep_compare

BENCHMARKS = {
    "aime24": 30,
    "aime25": 30,
    "amc23": 40,
    "hmmt_feb_2025": 30,
    "math500": 500,
    "olympiadbench": 675,
}
# A prose answer whose "and" is not a list separator, so it is not reordered below.
PROSE_GOLDS = {"olympiadbench-1965"}


def _data_dir() -> Path:
    env = os.environ.get("DEEPTOOL_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    root = _data_dir() / "benchmarks"
    missing = [n for n in BENCHMARKS if not (root / n / f"{n}.jsonl").is_file()]
    if missing:
        pytest.skip(
            f"benchmark data not found under {root} (missing {missing}); "
            "set DEEPTOOL_DATA_DIR to the folder holding benchmarks/"
        )
    rows = []
    for name, count in BENCHMARKS.items():
        lines = (root / name / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        part = [json.loads(line) for line in lines if line.strip()]
        assert len(part) == count, name
        rows += part
    return rows


def _item(response: str, row: dict[str, Any]) -> dict[str, Any]:
    return {"response": response, "gold": row["answer"], "benchmark": row["benchmark"], "meta": row}


def test_every_gold_matches_its_boxed_self(records: list[dict[str, Any]]) -> None:
    verdicts = grade_many([_item("\\boxed{" + r["answer"] + "}", r) for r in records])
    failures = [
        (r["id"], r["answer"], v) for r, v in zip(records, verdicts, strict=True) if not v.correct
    ]
    assert len(verdicts) == 1305
    assert not failures, failures


def test_every_gold_matches_as_answer_line(records: list[dict[str, Any]]) -> None:
    verdicts = grade_many(
        [_item("So we are done.\nAnswer: $" + r["answer"] + "$", r) for r in records]
    )
    failures = [
        (r["id"], r["answer"], v) for r, v in zip(records, verdicts, strict=True) if not v.correct
    ]
    assert not failures, failures


def test_every_gold_verifies_symbolically(records: list[dict[str, Any]]) -> None:
    """Each normalised gold against itself through sympy/math-verify, with no string shortcut.

    Runs in this process with math-verify's alarms off (`mv_timeout=None`): no signals are
    touched, and the golds are known to be benign.
    """
    failures = []
    for r in records:
        opts = GradeOptions.from_meta(r)
        gold = normalize(r["answer"], unit=opts.unit)
        out = deep_compare(gold, gold, opts, mv_timeout=None)
        if not out.correct:
            failures.append((r["id"], gold, out))
    assert not failures, failures


def test_list_golds_match_in_any_order(records: list[dict[str, Any]]) -> None:
    rows, items = [], []
    for r in records:
        extra = r.get("extra") or {}
        multiple = extra.get("is_multiple_answer") or extra.get("multiple_answers")
        parts = split_top_level(r["answer"])
        if multiple and len(parts) > 1 and r["id"] not in PROSE_GOLDS:
            rows.append(r)
            items.append(_item("\\boxed{" + ", ".join(reversed(parts)) + "}", r))
    verdicts = grade_many(items)
    assert len(rows) > 80
    failures = [(r["id"], v) for r, v in zip(rows, verdicts, strict=True) if not v.correct]
    assert not failures, failures


def test_list_golds_reject_a_missing_item(records: list[dict[str, Any]]) -> None:
    rows, items = [], []
    for r in records:
        extra = r.get("extra") or {}
        parts = split_top_level(r["answer"])
        if (extra.get("is_multiple_answer") or extra.get("multiple_answers")) and len(parts) > 1:
            if len(set(parts)) == len(parts) and r["id"] not in PROSE_GOLDS:
                rows.append(r)
                items.append(_item("\\boxed{" + ", ".join(parts[:-1]) + "}", r))
    verdicts = grade_many(items)
    wrong = [(r["id"], v) for r, v in zip(rows, verdicts, strict=True) if v.correct]
    assert not wrong, wrong
