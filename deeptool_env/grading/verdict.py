"""The result record of one grading call (`Verdict`) and the internal `Outcome` of a comparison."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, NamedTuple

Reason = Literal["match", "mismatch", "no_answer", "parse_error", "timeout"]

REASONS: tuple[str, ...] = (
    "match",  # the extracted answer is equivalent to the gold answer
    "mismatch",  # an answer was extracted and compared, and it is not equivalent
    "no_answer",  # nothing in the agent's own text counts as a final answer (see `extract_answer`)
    "parse_error",  # the answer (or the gold) could not be read as mathematics, or a worker died
    "timeout",  # the comparison ran past its limit (math-verify's alarm or the pool's hard kill)
)


class Outcome(NamedTuple):
    """What a comparison decided: `correct`, a `reason` from `REASONS`, and how it decided."""

    correct: bool
    reason: str
    explanation: str


@dataclass(frozen=True)
class Verdict:
    """The grade of one response against one gold answer.

    Attributes:
        correct: True only for reason "match"; every other reason counts as wrong.
        reason: one of `REASONS`.
        extracted: the final-answer text taken from the response (None for "no_answer").
        explanation: how the decision was made, e.g. "integer equality", "exact rational",
            "math-verify", "unordered list (2 items)", "text (case-insensitive)",
            "hard timeout after 10.0 s".
        normalized: the extracted answer after normalization (what was compared and cached).
        cached: True when the result came from the grader's cache.
    """

    correct: bool
    reason: Reason
    extracted: str | None = None
    explanation: str = ""
    normalized: str | None = None
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of all fields (for logs and leaderboard records)."""
        return asdict(self)

    @classmethod
    def from_outcome(
        cls, outcome: Outcome, extracted: str | None, normalized: str | None, cached: bool = False
    ) -> Verdict:
        """Build a verdict from a comparison outcome and the extraction it was made on."""
        return cls(
            correct=bool(outcome.correct) and outcome.reason == "match",
            reason=outcome.reason,  # type: ignore[arg-type]
            extracted=extracted,
            explanation=outcome.explanation,
            normalized=normalized,
            cached=cached,
        )
