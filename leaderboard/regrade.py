"""Re-grading of a submission's samples by the server, and the trajectory consistency checks.

Each sample is graded again from the agent's own `final_text` against the gold answer of the
server's copy of the benchmark (exactly as the environment grades an answer turn: same
benchmark name and record options), with `deeptool_env.grading.grade_many` (cache, in-process
exact checks, worker pool). The record's own `gold`, `correct`, `reason` and `extracted` are
never used for scoring: the returned records carry the server's values, and their tool and
parse-error counters are recounted from the turns.

The answer equivalence that maj@k needs is also graded here, in parallel, so `summarize` does
not grade thousands of answer pairs one call at a time.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from benchmarks.metrics import Equivalent, maj_at_k
from benchmarks.records import SampleRecord
from deeptool_env.grading import Verdict, grade, grade_many
from deeptool_env.tasks import Task

from .schema import INFO, WARNING, ValidationIssue

SHOWN_LINES = 10
CHUNK = 1000  # samples graded per grade_many call, between time-budget checks


@dataclass(frozen=True)
class SampleVerdict:
    """The server's verdict on one sample next to what the submission claimed."""

    line: int
    benchmark: str
    problem_id: str
    sample: int
    claimed_correct: bool
    correct: bool
    reason: str
    extracted: str | None


@dataclass(frozen=True)
class Entry:
    """A sample to re-grade: its samples.jsonl line, its record and the server's task."""

    line: int
    record: SampleRecord
    task: Task


def _where(entry: Entry) -> str:
    r = entry.record
    return f"samples.jsonl line {entry.line} ({r.benchmark} {r.problem_id} sample {r.sample})"


def _lines(entries: Sequence[Entry]) -> str:
    shown = ", ".join(str(e.line) for e in entries[:SHOWN_LINES])
    more = len(entries) - SHOWN_LINES
    return shown + (f" and {more} more" if more > 0 else "")


def grade_entries(entries: Sequence[Entry], *, timeout_s: float,
                  deadline: float | None = None) -> list[Verdict | None]:
    """Server verdicts of `entries`, in order, graded in chunks; items that time out are
    retried once. Once `time.monotonic()` passes `deadline`, the rest stay None (ungraded)."""
    items = [(e.record.final_text, e.task.answer, e.task.benchmark, e.task.meta)
             for e in entries]
    verdicts: list[Verdict | None] = [None] * len(items)

    def run(indices: list[int]) -> None:
        for start in range(0, len(indices), CHUNK):
            if deadline is not None and time.monotonic() > deadline:
                return
            part = indices[start:start + CHUNK]
            for i, verdict in zip(part, grade_many([items[i] for i in part],
                                                   timeout_s=timeout_s), strict=True):
                verdicts[i] = verdict

    run(list(range(len(items))))
    run([i for i, v in enumerate(verdicts) if v is not None and v.reason == "timeout"])
    return verdicts


def recount(record: SampleRecord) -> dict[str, int]:
    """Tool calls, tool errors, tool timeouts and parse errors counted from the turns."""
    tools = [t["tool"] for t in record.turns if t.get("tool")]
    return {"tool_calls": len(tools),
            "tool_errors": sum(t.get("status") == "error" for t in tools),
            "tool_timeouts": sum(t.get("status") == "timeout" for t in tools),
            "parse_errors": sum(t.get("parse_error") is not None for t in record.turns)}


def _mentions(needle: str, text: str) -> bool:
    """Whether `needle` occurs in `text` as a whole token (not "5" inside "15")."""
    before = r"(?<![0-9A-Za-z.])" if needle[:1].isalnum() else ""
    after = r"(?![0-9A-Za-z])" if needle[-1:].isalnum() else ""
    return re.search(before + re.escape(needle) + after, text) is not None


def trajectory_issues(entry: Entry, verdict: Verdict) -> list[ValidationIssue]:
    """Checks that the graded text is the agent's own answer turn, and the counters."""
    record, where, issues = entry.record, _where(entry), []
    answered = record.termination == "answer"
    last = record.turns[-1]["action"] if record.turns else None
    mismatch = answered and record.final_text != last
    if mismatch:
        issues.append(ValidationIssue("final_text_mismatch", f"{where}: termination is "
                                      "'answer' but final_text is not the last turn's action "
                                      "(the graded text must be the answer turn itself)",
                                      entry.line, "final_text"))
    elif not answered and record.final_text.strip():
        issues.append(ValidationIssue("answer_without_answer_turn", f"{where}: termination is "
                                      f"{record.termination!r}, so the episode has no answer "
                                      "turn, yet final_text is not empty", entry.line,
                                      "final_text"))
    claimed = record.extracted.strip() if record.extracted else ""
    if (record.correct or claimed) and (verdict.extracted is None or mismatch or not answered):
        needles = [n for n in {entry.task.answer.strip(), claimed} if n]
        seen = [i for i, turn in enumerate(record.turns) for n in needles
                if _mentions(n, turn["observation"])]
        if seen:
            issues.append(ValidationIssue(
                "answer_in_tool_output", f"{where}: the record claims an answer "
                f"({'correct' if record.correct else repr(claimed)}) that the agent's final_text "
                f"does not state, and it appears only in tool output (turns[{seen[0]}]"
                ".observation); only the agent's own answer turn counts", entry.line,
                "final_text"))
    counted = recount(record)
    wrong = [f"{k}={getattr(record, k)} (turns give {v})" for k, v in counted.items()
             if getattr(record, k) != v]
    if wrong:
        issues.append(ValidationIssue("counter_mismatch", f"{where}: {', '.join(wrong)}",
                                      entry.line, "tool_calls"))
    return issues


def regrade(entries: Sequence[Entry], *, timeout_s: float, deadline: float | None = None
            ) -> tuple[list[SampleRecord], list[SampleVerdict], list[ValidationIssue]]:
    """Re-grade `entries`: records with the server's verdicts, the verdicts, and issues.
    Samples left ungraded when `deadline` passes count as wrong, with one "budget_exceeded"
    error."""
    verdicts = grade_entries(entries, timeout_s=timeout_s, deadline=deadline)
    records, out, issues = [], [], []
    upgraded, extracted_differ, gold_differ, ungraded = [], [], [], []
    for entry, graded in zip(entries, verdicts, strict=True):
        record, where = entry.record, _where(entry)
        v = graded or Verdict(False, "timeout", None, "not graded: time budget ran out")
        issues += trajectory_issues(entry, v)
        if graded is None:
            ungraded.append(entry)
        elif record.correct and not v.correct:
            code = "regrade_timeout" if v.reason == "timeout" else "tampered_verdict"
            shown = "no answer" if v.extracted is None else f"extracted {v.extracted[:80]!r}"
            issues.append(ValidationIssue(code, f"{where}: claims correct=true but the server "
                                          f"re-grades final_text as incorrect ({v.reason}; "
                                          f"{shown})", entry.line, "correct"))
        elif v.correct and not record.correct:
            upgraded.append(entry)
        if (record.extracted or None) != v.extracted:
            extracted_differ.append(entry)
        if record.gold != entry.task.answer:
            gold_differ.append(entry)
        records.append(dataclasses.replace(
            record, gold=entry.task.answer, correct=v.correct, reason=v.reason,
            extracted=v.extracted, **recount(record)))
        out.append(SampleVerdict(entry.line, record.benchmark, record.problem_id,
                                 record.sample, record.correct, v.correct, v.reason,
                                 v.extracted))
    if ungraded:
        issues.append(ValidationIssue("budget_exceeded", f"the validation time budget ran out "
                                      f"before {len(ungraded)} sample(s) were re-graded "
                                      f"(samples.jsonl lines {_lines(ungraded)})"))
    if upgraded:
        issues.append(ValidationIssue("verdict_upgraded", f"{len(upgraded)} sample(s) claimed "
                                      "incorrect re-grade as correct; the server's verdict is "
                                      f"used (samples.jsonl lines {_lines(upgraded)})",
                                      level=INFO))
    if extracted_differ:
        issues.append(ValidationIssue("extracted_mismatch", f"{len(extracted_differ)} "
                                      "sample(s) record an extracted answer other than the "
                                      "server's extraction of final_text; the server's is used "
                                      f"(samples.jsonl lines {_lines(extracted_differ)})",
                                      field="extracted", level=WARNING))
    if gold_differ:
        issues.append(ValidationIssue("gold_mismatch", f"{len(gold_differ)} sample(s) record "
                                      "a gold answer other than the server's data; the "
                                      f"server's is used (samples.jsonl lines "
                                      f"{_lines(gold_differ)})", field="gold", level=WARNING))
    return records, out, issues


def _decided(samples: Sequence[SampleRecord]) -> bool:
    """Whether maj@k of a problem is fixed whatever the equivalence says: all answers that
    vote are right, or all are wrong (or none votes)."""
    return len({r.correct for r in samples if r.extracted and r.extracted.strip()}) < 2


def majority_equivalence(groups: Iterable[Sequence[SampleRecord]], *, timeout_s: float,
                         deadline: float | None = None, threads: int = 16
                         ) -> tuple[Equivalent, bool]:
    """maj@k's answer equivalence, computed ahead of `summarize` and in parallel.

    `maj_at_k` asks `grader_equivalent(later, earlier)` one pair at a time; run problem by
    problem that is thousands of sequential grader round-trips. Here `maj_at_k` runs once per
    problem in a thread pool (the grader is thread-safe; its worker pool stays busy) and every
    answer it gets is kept, so the returned function answers `summarize`'s identical calls
    from the table. Problems whose majority is right (or wrong) whatever the clustering are
    skipped; for them the function answers False, which cannot change their result. The
    second value is False when `deadline` passed first (pairs not graded then count as
    not equivalent).
    """
    table: dict[tuple[str, str], bool] = {}
    late: list[bool] = []

    def graded(a: str, b: str) -> bool:
        if (a, b) not in table:
            if deadline is not None and time.monotonic() > deadline:
                late.append(True)
                return False
            table[(a, b)] = grade("\\boxed{" + a + "}", b, timeout_s=timeout_s).correct
        return table[(a, b)]

    def cluster(samples: Sequence[SampleRecord]) -> bool:
        return maj_at_k([r.extracted for r in samples], [r.correct for r in samples], graded)

    undecided = [samples for samples in groups if not _decided(samples)]
    with ThreadPoolExecutor(max_workers=threads) as executor:
        list(executor.map(cluster, undecided))
    return (lambda a, b: table.get((a, b), False)), not late
