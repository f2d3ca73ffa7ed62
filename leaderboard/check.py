"""The client-side check behind `deeptool-leaderboard validate` and `submit`: the results
and the submission metadata judged apart.

The results (run.json's settings and samples.jsonl) are valid or not whoever submits them;
the submitter's part of the metadata (model name, link, notes, claimed metrics) can still be
incomplete, most often a run of a custom agent without `--model`, whose model nothing names.
`check_results` says which is which, with the fix, and builds the upload bundle only when
both are in order. The server refuses incomplete metadata with the same `metadata_problem`
text (`intake.grade_bundle`), so what `validate` says is what an upload gets.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from benchmarks.metrics import benchmark_sort_key

from .field_checks import ERROR, ValidationIssue
from .metadata_schema import is_submitter_issue
from .ranking import score
from .results_dir import FIX, load_results_dir, load_submission
from .submission import Submission, SubmissionError
from .validate import ValidationReport, validate_submission

SHOWN = 3  # metadata problems spelled out in one line


def percent(value: float | None) -> str:
    """A rate as a percentage with one decimal, "–" when unknown."""
    return "–" if value is None else f"{100 * value:.1f}"


def metadata_problem(issues: Iterable[ValidationIssue]) -> str | None:
    """What is wrong with the submitter's part of the metadata and how to fix it, e.g.
    "incomplete: model_name missing; fix with --model-name NAME ..."; None when nothing is."""
    errors = [i for i in issues if i.level == ERROR and is_submitter_issue(i)]
    if not errors:
        return None
    missing = [i.field or "" for i in errors if i.code == "missing_field"]
    wrong = [i.message.removeprefix("metadata: ") for i in errors
             if i.code != "missing_field"]
    parts = [f"incomplete: {', '.join(missing)} missing"] if missing else []
    if wrong:
        more = f" (and {len(wrong) - SHOWN} more)" if len(wrong) > SHOWN else ""
        parts.append("invalid: " + "; ".join(wrong[:SHOWN]) + more)
    return "; ".join(parts) + "; " + FIX


@dataclass
class Check:
    """The check of one results directory: `ok` is what the exit status says (the results
    alone, or results and metadata with `submission`); `bundle` is the upload, built only
    when both are valid; `lines` are for printing."""

    ok: bool
    lines: list[str]
    bundle: bytes | None
    results_ok: bool = False
    metadata_ok: bool = False


def _results_line(report: ValidationReport) -> str:
    counts = report.counts
    if not report.results_ok:
        return f"results: INVALID ({sum(i.level == ERROR for i in report.issues)} errors above)"
    benchmarks: dict[str, Any] = report.summary.get("benchmarks", {})
    shown = ", ".join(f"{name} avg@k {percent(benchmarks[name].get('avg_at_k'))}%"
                      for name in sorted(benchmarks, key=benchmark_sort_key))
    mean = score(dict(report.summary))
    ranked = (f"six-benchmark mean avg@k {percent(mean)}%" if mean is not None
              else "not ranked: the leaderboard ranks runs of all six benchmarks")
    return (f"results: valid ({counts.get('samples', 0)} samples of "
            f"{counts.get('problems', 0)} problems; benchmarks {shown or 'none'}; {ranked})")


def _metadata_line(sub: Submission, report: ValidationReport, source: str | None) -> str:
    problem = metadata_problem(report.issues)
    if problem is not None:
        return f"metadata: {problem}"
    name = sub.metadata.model_name if sub.metadata else sub.raw_metadata.get("model_name")
    where = f" from {source}" if source else ""
    return f"metadata: complete (model_name {name!r}{where})"


def check_results(path: str | os.PathLike[str], data_dir: str | None, *,
                  model_name: str | None = None, submission: bool = True) -> Check:
    """Load and validate `path` like the server will (`model_name`: `--model-name`). With
    `submission`, `ok` needs valid results and complete metadata, else valid results."""
    try:
        if os.path.isdir(path):
            sub, source = load_results_dir(path, model_name=model_name)
        else:
            sub, source = load_submission(path, model_name=model_name), None
    except (SubmissionError, OSError) as exc:
        return Check(False, [f"error: {exc}"], None)
    report = validate_submission(sub, data_dir=data_dir)
    lines = [str(i) for i in report.issues if not (i.level == ERROR and is_submitter_issue(i))]
    if report.issues_omitted:
        lines.append(f"... and {report.issues_omitted} more issues")
    lines += [_results_line(report), _metadata_line(sub, report, source)]
    ok = report.ok if submission else report.results_ok
    if report.ok:
        verdict = "valid as a submission"
    elif report.results_ok:
        verdict = "results valid, metadata not ready" + (": INVALID as a submission"
                                                         if submission else "")
    else:
        verdict = "INVALID"
    lines.append(f"{path}: {verdict}")
    return Check(ok, lines, sub.to_bundle() if report.ok else None, report.results_ok,
                 report.metadata_ok)
