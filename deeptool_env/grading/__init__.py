"""Symbolic answer grading for DeepTool Gym, built on math-verify.

Public API:
    grade(response, gold, *, benchmark=None, meta=None, timeout_s=10.0) -> Verdict
    grade_many(items, *, timeout_s=10.0, workers=None, mv_timeout=3) -> list[Verdict]
    extract_answer(response) -> str | None
    Verdict (frozen dataclass: correct, reason, extracted, explanation, normalized, cached)

Extraction policy: `extract`. Normalisation: `normalize`. Comparison rules: `compare` (exact
integers, rationals, text, tuples, unordered lists) and `symbolic` (sympy + math-verify).
Isolation: `pool` (worker processes with a hard per-item kill).
"""

from .extract import extract_answer
from .grader import clear_cache, grade, grade_many
from .options import GradeOptions
from .shared import shutdown_pool
from .verdict import REASONS, Verdict

__all__ = [
    "REASONS",
    "GradeOptions",
    "Verdict",
    "clear_cache",
    "extract_answer",
    "grade",
    "grade_many",
    "shutdown_pool",
]
