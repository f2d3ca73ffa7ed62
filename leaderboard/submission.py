"""A leaderboard submission: metadata plus the harness's per-sample JSONL, and its bundle.

Sources:
    `leaderboard.results_dir.load_submission`   a `deeptool-bench run` directory, a bundle
        file or bundle bytes.
    `Submission.from_files(metadata_bytes, samples_bytes)`   the full metadata JSON (the
        `SubmissionMetadata` fields) and the raw samples.jsonl bytes, as a server receives them.
    `Submission.from_bundle(data)`   a bundle.

Bundle format (`to_bundle`, one file to upload): a gzip-compressed POSIX tar archive with
exactly two regular files, `submission.json` (the full metadata, i.e. what `from_files`
takes) and `samples.jsonl` (byte-for-byte the run's file, so line numbers in issues match the
submitter's file). `to_bundle` is deterministic (mtime 0, uid 0, sorted members): the same
submission always gives the same bytes. Any other member, link or duplicate is refused.

Limits (`Limits`, configurable) are checked on sizes before anything is parsed: a file's size
on disk, a tar member's declared size, the number of lines, each line's length. Exceeding a
file limit raises `SubmissionError` (code "too_large"); an unreadable bundle or results
directory raises `SubmissionError` too. Problems inside the content (bad JSON on line 12, a
missing field) are not exceptions: they are `Submission.issues` (an `IssueLog`: the first 100
are kept, all are counted), reported by `validate_submission` with the rest. Parsing checks
the validation's `Budget` every `BUDGET_EVERY` lines (`BudgetExceeded` once it ran out).

Replays are recognised by `content_sha256`: the digest of the canonical metadata JSON and of
every parsed sample record in canonical JSON, sorted by (benchmark, problem, sample). It does
not depend on the compression, the archive format, the JSON layout or the line order.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from benchmarks.records import SAMPLES_FILE, SampleRecord

from .issues import Budget, IssueLog
from .schema import (
    MetadataCheck,
    RunSettings,
    SubmissionMetadata,
    ValidationIssue,
    check_metadata,
    parse_sample,
)

BUNDLE_METADATA = "submission.json"
BUNDLE_SAMPLES = SAMPLES_FILE
MiB = 1 << 20
BUDGET_EVERY = 1024  # lines parsed between two checks of the time budget
CONTENT_VERSION = b"deeptool-submission-content-v1\n"


@dataclass(frozen=True)
class Limits:
    """Size limits in bytes (uncompressed) and lines, checked before parsing. `max_lines`:
    the six benchmarks at k=128 are 167,040 samples, and 64 MiB cannot hold many more real
    records (a minimal one is about 350 bytes)."""

    samples_bytes: int = 64 * MiB
    metadata_bytes: int = 64 * 1024
    line_bytes: int = 2 * MiB
    max_lines: int = 200_000


DEFAULT_LIMITS = Limits()


class SubmissionError(ValueError):
    """The submission cannot be read at all (too large, not a bundle, files missing)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.issue = ValidationIssue(code, message)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str | bytes) -> Any:
    """`json.loads` that rejects NaN and Infinity (they would poison every mean) and raises
    ValueError, not RecursionError, on absurdly nested input."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def metadata_from_bytes(raw: bytes) -> tuple[dict[str, Any], MetadataCheck]:
    """Decode and check metadata bytes: (the decoded object or {}, the check's outcome)."""
    try:
        data = loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return {}, MetadataCheck(None, None, [ValidationIssue(
            "bad_json", f"metadata: not valid UTF-8 JSON: {exc}", field="$")])
    return (data if isinstance(data, dict) else {}), check_metadata(data)


def too_large(what: str, size: int, limit: int) -> SubmissionError:
    return SubmissionError("too_large", f"{what} is {size} bytes, over the limit of {limit} "
                           "bytes; nothing was parsed")


@dataclass
class Submission:
    """A parsed submission. `records[i]` came from line `lines[i]` of samples.jsonl; lines
    that failed the schema are left out and explained in `issues`. `metadata` is None when
    the metadata failed its schema (`raw_metadata` then holds what was sent); `settings` is
    the run's part of it, set whenever that part passed (the results are checked against
    it), and `metadata_issues` are the metadata's issues; `n_lines` counts the non-blank
    lines."""

    metadata: SubmissionMetadata | None
    raw_metadata: dict[str, Any]
    metadata_bytes: bytes
    samples_bytes: bytes
    records: list[SampleRecord] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    issues: IssueLog = field(default_factory=IssueLog)
    n_lines: int = 0
    settings: RunSettings | None = None
    metadata_issues: list[ValidationIssue] = field(default_factory=list)

    @property
    def meta(self) -> dict[str, Any]:
        """The metadata as a plain dict (the checked one when valid, else as sent)."""
        return self.metadata.to_dict() if self.metadata else dict(self.raw_metadata)

    def content_sha256(self) -> str:
        """The digest replays are recognised by (see the module docstring)."""
        digest = hashlib.sha256(CONTENT_VERSION)
        digest.update(_canonical(self.meta) + b"\n")
        for record in sorted(self.records, key=lambda r: r.key):
            digest.update(_canonical(record.to_dict()) + b"\n")
        return digest.hexdigest()

    @classmethod
    def from_files(cls, metadata_bytes: bytes, samples_bytes: bytes, *,
                   limits: Limits = DEFAULT_LIMITS, budget: Budget | None = None
                   ) -> Submission:
        """Parse full metadata JSON and samples.jsonl bytes (sizes and the number of lines
        are checked first)."""
        if len(metadata_bytes) > limits.metadata_bytes:
            raise too_large("the metadata", len(metadata_bytes), limits.metadata_bytes)
        if len(samples_bytes) > limits.samples_bytes:
            raise too_large(SAMPLES_FILE, len(samples_bytes), limits.samples_bytes)
        lines = samples_bytes.count(b"\n") + (not samples_bytes.endswith(b"\n"))
        if lines > limits.max_lines:
            raise SubmissionError("too_large", f"{SAMPLES_FILE} has {lines} lines, over the "
                                  f"limit of {limits.max_lines}; nothing was parsed")
        raw, checked = metadata_from_bytes(metadata_bytes)
        sub = cls(checked.metadata, raw, bytes(metadata_bytes), bytes(samples_bytes),
                  settings=checked.run, metadata_issues=list(checked.issues))
        sub.issues.extend(checked.issues)
        sub._parse_samples(limits, budget or Budget(None))
        return sub

    def _parse_samples(self, limits: Limits, budget: Budget) -> None:
        where = "samples.jsonl line"
        for number, raw in enumerate(self.samples_bytes.split(b"\n"), start=1):
            if number % BUDGET_EVERY == 0:
                budget.check(f"parsing {SAMPLES_FILE} (line {number})")
            if not raw.strip():
                continue
            self.n_lines += 1
            if len(raw) > limits.line_bytes:
                self.issues.append(ValidationIssue(
                    "line_too_long", f"{where} {number}: {len(raw)} bytes, over the per-line "
                    f"limit of {limits.line_bytes} bytes; not parsed", number))
                continue
            try:
                data = loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                self.issues.append(ValidationIssue(
                    "bad_encoding", f"{where} {number}: not valid UTF-8 ({exc.reason} at byte "
                    f"{exc.start})", number))
                continue
            except ValueError as exc:
                self.issues.append(ValidationIssue(
                    "bad_json", f"{where} {number}: not valid JSON ({exc})", number))
                continue
            record, problems = parse_sample(data, number)
            self.issues.extend(problems)
            if record is not None:
                self.records.append(record)
                self.lines.append(number)

    def to_bundle(self) -> bytes:
        """The single-file form (see the module docstring); deterministic."""
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, \
                tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in ((BUNDLE_SAMPLES, self.samples_bytes),
                               (BUNDLE_METADATA, self.metadata_bytes)):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    @classmethod
    def from_bundle(cls, data: bytes, *, limits: Limits = DEFAULT_LIMITS,
                    budget: Budget | None = None) -> Submission:
        """Read a bundle made by `to_bundle`. The archive is read as a stream that stops at
        the limits (a gzip bomb costs at most that much), and member sizes are checked from
        their headers before their content is read."""
        wanted = {BUNDLE_METADATA: limits.metadata_bytes, BUNDLE_SAMPLES: limits.samples_bytes}
        found: dict[str, bytes] = {}
        stream = _Bounded(gzip.GzipFile(fileobj=io.BytesIO(data)) if data[:2] == b"\x1f\x8b"
                          else io.BytesIO(data), sum(wanted.values()) + MiB)
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for info in tar:
                    if info.name not in wanted or info.name in found or not info.isreg():
                        raise SubmissionError("bad_bundle", f"bundle member {info.name!r} is "
                                              f"not expected: a bundle holds exactly the "
                                              f"regular files {', '.join(sorted(wanted))}")
                    if info.size > wanted[info.name]:
                        raise too_large(info.name, info.size, wanted[info.name])
                    handle = tar.extractfile(info)
                    assert handle is not None
                    found[info.name] = handle.read()
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise SubmissionError("bad_bundle", f"not a submission bundle (a .tar.gz of "
                                  f"{BUNDLE_METADATA} and {BUNDLE_SAMPLES}): {exc}") from None
        missing = sorted(set(wanted) - set(found))
        if missing:
            raise SubmissionError("bad_bundle", f"the bundle has no {', '.join(missing)}")
        return cls.from_files(found[BUNDLE_METADATA], found[BUNDLE_SAMPLES], limits=limits,
                              budget=budget)


def _canonical(data: Any) -> bytes:
    """JSON with sorted keys, no whitespace and UTF-8 text: one spelling per value."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


class _Bounded(io.RawIOBase):
    """A read-only stream that fails once more than `limit` bytes were read from `inner`."""

    def __init__(self, inner: Any, limit: int) -> None:
        self.inner, self.left = inner, limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        want = self.left + 1 if size is None or size < 0 else min(size, self.left + 1)
        chunk = self.inner.read(want)
        self.left -= len(chunk)
        if self.left < 0:
            raise SubmissionError("too_large", "the bundle unpacks to more than the size "
                                  "limits allow; nothing was parsed")
        return chunk


def to_bundle(submission: Submission) -> bytes:
    """`submission.to_bundle()`."""
    return submission.to_bundle()


def from_bundle(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Submission:
    """`Submission.from_bundle(data)`."""
    return Submission.from_bundle(data, limits=limits)
