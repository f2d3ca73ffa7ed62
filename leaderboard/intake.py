"""From uploaded bytes to what the leaderboard stores, and back again when re-grading.

This is the one place that calls the submission format and validator
(`leaderboard.submission`, `leaderboard.validate`): `grade_bundle` turns a bundle into a
`db.Grading` (server-computed summary, six-benchmark score, per-problem results, a few
example trajectories), `regrade_all` re-runs that on every stored bundle and reports how
ranks and scores moved. The client-side check behind `validate` and `submit` is
`check.check_results` (imported here too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import deeptool_env
from benchmarks.metrics import benchmark_sort_key

from .check import Check as Check
from .check import check_results as check_results
from .check import metadata_problem, percent
from .db import ACCEPTED, INVALID, Database, DuplicateSubmission, Grading
from .issues import Budget, BudgetExceeded
from .ranking import rank, score
from .results_dir import load_submission
from .submission import Submission, SubmissionError
from .tokens import counter_for
from .validate import ValidationReport, validate_submission

EXAMPLES = 3
EXAMPLE_TEXT_CHARS = 4000
ANSWERS_SHOWN = 4


class BundleError(ValueError):
    """The bytes are not a readable submission bundle: HTTP 400, 413 when a file inside
    is over the submission size or line limits, 422 when parsing ran out of time."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Intake:
    """The outcome of grading one bundle; `grading` is None when it is invalid."""

    ok: bool
    issues: list[dict[str, Any]]
    model: str = ""
    perturbation: str = "none"
    meta: dict[str, Any] = field(default_factory=dict)
    grading: Grading | None = None
    content_sha256: str = ""
    issue_counts: dict[str, int] = field(default_factory=dict)
    issues_omitted: int = 0
    metadata_problem: str | None = None  # the submitter's fields, as `validate` says it


def _clip(text: Any, limit: int = EXAMPLE_TEXT_CHARS) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[:limit] + f"\n…[{len(text) - limit} more]"


def problem_results(records: Iterable[Any]) -> list[dict[str, Any]]:
    """One row per problem: samples, correct samples (server verdicts), gold, answers."""
    problems: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        row = problems.setdefault((record.benchmark, record.problem_id), {
            "benchmark": record.benchmark, "problem_id": record.problem_id,
            "gold": _clip(record.gold, 200), "samples": 0, "correct": 0, "answers": []})
        row["samples"] += 1
        row["correct"] += bool(record.correct)
        answer = _clip(record.extracted, 200) if record.extracted is not None else "∅"
        if answer not in row["answers"] and len(row["answers"]) < ANSWERS_SHOWN:
            row["answers"].append(answer)
    return sorted(problems.values(), key=lambda row: benchmark_sort_key(row["benchmark"]))


def examples(records: list[Any], limit: int = EXAMPLES) -> list[dict[str, Any]]:
    """A few trajectories to show: a correct one and a wrong one first, clipped."""
    chosen: list[Any] = []
    for want in (True, False):
        chosen += [r for r in records if bool(r.correct) is want][:1]
    chosen += [r for r in records if r not in chosen][: max(0, limit - len(chosen))]
    return [{
        "benchmark": r.benchmark, "problem_id": r.problem_id, "sample": r.sample,
        "correct": bool(r.correct), "extracted": r.extracted, "gold": _clip(r.gold, 200),
        "turns": [{"action": _clip(t.get("action")), "observation": _clip(t.get("observation"))}
                  for t in (r.turns or [])[:8] if isinstance(t, dict)],
    } for r in chosen[:limit]]


def _grading(report: ValidationReport) -> Grading:
    """The stored fields of a report: everything from the server's re-graded records."""
    summary = dict(report.summary)
    records = report.records
    return Grading(
        status=ACCEPTED if report.ok else INVALID, score=score(summary), summary=summary,
        results={"problems": problem_results(records), "examples": examples(records),
                 "counts": dict(report.counts), "cost": report.cost},
        issues=[issue.to_dict() for issue in report.issues],
        grader_version=report.grader_version, package_version=deeptool_env.__version__)


def _parse(data: bytes, budget: Budget | None = None) -> Submission:
    """The submission in a bundle, or BundleError (the status says 400, 413 or 422)."""
    try:
        return load_submission(data, budget=budget)
    except SubmissionError as exc:
        raise BundleError(str(exc), 413 if exc.code == "too_large" else 400) from exc
    except BudgetExceeded as exc:
        raise BundleError(str(exc), 422) from exc


def grade_bundle(data: bytes, data_dir: str | None, *, budget_s: float | None = 600.0,
                 tokenizers: Mapping[str, str] | None = None,
                 stored: Callable[[str], int | None] | None = None) -> Intake:
    """Parse, validate and re-grade one bundle; never trusts the bundle's own numbers.

    `budget_s` bounds the whole of it, parsing included; `tokenizers` maps model names to
    the tokenizers the server counts with; `stored(content_sha256)` names the entry that
    already holds the same content, which raises `DuplicateSubmission` before any grading.
    """
    budget = Budget(budget_s)
    submission = _parse(data, budget)
    digest = submission.content_sha256()
    existing = stored(digest) if stored is not None else None
    if existing is not None:
        raise DuplicateSubmission(existing)
    model = submission.metadata.model_name if submission.metadata else None
    report = validate_submission(submission, data_dir=data_dir, budget=budget,
                                 counter=counter_for(model, tokenizers or {}))
    meta = submission.meta
    issues = [issue.to_dict() for issue in report.issues]
    counted = {"issue_counts": report.issue_counts, "issues_omitted": report.issues_omitted}
    if not report.ok or submission.metadata is None:
        return Intake(False, issues, meta=meta, content_sha256=digest,
                      metadata_problem=metadata_problem(report.issues), **counted)
    return Intake(True, issues, submission.metadata.model_name,
                  submission.metadata.perturbation, meta, _grading(report), digest, **counted)


class RegradeError(RuntimeError):
    """A re-grade that cannot be trusted (the server's benchmark data is missing)."""


@dataclass
class Move:
    """How one entry changed in a re-grade."""

    id: int
    model: str
    old_rank: int | None
    new_rank: int | None
    old_score: float | None
    new_score: float | None
    old_status: str
    new_status: str


def _standing(db: Database) -> dict[int, tuple[int | None, float | None, str, str]]:
    ranks = {row.entry.id: row.rank for row in rank(db.entries())}
    return {e.id: (ranks.get(e.id), e.score, e.status, e.model) for e in db.entries(None)}


def regrade_all(db: Database, data_dir: str | None,
                tokenizers: Mapping[str, str] | None = None) -> list[Move]:
    """Re-grade every stored bundle with the current grader (counting tokens with
    `tokenizers` where they name the model), store the new gradings in one transaction,
    and return every entry's move (unchanged ones included). Missing benchmark data raises
    `RegradeError` before anything is written (it would invalidate every entry)."""
    before = _standing(db)
    gradings: dict[int, Grading] = {}
    for entry_id, data in db.bundles():
        try:
            submission = _parse(data)
        except BundleError as exc:
            gradings[entry_id] = Grading(INVALID, None, {}, {}, [{"message": str(exc)}],
                                         deeptool_env.__version__, deeptool_env.__version__)
            continue
        model = submission.metadata.model_name if submission.metadata else None
        report = validate_submission(submission, data_dir=data_dir,
                                     counter=counter_for(model, tokenizers or {}))
        missing = [i.message for i in report.issues if i.code == "data_unavailable"]
        if missing:
            raise RegradeError(f"entry {entry_id}: {missing[0]}; nothing was changed")
        gradings[entry_id] = _grading(report)
    db.update_gradings(gradings)
    after = _standing(db)
    return [Move(i, before[i][3], before[i][0], after[i][0], before[i][1], after[i][1],
                 before[i][2], after[i][2]) for i in sorted(after) if i in before]


def describe_moves(moves: list[Move]) -> list[str]:
    """Human lines for a re-grade: what moved first, then a count of the unchanged."""
    lines, same = [], 0
    for m in moves:
        changed = (m.old_rank, m.old_score, m.old_status) != (m.new_rank, m.new_score,
                                                              m.new_status)
        if not changed:
            same += 1
            continue
        parts = [f"#{m.id} {m.model!r}:"]
        if m.old_rank != m.new_rank:
            parts.append(f"rank {m.old_rank or '–'} -> {m.new_rank or '–'}")
        if m.old_score != m.new_score:
            parts.append(f"score {percent(m.old_score)} -> {percent(m.new_score)}")
        if m.old_status != m.new_status:
            parts.append(f"status {m.old_status} -> {m.new_status}")
        lines.append(" ".join(parts))
    lines.append(f"re-graded {len(moves)} submissions: {len(moves) - same} changed, "
                 f"{same} unchanged")
    return lines
