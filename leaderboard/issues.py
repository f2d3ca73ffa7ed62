"""Bounded bookkeeping of one validation: a capped issue log and a time budget.

A hostile upload can produce one issue per line (ten million lines of `1` are ten million
"wrong_type" issues) and can be slow on purpose. `IssueLog` keeps the first `cap` issues
and only counts the rest (by code and by level, so `ok` stays exact); `Budget` is one
wall-clock deadline shared by every stage of a validation, parsing included, and raises
`BudgetExceeded` where a stage cannot simply stop early.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator

from .schema import ERROR, ValidationIssue

MAX_ISSUES = 100


class IssueLog:
    """The first `cap` issues of a validation, and counts of all of them."""

    def __init__(self, cap: int = MAX_ISSUES) -> None:
        self.cap = cap
        self.kept: list[ValidationIssue] = []
        self.by_code: Counter[str] = Counter()
        self.by_level: Counter[str] = Counter()
        self._kept_errors = 0

    def append(self, issue: ValidationIssue) -> None:
        """Count `issue`; keep it while fewer than `cap` are kept, or in place of a kept
        non-error when it is an error (so the kept ones show why a submission failed)."""
        self.by_code[issue.code] += 1
        self.by_level[issue.level] += 1
        if len(self.kept) < self.cap:
            self.kept.append(issue)
            self._kept_errors += issue.level == ERROR
        elif issue.level == ERROR and self._kept_errors < len(self.kept):
            at = next(i for i in range(len(self.kept) - 1, -1, -1)
                      if self.kept[i].level != ERROR)
            self.kept[at] = issue
            self._kept_errors += 1

    def extend(self, issues: Iterable[ValidationIssue]) -> None:
        for issue in issues:
            self.append(issue)

    def merge(self, other: IssueLog) -> None:
        """Add the kept issues and the counts of `other` (whose omitted issues stay
        counted, not kept)."""
        for issue in other.kept:
            self.append(issue)
        for code, number in (other.by_code - Counter(i.code for i in other.kept)).items():
            self.by_code[code] += number
        for level, number in (other.by_level - Counter(i.level for i in other.kept)).items():
            self.by_level[level] += number

    @property
    def total(self) -> int:
        """Every issue counted, kept or not."""
        return sum(self.by_code.values())

    @property
    def omitted(self) -> int:
        """Issues counted but not kept."""
        return self.total - len(self.kept)

    @property
    def errors(self) -> int:
        """Issues of level "error" (they reject the submission), kept or not."""
        return self.by_level[ERROR]

    def has(self, code: str) -> bool:
        return self.by_code[code] > 0

    def __iter__(self) -> Iterator[ValidationIssue]:
        return iter(self.kept)

    def __len__(self) -> int:
        return len(self.kept)


class BudgetExceeded(RuntimeError):
    """The validation's time budget ran out in a stage that cannot finish partially."""


class Budget:
    """A deadline `seconds` from now (None: no deadline) on `time.monotonic()`."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def check(self, stage: str) -> None:
        """Raise `BudgetExceeded` naming `stage` once the deadline has passed."""
        if self.expired():
            raise BudgetExceeded(f"the validation time budget of {self.seconds} s ran out "
                                 f"while {stage}")
