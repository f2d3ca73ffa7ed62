"""Shared pieces of the procedural families: the family signature and task builder."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from ..task import Task

#: Bumped whenever a family's output for a given (seed, index) changes.
GENERATOR_VERSION = 1

#: Difficulty levels every family accepts.
DIFFICULTIES = (1, 2, 3)

#: A family: `(rng, difficulty) -> Task`, drawing every random choice from `rng`.
Family = Callable[[random.Random, int], Task]

ANSWER_INTEGER = "Give the answer as a single integer."
ANSWER_FRACTION = "Give the exact value as an integer or as a fraction in lowest terms."


def make_task(family: str, difficulty: int, problem: str, answer: int | Fraction,
              **params: Any) -> Task:
    """A procedural task with an exact `answer` and the generator inputs in `meta["params"]`.

    The id is `procedural-<family>`; `ProceduralTaskSet` appends the seed and index.
    """
    check_difficulty(difficulty)
    text = fraction_latex(answer) if isinstance(answer, Fraction) else str(answer)
    is_integer = not isinstance(answer, Fraction) or answer.denominator == 1
    return Task(
        id=f"procedural-{family}", problem=problem, answer=text, benchmark="procedural",
        meta={"family": family, "difficulty": difficulty, "answer_is_integer": is_integer,
              "generator_version": GENERATOR_VERSION, "params": params},
    )


def check_difficulty(difficulty: int) -> int:
    """Validate a difficulty level (1 easy, 2 medium, 3 hard)."""
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {difficulty!r}")
    return difficulty


def pick(difficulty: int, easy: Any, medium: Any, hard: Any) -> Any:
    """The parameter of the given difficulty level."""
    return (easy, medium, hard)[check_difficulty(difficulty) - 1]


def log_uniform(rng: random.Random, low: int, high: int) -> int:
    """An integer in [low, high] whose order of magnitude is uniform (low >= 1)."""
    value = int(math.exp(rng.uniform(math.log(low), math.log(high + 1))))
    return min(max(value, low), high)


def fraction_latex(value: Fraction) -> str:
    """`-\\frac{p}{q}` for a non-integer fraction, plain digits for an integer."""
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


def linear_form(coefficients: list[int], names: list[str]) -> str:
    """LaTeX of sum(c * name), e.g. `3x - y + 2z`; zero terms are left out."""
    parts: list[str] = []
    for coefficient, name in zip(coefficients, names, strict=True):
        if coefficient == 0:
            continue
        magnitude = "" if abs(coefficient) == 1 else str(abs(coefficient))
        if not parts:
            parts.append(f"{'-' if coefficient < 0 else ''}{magnitude}{name}")
        else:
            parts.append(f"{'-' if coefficient < 0 else '+'} {magnitude}{name}")
    return " ".join(parts) if parts else "0"
