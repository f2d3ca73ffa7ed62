"""Which anomalies go where in a trajectory, and the recovery turn's thought.

Two families, both followed by a recovery turn that runs the teacher's original code:

- extrinsic (tool-side): the code runs as written but the env shows a perturbed result
  (timeout, transient error, truncated, empty, corrupted numbers, ...); the recovery turn
  notices and re-runs, and receives the true output.
- intrinsic (code-side): the turn's code itself is corrupted (a syntax error, a wrong
  constant), runs for real and gets the real error or wrong result; the recovery turn
  fixes it (the original code).

Every choice comes from a `random.Random` seeded by (seed, task id), so a teacher reply is
always perturbed the same way. The code corruptions are the env's own intrinsic kinds.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from deeptool_env.perturbations import KIND_SPECS, Context
from deeptool_env.seeding import derived_rng

from .config import SynthesisConfig
from .parse import TeacherTurn


def task_rng(seed: int, task_id: str, purpose: str) -> random.Random:
    """A `random.Random` that depends only on (seed, task id, purpose)."""
    return derived_rng("deeptool-synthesis", seed, task_id, purpose)


@dataclass(frozen=True)
class Injection:
    """An anomaly planned at one teacher code turn (`turn`, an index into the turns)."""

    turn: int
    family: str  # "extrinsic" | "intrinsic"
    kinds: tuple[str, ...]  # extrinsic: kinds to try, in order; intrinsic: the kind applied
    code: str | None = None  # intrinsic: the corrupted code that runs instead
    params: dict[str, Any] = field(default_factory=dict)


def _intrinsic(code: str, turn: int, config: SynthesisConfig, rng: random.Random
               ) -> Injection | None:
    """Corrupt `code` with the first intrinsic kind (seeded order) that applies to it."""
    kinds = list(config.intrinsic_kinds)
    rng.shuffle(kinds)
    for name in kinds:
        applied = KIND_SPECS[name].apply(code, random.Random(rng.random()),
                                         Context(severity=config.severity, code=code))
        if applied is not None and applied[0] != code:
            return Injection(turn, "intrinsic", (name,), applied[0], dict(applied[1]))
    return None


def plan_injections(turns: list[TeacherTurn], config: SynthesisConfig,
                    rng: random.Random) -> list[Injection]:
    """The anomalies of one trajectory: each code turn with probability `perturb_rate`,
    at most `max_perturbations`, and only while the recovery turns fit in `max_turns`."""
    room = min(config.max_perturbations, config.max_turns - len(turns))
    if not config.perturbing or room <= 0:
        return []
    plan: list[Injection] = []
    for index, turn in enumerate(turns):
        if turn.kind != "code" or len(plan) >= room or rng.random() >= config.perturb_rate:
            continue
        injection = None
        if config.intrinsic_kinds and rng.random() < config.intrinsic_share:
            injection = _intrinsic(turn.body, index, config, rng)
        if injection is None and config.extrinsic_kinds:
            kinds = list(config.extrinsic_kinds)
            rng.shuffle(kinds)
            injection = Injection(index, "extrinsic", tuple(kinds))
        if injection is not None:
            plan.append(injection)
    return plan


TEMPLATES: dict[str, str] = {
    "tool_timeout": "The tool reports a timeout, but this computation should take well "
                    "under a second, so the result I got is incomplete. I will run the same "
                    "cell again to get its full output.",
    "transient_error": "The sandbox returned an error from the tool itself, not from my "
                       "code, so I got no result. I will run the same cell again.",
    "truncated_output": "That output looks cut off, so I cannot rely on it. Let me run the "
                        "cell again and read the complete result.",
    "empty_output": "The cell printed nothing, although my code prints its results. "
                    "Something went wrong with the tool; I will run it again.",
    "numeric_corruption": "Before I build on these numbers, let me run the same code once "
                          "more to double-check them; a glitch in the tool would mislead me.",
    "duplicated_lines": "Some lines of that output appear twice, which my code does not "
                        "print. Let me run it again to get a clean result.",
    "reordered_lines": "The lines of that output are not in the order my code prints them. "
                       "I will run it again to be sure of the values.",
    "fake_traceback": "That traceback does not fit my code, which should run fine. Let me "
                      "run it once more before changing anything.",
    "injected_hint": "The output contains a line that my code never prints, so I will not "
                     "trust it. Let me run the cell again.",
    "syntax_error": "The cell did not run: Python reports a syntax error. Line {line} should "
                    "read `{original_line}`. I will fix it and run the cell again.",
    "wrong_constant": "Looking at my code again, I wrote {new} on line {line} where it "
                      "should be {old}. Let me fix the constant and compute again.",
}


def template_thought(kind: str, params: dict[str, Any]) -> str:
    """The recovery thought written by template for an anomaly of `kind`."""
    text = TEMPLATES.get(kind, "Something is off with that result. Let me run the cell "
                               "again to check it.")
    values = {key: str(value).strip() for key, value in params.items()}
    return text.format_map(_Missing(values))


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def what_happened(kind: str, params: dict[str, Any]) -> str:
    """The hidden truth about an anomaly, for the teacher writing the recovery thought."""
    if kind == "syntax_error":
        return (f"the solver made a typo: line {params.get('line')} of its code should be "
                f"`{params.get('original_line')}` but it wrote `{params.get('new_line')}`")
    if kind == "wrong_constant":
        return (f"the solver wrote the number {params.get('new')} instead of "
                f"{params.get('old')} on line {params.get('line')} of its code")
    return (f"the code is correct and ran fine, but the tool misreported its result "
            f"({KIND_SPECS[kind].effect}); running it again gives the true output")


_FORBIDDEN = re.compile(r"<\s*/?\s*(code|answer|output)\b|\\boxed|```", re.I)


def clean_thought(text: str, *, max_chars: int = 1200) -> str | None:
    """A teacher's recovery thought made safe to put in `<think>`, or None if unusable."""
    text = re.sub(r"</?think>", "", text or "", flags=re.I).strip()
    if not text or len(text) > max_chars or _FORBIDDEN.search(text):
        return None
    return text
