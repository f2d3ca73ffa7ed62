"""The `Task` record: one problem with its gold answer, kept in separate fields."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Fields of a task record that are not folded into `Task.meta`.
CORE_FIELDS = ("id", "problem", "answer", "benchmark", "solution")


@dataclass(frozen=True)
class Task:
    """One problem of a benchmark or generator.

    `answer` (and `solution`) are kept apart from `problem` so that an environment can
    render the problem without ever showing the gold answer.

    Attributes:
        id: unique id within its task set, e.g. "aime24-I-01" or "procedural-modpow-0-17".
        problem: the statement (LaTeX-friendly text).
        answer: the gold final answer as a LaTeX string (integers without leading zeros).
        benchmark: canonical benchmark name, "procedural", or a file's stem.
        solution: a reference solution when the source has one.
        meta: the record's other fields (year, subject, level, answer_is_integer, extra, ...).
    """

    id: str
    problem: str
    answer: str
    benchmark: str
    solution: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.benchmark, self.id))

    @property
    def answer_is_integer(self) -> bool:
        """Whether the gold answer is a plain integer (the graders' fast path)."""
        flag = self.meta.get("answer_is_integer")
        if isinstance(flag, bool):
            return flag
        text = self.answer.strip()
        return text.lstrip("-").isdigit() and text.count("-") <= 1

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy: the core fields plus `meta` as a nested dict."""
        return {
            "id": self.id,
            "problem": self.problem,
            "answer": self.answer,
            "benchmark": self.benchmark,
            "solution": self.solution,
            "meta": copy.deepcopy(self.meta),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        """Inverse of `to_dict`."""
        return cls(
            id=data["id"],
            problem=data["problem"],
            answer=data["answer"],
            benchmark=data["benchmark"],
            solution=data.get("solution"),
            meta=copy.deepcopy(dict(data.get("meta") or {})),
        )
