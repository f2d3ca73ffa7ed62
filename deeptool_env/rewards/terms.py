"""The action-centric process reward: one small function per term.

Lenient on the thinking, strict on the action. Every term looks at one turn (`Turn`) and
what the episode has done so far (`History`), and returns a signed amount already
multiplied by its weight in `RewardConfig`. Terms use the *clean* tool result (what really
ran), never the perturbed text the agent was shown. What a code turn earns is only held:
`settlement.py` pays it once the answer shows which calls it was derived from.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ..sandbox.result import STATUSES
from .config import RewardConfig
from .dataflow import Call, answer_is_computed, contributing, relates_to_problem
from .values import canonical_values, informative

#: Real tool statuses of a call that did not run to the end (every status but "ok").
FAILED = frozenset(STATUSES) - {"ok"}


@dataclass(frozen=True)
class Turn:
    """What one assistant turn did, as the reward needs it."""

    kind: str  # "code", "answer" or "invalid"
    parse_error: str | None = None
    code: str | None = None
    status: str | None = None  # real sandbox status; None when a perturbation altered the code
    stdout: str = ""  # the real (clean) output of the code
    perturbed: bool = False  # the agent was shown a perturbed observation of this turn
    injected: frozenset[str] = frozenset()  # values the perturbation introduced
    answer: str | None = None  # the extracted final answer, for answer turns


@dataclass
class History:
    """What earlier turns of the episode did."""

    executed: set[str] = field(default_factory=set)
    produced: set[str] = field(default_factory=set)  # values printed by code that ran ok
    injected: set[str] = field(default_factory=set)  # values only perturbations showed
    previous: Turn | None = None
    tool_calls: int = 0
    reference: set[str] = field(default_factory=set)  # informative values of the solution
    problem: set[str] = field(default_factory=set)  # numbers of the problem statement
    calls: list[Call] = field(default_factory=list)  # data-flow facts of each code turn


def normalize_code(code: str) -> str:
    """Code without comments, blank lines or formatting differences (AST dump).

    Code the parser cannot take (a syntax error, nesting too deep for the parser or for
    `ast.dump`, NULs, lone surrogates) falls back to its stripped lines."""
    try:
        return ast.dump(ast.parse(code))
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return "\n".join(line.strip() for line in code.splitlines() if line.strip())


def format_term(turn: Turn, history: History, w: RewardConfig) -> float:
    """+format for a well-formed turn; a void turn (no action) or a malformed one costs."""
    if turn.kind != "invalid":
        return w.format
    return -w.void_penalty if turn.parse_error == "no_action" else -w.malformed_penalty


def execution_term(turn: Turn, history: History, w: RewardConfig) -> float:
    """+execution when the code really ran ok, a cost when it failed."""
    if turn.kind != "code" or turn.status is None:
        return 0.0
    return w.execution if turn.status == "ok" else -w.execution_error


def _previous_was_suspect(history: History) -> bool:
    prev = history.previous
    return prev is not None and prev.kind == "code" and (prev.perturbed or prev.status in FAILED)


def novelty_term(turn: Turn, history: History, w: RewardConfig) -> float:
    """+novelty for code not run before that ran ok; a plain re-run costs, unless it checks
    a suspect result (then `recovery` pays for it). Failing code earns no novelty, so a
    turn that errors is always a net loss."""
    if turn.kind != "code" or not turn.code:
        return 0.0
    if turn.status != "ok" and turn.status is not None:
        return 0.0
    if normalize_code(turn.code) not in history.executed:
        return w.novelty
    return 0.0 if _previous_was_suspect(history) else -w.rerun_penalty


def _trusts_injected(turn: Turn, history: History) -> bool:
    text = turn.code if turn.kind == "code" else turn.answer
    if not text or not history.injected:
        return False
    used = informative(canonical_values(text))
    return bool(used & (history.injected - history.produced))


def recovery_term(turn: Turn, history: History, w: RewardConfig) -> float:
    """After a perturbed observation: checking it (re-running the code, or recomputing a
    value it really printed) pays `recovery`; after the agent's own error:
    changed code that runs pays only `error_recovery`, less than the error cost, so that
    crashing on purpose to be paid for the fix never pays. Building on a value that only a
    perturbation showed costs."""
    if _trusts_injected(turn, history):
        return -w.trust_penalty
    if not _previous_was_suspect(history) or turn.kind != "code" or turn.status != "ok":
        return 0.0
    prev = history.previous
    assert prev is not None
    if prev.status in FAILED and not prev.perturbed:
        changed = normalize_code(turn.code or "") != normalize_code(prev.code or "")
        return w.error_recovery if changed else 0.0
    return w.recovery if _checks(turn, prev) else 0.0


def _checks(turn: Turn, prev: Turn) -> bool:
    """`turn` re-runs the suspect code, or computes a value the suspect run really printed
    (a new unrelated call is no check)."""
    if normalize_code(turn.code or "") == normalize_code(prev.code or ""):
        return True
    computed = canonical_values(turn.stdout) - canonical_values(turn.code or "")
    return bool(informative(computed) & informative(canonical_values(prev.stdout)))


def grounding_term(turn: Turn, history: History, w: RewardConfig) -> float:
    """+grounding when every number of the final answer was computed by the agent's own
    successful code, not spelled out in it (a value copied from an injected hint does not
    count) nor one of many printed candidates, and the calls it came from use a number of
    the problem (so `print(41+1)` does not ground 42)."""
    if turn.kind != "answer" or not turn.answer:
        return 0.0
    values = canonical_values(turn.answer)
    if not answer_is_computed(history.calls, values):
        return 0.0
    used = contributing(history.calls, values)
    return w.grounding if relates_to_problem(history.calls, used, history.problem) else 0.0


def reference_term(turn: Turn, history: History, w: RewardConfig) -> float:
    """+reference when the code's real output contains an informative value of the task's
    reference solution (intermediate or final), unless it printed more than
    `max_printed_values` of them (a list of candidates)."""
    if turn.kind != "code" or turn.status != "ok" or not history.reference:
        return 0.0
    printed = informative(canonical_values(turn.stdout))
    if len(printed) > w.max_printed_values:
        return 0.0
    return w.reference if printed & history.reference else 0.0


def budget_term(turn: Turn, history: History, w: RewardConfig) -> float:
    """`call_cost` for every tool call, plus `budget_cost` beyond `budget_calls` (as in OTC).
    A call the answer does not use earns nothing, so it is always a net loss."""
    if turn.kind != "code":
        return 0.0
    beyond = history.tool_calls + 1 > w.budget_calls
    return -w.call_cost - (w.budget_cost if beyond else 0.0)


TERMS = {
    "format": format_term,
    "execution": execution_term,
    "novelty": novelty_term,
    "recovery": recovery_term,
    "grounding": grounding_term,
    "reference": reference_term,
    "budget": budget_term,
}
