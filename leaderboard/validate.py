"""`validate_submission`: check a submission, re-grade it, and recompute every metric.

Nothing the submitter computed is ranked. The server's copy of each benchmark (`load_tasks`,
pinned content hashes) supplies the problems and gold answers; every sample is re-graded from
its `final_text` (`regrade.py`); the summary is `benchmarks.metrics.summarize` over the
re-graded records, with the turns, characters and tokens the server recounted
(`trajectory.py`) in place of the record's counters. Claimed metrics are only compared with it.
Every trajectory is checked against the declared settings (max_turns, max_episode_tokens,
decoding.max_new_tokens with a known tokenizer, the perturbation preset): the run's part of
the metadata (`Submission.settings`), so the results are checked while the submitter's part
(model name, claims) is still incomplete.

Rejection codes (level "error"): from parsing (`Submission.issues`) bad_json, bad_encoding,
line_too_long, missing_field, unknown_field, wrong_type, invalid_value;
unknown_benchmark, undeclared_benchmark, missing_benchmark, dataset_hash_mismatch,
data_unavailable; unknown_problem, missing_problem, duplicate_sample,
sample_index_out_of_range, k_mismatch, perturbation_mismatch, no_samples; tampered_verdict,
regrade_timeout, final_text_mismatch, answer_without_answer_turn, answer_in_tool_output,
counter_mismatch, budget_exceeded; max_turns_exceeded, turns_inconsistent,
max_episode_tokens_exceeded, max_new_tokens_exceeded, counter_out_of_bounds;
claim_mismatch (a warning with strict_claims=False).
Recorded only: verdict_upgraded (info), extracted_mismatch and gold_mismatch (warnings).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import deeptool_env
from benchmarks.metrics import group_problems, summarize
from benchmarks.records import SampleRecord
from deeptool_env.tasks import BENCHMARK_SHA256, BENCHMARKS, TaskSet, canonical_name, load_tasks
from deeptool_env.tasks.errors import TaskIntegrityError, TaskSourceError

from .issues import MAX_ISSUES, Budget, BudgetExceeded, IssueLog
from .metadata_schema import RunSettings, compare_claims, is_submitter_issue
from .regrade import Entry, SampleVerdict, majority_equivalence, regrade
from .schema import ERROR, WARNING, ValidationIssue
from .submission import Submission
from .tokens import APPROX, TokenCounter
from .trajectory import check_trajectories, cost_summary

SHOWN = 5
_ORDER = {ERROR: 0, WARNING: 1}


@dataclass
class ValidationReport:
    """The outcome: `ok` when no issue is an error; `results_ok` when no error is about the
    run or its samples, `metadata_ok` when the submitter's fields are complete and true
    (`schema.is_submitter_issue`). `issues`: at most `max_issues`, errors first;
    `issue_counts` counts all by code. `summary`: the server's `RunSummary.to_dict()` of the
    re-graded `records` ({} when none); `verdicts`: the per-sample view."""

    ok: bool
    issues: list[ValidationIssue]
    summary: dict[str, Any]
    results_ok: bool = False
    metadata_ok: bool = False
    verdicts: list[SampleVerdict] = field(default_factory=list)
    records: list[SampleRecord] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    issue_counts: dict[str, int] = field(default_factory=dict)
    issues_omitted: int = 0
    cost: dict[str, Any] = field(default_factory=dict)
    grader_version: str = deeptool_env.__version__
    elapsed_s: float = 0.0

    def to_dict(self, *, verdicts: bool = False) -> dict[str, Any]:
        """JSON form without the records (and without per-sample verdicts unless asked)."""
        out = {"ok": self.ok, "results_ok": self.results_ok, "metadata_ok": self.metadata_ok,
               "issues": [i.to_dict() for i in self.issues],
               "summary": self.summary, "counts": self.counts,
               "issue_counts": self.issue_counts, "issues_omitted": self.issues_omitted,
               "cost": self.cost,
               "grader_version": self.grader_version, "elapsed_s": self.elapsed_s}
        if verdicts:
            out["verdicts"] = [asdict(v) for v in self.verdicts]
        return out


def _sample_list(items: list[Any]) -> str:
    shown = ", ".join(str(i) for i in items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def _canonical(name: str) -> str | None:
    """The benchmark an alias stands for ("HMMT25" -> "hmmt_feb_2025"), if any."""
    try:
        found = canonical_name(name)
    except TaskSourceError:
        return None
    return found if found in BENCHMARKS else None


def _load_data(meta: RunSettings | None, used: dict[str, list[int]],
               data_dir: Any) -> tuple[dict[str, TaskSet], list[ValidationIssue]]:
    """The server's task sets of the submitted benchmarks, with the dataset checks."""
    issues: list[ValidationIssue] = []
    declared = meta.datasets if meta else {}
    for name, lines in used.items():
        if name not in BENCHMARKS:
            hint = f" (the canonical name is {_canonical(name)!r})" if _canonical(name) else ""
            issues.append(ValidationIssue("unknown_benchmark", f"samples.jsonl lines "
                          f"{_sample_list(lines)}: benchmark {name!r} is not one of "
                          f"{', '.join(BENCHMARKS)}{hint}", lines[0], "benchmark"))
        elif meta and name not in declared:
            issues.append(ValidationIssue("undeclared_benchmark", f"samples.jsonl has "
                          f"{len(lines)} samples of {name} but metadata.datasets does not "
                          "declare its content hash", lines[0], f"datasets.{name}"))
    for name in declared:
        if name not in used:
            issues.append(ValidationIssue("missing_benchmark", f"metadata.datasets declares "
                          f"{name} but samples.jsonl has no sample of it",
                          field=f"datasets.{name}"))
    tasksets = {}
    for name in sorted(n for n in used if n in BENCHMARKS):
        want = declared.get(name)
        if want is not None and want != BENCHMARK_SHA256[name]:
            issues.append(ValidationIssue("dataset_hash_mismatch", f"metadata: field "
                          f"'datasets.{name}' is {want[:16]}..., not the pinned sha256 of "
                          f"{name} ({BENCHMARK_SHA256[name][:16]}...): the run used other "
                          "data", field=f"datasets.{name}"))
            continue
        try:
            tasksets[name] = load_tasks(name, data_dir=data_dir)
        except (TaskSourceError, TaskIntegrityError, OSError) as exc:
            issues.append(ValidationIssue("data_unavailable", f"the validator cannot load its "
                          f"copy of {name}, so it cannot re-grade it: {exc}", field=name))
            continue
        if want is not None and tasksets[name].content_hash != want:
            issues.append(ValidationIssue("dataset_hash_mismatch", f"metadata: field "
                          f"'datasets.{name}' differs from the sha256 of the validator's "
                          f"{name} data", field=f"datasets.{name}"))
            del tasksets[name]
    return tasksets, issues


def _index(sub: Submission, tasksets: dict[str, TaskSet], k: int | None
           ) -> tuple[list[Entry], list[ValidationIssue]]:
    """Samples of known problems, first copy of each key, with per-line problems."""
    ids = {name: {t.id: t for t in ts} for name, ts in tasksets.items()}
    seen: dict[tuple[str, str, int], int] = {}
    entries, issues = [], []
    for line, record in zip(sub.lines, sub.records, strict=True):
        where = (f"samples.jsonl line {line} ({record.benchmark} {record.problem_id} "
                 f"sample {record.sample})")
        if record.benchmark not in ids:
            continue
        task = ids[record.benchmark].get(record.problem_id)
        if task is None:
            issues.append(ValidationIssue("unknown_problem", f"{where}: {record.benchmark} has "
                          f"no problem {record.problem_id!r}", line, "problem_id"))
            continue
        if record.key in seen:
            issues.append(ValidationIssue("duplicate_sample", f"{where}: duplicates line "
                          f"{seen[record.key]} (same benchmark, problem and sample)", line,
                          "sample"))
            continue
        seen[record.key] = line
        if k is not None and record.sample >= k:
            issues.append(ValidationIssue("sample_index_out_of_range", f"{where}: sample "
                          f"indices must be 0..{k - 1} for k={k}", line, "sample"))
        entries.append(Entry(line, record, task))
    return entries, issues


def _coverage(entries: list[Entry], tasksets: dict[str, TaskSet], k: int | None,
              k_from_meta: bool) -> list[ValidationIssue]:
    """Every problem present, with exactly samples 0..k-1."""
    samples: dict[tuple[str, str], set[int]] = defaultdict(set)
    for e in entries:
        samples[(e.record.benchmark, e.record.problem_id)].add(e.record.sample)
    issues = []
    for name, taskset in tasksets.items():
        missing = [t.id for t in taskset if (name, t.id) not in samples]
        if missing:
            issues.append(ValidationIssue("missing_problem", f"{name}: {len(missing)} of "
                          f"{len(taskset)} problems have no sample: {_sample_list(missing)}",
                          field=name))
    source = "metadata.k" if k_from_meta else "most problems' sample count"
    for (name, pid), got in samples.items():
        if k is not None and got != set(range(k)):
            absent = sorted(set(range(k)) - got)
            issues.append(ValidationIssue("k_mismatch", f"{name} {pid}: {len(got)} samples "
                          f"but {source} is {k}" + (f"; missing sample(s) {_sample_list(absent)}"
                                                    if absent else ""), field="k"))
    return issues


def _perturbation(entries: list[Entry], meta: RunSettings) -> list[ValidationIssue]:
    off = [e.line for e in entries if e.record.perturbation != meta.perturbation]
    if not off:
        return []
    return [ValidationIssue("perturbation_mismatch", f"samples.jsonl lines {_sample_list(off)}: "
                            f"perturbation differs from metadata.perturbation "
                            f"{meta.perturbation!r}", off[0], "perturbation")]


def _majority_k(entries: list[Entry]) -> int | None:
    counts = Counter(Counter((e.record.benchmark, e.record.problem_id) for e in entries).values())
    return counts.most_common(1)[0][0] if counts else None


def validate_submission(submission: Submission, *, data_dir: Any = None,
                        strict_claims: bool = True, timeout_s: float = 10.0,
                        budget_s: float | None = 600.0, budget: Budget | None = None,
                        max_issues: int = MAX_ISSUES, counter: TokenCounter = APPROX
                        ) -> ValidationReport:
    """Validate, re-grade and summarise `submission` (see the module docstring).

    `data_dir`: the server's benchmark data (default $DEEPTOOL_DATA_DIR). `timeout_s`: hard
    grading limit per answer. `budget`: the validation's deadline, shared with the parsing
    that made `submission` (default: `budget_s` seconds from now; None: none); once it has
    passed, nothing more is checked, what is left ungraded counts as wrong and the report
    gets a "budget_exceeded" error, so crafted slow input cannot hold a server for hours.
    `max_issues`: how many issues the report lists (all are counted in `issue_counts`).
    `counter`: how the server counts tokens (the model's tokenizer when it knows it).
    """
    started = time.perf_counter()
    budget = budget or Budget(budget_s)
    meta = submission.settings  # the run's settings, even when the submitter's are not done
    issues = IssueLog(max_issues)
    issues.merge(submission.issues)
    used: dict[str, list[int]] = defaultdict(list)
    for line, record in zip(submission.lines, submission.records, strict=True):
        used[record.benchmark].append(line)
    if not submission.records:
        issues.append(ValidationIssue("no_samples", "samples.jsonl has no valid sample"))
    records, verdicts, costs, cost = [], [], [], {}
    summary = None
    try:
        budget.check("checking the datasets")
        tasksets, found = _load_data(meta, used, data_dir)
        issues.extend(found)
        entries, found = _index(submission, tasksets, meta.k if meta else None)
        issues.extend(found)
        k = meta.k if meta else _majority_k(entries)
        issues.extend(_coverage(entries, tasksets, k, meta is not None))
        if meta is not None:
            issues.extend(_perturbation(entries, meta))
            costs, found = check_trajectories(entries, meta, counter, budget)
            issues.extend(found)
            cost = cost_summary(entries, costs, counter)
        records, verdicts, found = regrade(entries, timeout_s=timeout_s,
                                           deadline=budget.deadline)
        issues.extend(found)
        if costs:  # everything ranked uses the server's counts, never the record's
            records = [dataclasses.replace(r, episode_tokens=c.tokens, prompt_tokens=0,
                                           completion_tokens=0)
                       for r, c in zip(records, costs, strict=True)]
        if records:
            groups = group_problems(records)
            equivalent, in_time = majority_equivalence(
                [s for problems in groups.values() for s in problems.values()],
                timeout_s=timeout_s, deadline=budget.deadline)
            if not in_time and not issues.has("budget_exceeded"):
                issues.append(ValidationIssue("budget_exceeded", "the validation time budget "
                                              "ran out while grading answer equivalence for "
                                              "maj@k"))
            summary = summarize(records, equivalent=equivalent)
    except BudgetExceeded as exc:
        issues.append(ValidationIssue("budget_exceeded", str(exc)))
        records, verdicts, cost, summary = [], [], {}, None
    claims = compare_claims(submission.metadata.claimed if submission.metadata else None,
                            summary, strict=strict_claims)
    issues.extend(claims)
    metadata_errors = sum(i.level == ERROR and is_submitter_issue(i)
                          for i in submission.metadata_issues + claims)
    counts = {"lines": submission.n_lines, "samples": len(submission.records),
              "graded": len(records), "correct": sum(r.correct for r in records),
              "claimed_correct": sum(v.claimed_correct for v in verdicts),
              "upgraded": sum(v.correct and not v.claimed_correct for v in verdicts),
              "downgraded": sum(v.claimed_correct and not v.correct for v in verdicts),
              "problems": len({(r.benchmark, r.problem_id) for r in records})}
    return ValidationReport(
        ok=issues.errors == 0, results_ok=issues.errors == metadata_errors,
        metadata_ok=metadata_errors == 0 and submission.metadata is not None,
        issues=sorted(issues, key=lambda i: _ORDER.get(i.level, 2)),
        summary=summary.to_dict() if summary else {}, verdicts=verdicts, records=records,
        counts=counts, issue_counts=dict(issues.by_code), issues_omitted=issues.omitted,
        cost=cost, elapsed_s=round(time.perf_counter() - started, 3))
