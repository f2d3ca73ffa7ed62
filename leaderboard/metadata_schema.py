"""The typed submission metadata (`SubmissionMetadata`, from JSON) and its check: every
field's type and bounds, the datasets' digests, the decoding settings, claimed metrics.

The metadata has two parts: the run's settings (`RunSettings`, from run.json: what the
results are checked against) and the submitter's description (`SUBMITTER_FIELDS`: model
name and link, notes, claims). `check_metadata` keeps them apart, so a run whose model name
is still missing can have its results validated, while only complete metadata is accepted."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.metrics import RunSummary
from deeptool_env.perturbations import PRESETS
from deeptool_env.tasks import BENCHMARKS

from .field_checks import ERROR, WARNING, FieldChecker, ValidationIssue, json_kind

MAX_MODEL_NAME = 200
MAX_NOTES = 2000
MAX_SHORT_TEXT = 200
MAX_K = 1024  # bound for k and max_turns (coverage checks build range(k) per problem)
MAX_EPISODE_TOKENS = 10**7  # bound for the declared max_episode_tokens
TOLERANCE = 1e-6  # how far a claimed metric may be from the server's
#: Per-benchmark metrics a submitter may claim (fields of `benchmarks.metrics.BenchmarkSummary`).
CLAIMABLE = ("avg_at_k", "pass_at_1", "pass_at_k", "maj_at_k", "no_answer_rate",
             "tokens_per_problem", "tokens_per_correct", "tool_calls_per_problem",
             "tool_error_rate", "tool_timeout_rate", "parse_failure_rate")
_HASH = re.compile(r"[0-9a-f]{64}")
_URL = re.compile(r"https?://[^\s/?#<>\"\x00-\x1f\x7f]+[^\s<>\"\x00-\x1f\x7f]*",
                  re.IGNORECASE)


@dataclass(frozen=True)
class Decoding:
    """Sampling settings of the model (any may be unknown)."""

    temperature: float | None = None
    top_p: float | None = None
    max_new_tokens: int | None = None


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """The settings of the run that made the samples (run.json's part of the metadata):
    what the results are checked against, whoever submits them. `datasets` maps each
    submitted benchmark to the sha256 of the data file the run used; `max_episode_tokens`
    (the env's token budget) is checked when declared."""

    agent: str
    k: int
    max_turns: int
    perturbation: str
    package_version: str
    datasets: dict[str, str]
    max_episode_tokens: int | None = None
    decoding: Decoding | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form; optional fields that are None are left out."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True, kw_only=True)
class SubmissionMetadata(RunSettings):
    """What a submission says about its run: the run's settings plus the submitter's own
    description (`SUBMITTER_FIELDS`): the model's name and link, notes, and `claimed`, the
    optional self-reported metrics (`{benchmark: {metric: value}, "mean": value}`), which are
    only compared, never shown."""

    model_name: str
    model_link: str | None = None
    claimed: dict[str, Any] | None = None
    notes: str | None = None


@dataclass(frozen=True)
class MetadataCheck:
    """The outcome of checking metadata: `metadata` when it has no issue; `run` (the run's
    settings) when none of the issues is about them, so the results can be validated while
    the submitter's fields are still incomplete."""

    metadata: SubmissionMetadata | None
    run: RunSettings | None
    issues: list[ValidationIssue]


_META_REQUIRED = ("model_name", "agent", "k", "max_turns", "perturbation", "package_version",
                  "datasets")
_META_OPTIONAL = ("model_link", "max_episode_tokens", "decoding", "claimed", "notes")
#: The fields that describe the submission rather than the run (run.json has none of them
#: but `model`; a results directory's metadata.json or `--model-name` supplies them).
SUBMITTER_FIELDS = ("model_name", "model_link", "claimed", "notes")
RUN_FIELDS = tuple(f for f in _META_REQUIRED + _META_OPTIONAL if f not in SUBMITTER_FIELDS)


def is_submitter_issue(issue: ValidationIssue) -> bool:
    """Whether `issue` is about the submitter's fields (model name, link, notes, claimed
    metrics), not about the run's results: those do not make the results invalid."""
    return issue.line is None and (issue.field or "").split(".", 1)[0] in SUBMITTER_FIELDS


def parse_metadata(data: Any) -> tuple[SubmissionMetadata | None, list[ValidationIssue]]:
    """Check a decoded metadata object; the typed record when it has no issue, else None."""
    found = check_metadata(data)
    return found.metadata, found.issues


def check_metadata(data: Any) -> MetadataCheck:
    """Check a decoded metadata object field by field (see `MetadataCheck`)."""
    check = FieldChecker("metadata")
    if not isinstance(data, dict):
        check.add("wrong_type", "$", f"must be a JSON object, got {json_kind(data)}")
        return MetadataCheck(None, None, check.issues)
    check.keys(data, _META_REQUIRED, _META_OPTIONAL)
    got = {k: v for k, v in data.items() if k in _META_REQUIRED + _META_OPTIONAL}
    for key, limit in (("model_name", MAX_MODEL_NAME), ("agent", MAX_SHORT_TEXT),
                       ("package_version", MAX_SHORT_TEXT), ("notes", MAX_NOTES)):
        if key in got and check.typed(got, key, "str", key, nullable=key == "notes"):
            if got[key] is not None and len(got[key]) > limit:
                check.add("invalid_value", key, f"has {len(got[key])} characters, at most "
                          f"{limit} are allowed")
            elif key != "notes" and not got[key].strip():
                check.add("invalid_value", key, "must not be empty")
    for key in ("k", "max_turns"):
        if key in got and check.typed(got, key, "int", key) and not 1 <= got[key] <= MAX_K:
            check.add("invalid_value", key, f"must be in 1..{MAX_K}, got {got[key]}")
    if got.get("max_episode_tokens") is not None and check.typed(
            got, "max_episode_tokens", "int", "max_episode_tokens") \
            and not 1 <= got["max_episode_tokens"] <= MAX_EPISODE_TOKENS:
        check.add("invalid_value", "max_episode_tokens", f"must be in 1..{MAX_EPISODE_TOKENS}, "
                  f"got {got['max_episode_tokens']}")
    if "perturbation" in got and check.typed(got, "perturbation", "str", "perturbation"):
        if got["perturbation"] not in PRESETS:
            check.add("invalid_value", "perturbation", f"is {got['perturbation']!r}, not one of "
                      f"the presets {', '.join(PRESETS)}")
    if "datasets" in got:
        _check_datasets(check, got["datasets"])
    if got.get("model_link") is not None and check.typed(got, "model_link", "str", "model_link"):
        link = got["model_link"]
        if len(link) > 2000 or not _URL.fullmatch(link):
            check.add("invalid_value", "model_link", f"must be an http:// or https:// URL, got "
                      f"{link[:80]!r}")
    decoding = (_check_decoding(check, got["decoding"]) if got.get("decoding") is not None
                else None)
    if got.get("claimed") is not None:
        _check_claimed(check, got["claimed"])
    got["decoding"] = decoding
    run = None
    if all(is_submitter_issue(issue) for issue in check.issues):
        run = RunSettings(**{key: got[key] for key in RUN_FIELDS if key in got})
    if check.issues:
        return MetadataCheck(None, run, check.issues)
    meta = SubmissionMetadata(**got)
    return MetadataCheck(meta, meta, [])


def _check_datasets(check: FieldChecker, datasets: Any) -> None:
    if not isinstance(datasets, dict) or not datasets:
        check.add("wrong_type", "datasets", "must be a non-empty object {benchmark: sha256}")
        return
    for name, digest in datasets.items():
        if name not in BENCHMARKS:
            check.add("invalid_value", f"datasets.{name}", f"names an unknown benchmark; "
                      f"known: {', '.join(BENCHMARKS)}")
        elif not isinstance(digest, str) or not _HASH.fullmatch(digest):
            check.add("invalid_value", f"datasets.{name}", "must be a sha256 hex digest "
                      f"(64 lower-case hex characters), got {json.dumps(digest)[:80]}")


_DECODING = {"temperature": ("float", lambda v: v >= 0, ">= 0"),
             "top_p": ("float", lambda v: 0 < v <= 1, "in (0, 1]"),
             "max_new_tokens": ("int", lambda v: v >= 1, ">= 1")}


def _check_decoding(check: FieldChecker, decoding: Any) -> Decoding | None:
    if not isinstance(decoding, dict):
        check.add("wrong_type", "decoding", f"must be an object, got {json_kind(decoding)}")
        return None
    check.keys(decoding, (), tuple(_DECODING), "decoding.")
    for key, (kind, valid, rule) in _DECODING.items():
        path = f"decoding.{key}"
        if key in decoding and check.typed(decoding, key, kind, path, nullable=True):
            if decoding[key] is not None and not valid(decoding[key]):
                check.add("invalid_value", path, f"must be {rule}, got {decoding[key]}")
    return Decoding(**{key: decoding.get(key) for key in _DECODING})


def _check_claimed(check: FieldChecker, claimed: Any) -> None:
    if not isinstance(claimed, dict):
        check.add("wrong_type", "claimed", f"must be an object, got {json_kind(claimed)}")
        return
    for name, value in claimed.items():
        path = f"claimed.{name}"
        if name == "mean":
            check.typed(claimed, name, "float", path)
        elif name not in BENCHMARKS:
            check.add("unknown_field", path, f"is neither 'mean' nor a benchmark "
                      f"({', '.join(BENCHMARKS)})")
        elif not isinstance(value, dict):
            check.add("wrong_type", path, f"must be an object {{metric: number}}, got "
                      f"{json_kind(value)}")
        else:
            for metric in value:
                if metric not in CLAIMABLE:
                    check.add("unknown_field", f"{path}.{metric}", f"is not a claimable metric "
                              f"(known: {', '.join(CLAIMABLE)})")
                else:
                    check.typed(value, metric, "float", f"{path}.{metric}")


def compare_claims(claimed: dict[str, Any] | None, summary: RunSummary | None, *,
                   strict: bool = True) -> list[ValidationIssue]:
    """A "claim_mismatch" (an error when `strict`, else a warning) for every claimed metric
    further than `TOLERANCE` from the server's `summary` (None: nothing could be graded)."""
    if not claimed:
        return []
    level, issues = ERROR if strict else WARNING, []
    pairs: list[tuple[str, float, float | None]] = []
    for name, claim in claimed.items():
        if name == "mean":
            pairs.append(("mean", claim, summary.mean_avg_at_k_unweighted if summary else None))
            continue
        bench = summary.benchmarks.get(name) if summary else None
        pairs += [(f"{name}.{metric}", value, getattr(bench, metric) if bench else None)
                  for metric, value in claim.items()]
    for path, value, actual in pairs:
        if actual is None or abs(value - actual) > TOLERANCE:
            got = "nothing (no graded samples)" if actual is None else repr(actual)
            issues.append(ValidationIssue("claim_mismatch", f"metadata: field 'claimed.{path}' "
                          f"is {value!r} but the server recomputes {got}",
                          field=f"claimed.{path}", level=level))
    return issues
