"""`PerturbationPlan`: which perturbation kinds fire on which turns of one episode.

A trainer (trajectory synthesis, a robustness study) that needs a given anomaly on a given
turn passes a plan to `reset`:

    env.reset(seed=0, options={"perturbations": {3: "tool_timeout"}})
    env.reset(seed=0, options={"perturbations": {2: ["truncated_output", "tool_timeout"]}})

Turn numbers are the env's (`info["turn"]`: the first `step` is turn 1). On a planned code
turn the listed kinds are tried in order and the first that applies is shown (the seed
fixes its parameters); the rate, the cap and the random choice of the env's
`PerturbationConfig` do not apply there, while every other turn follows that config as
usual. A planned turn that is not a code turn, or where no listed kind applies, is not
perturbed; nor is a turn that delivers the output a `stale_output` withheld. The plan holds
for one episode only and is never shown to the agent.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import KIND_SPECS, KINDS


@dataclass(frozen=True)
class PerturbationPlan:
    """Turn -> kinds to try there, in order (`turns` sorted by turn, each turn once)."""

    turns: tuple[tuple[int, tuple[str, ...]], ...] = ()

    def __post_init__(self) -> None:
        turns: dict[int, tuple[str, ...]] = {}
        for given, kinds in self.turns:
            turn = _turn_number(given)
            if turn in turns:
                raise ValueError(f"turn {turn} is planned twice")
            _check_kinds(turn, kinds)
            turns[turn] = kinds
        object.__setattr__(self, "turns", tuple(sorted(turns.items())))

    def kinds_at(self, turn: int) -> tuple[str, ...]:
        """The kinds planned for `turn` (empty when it is not planned)."""
        return dict(self.turns).get(turn, ())

    @property
    def last_turn(self) -> int:
        """The latest planned turn (0 for an empty plan)."""
        return self.turns[-1][0] if self.turns else 0

    def to_dict(self) -> dict[int, list[str]]:
        return {turn: list(kinds) for turn, kinds in self.turns}


def _turn_number(turn: Any) -> int:
    number = None if isinstance(turn, bool) else _index(turn)
    if number is None or number < 1:
        raise ValueError(f"a planned turn must be an int >= 1 (the first step is turn 1), "
                         f"got {turn!r}")
    return number


def _index(value: Any) -> int | None:
    try:
        return operator.index(value)  # ints and numpy integers
    except TypeError:
        return None


def _check_kinds(turn: int, kinds: Any) -> None:
    if not isinstance(kinds, tuple) or not kinds:
        raise ValueError(f"planned turn {turn} needs a perturbation kind or a non-empty "
                         f"list of kinds, got {kinds!r}")
    unknown = next((kind for kind in kinds if kind not in KINDS), None)
    if unknown is not None:
        raise ValueError(f"unknown perturbation kind {unknown!r} planned at turn {turn}; "
                         f"valid kinds: {', '.join(KINDS)}")
    twice = sorted({kind for kind in kinds if kinds.count(kind) > 1})
    if twice:
        raise ValueError(f"planned turn {turn} lists {twice} twice: {list(kinds)}")
    stages = [KIND_SPECS[kind].stage for kind in kinds]
    if stages != sorted(stages):  # "code" < "output": code kinds act before the run
        raise ValueError(f"planned turn {turn} lists the code kind(s) "
                         f"{[k for k, s in zip(kinds, stages, strict=True) if s == 'code']} "
                         "after an output kind; list code kinds (they act before the code "
                         "runs) first")


def _kinds(value: Any) -> Any:
    if isinstance(value, str):
        return (value,)
    return tuple(value) if isinstance(value, Iterable) else value


def resolve_plan(spec: PerturbationPlan | Mapping[int, Any] | Iterable[Any] | None, *,
                 max_turns: int | None = None) -> PerturbationPlan:
    """A `PerturbationPlan` from a plan, a dict {turn: kind or [kinds]}, a list of
    (turn, kind or [kinds]) pairs, or None (nothing planned). `max_turns`: the episode's
    last turn; a plan for a later turn is an error (it could never fire)."""
    if spec is None:
        plan = PerturbationPlan()
    elif isinstance(spec, PerturbationPlan):
        plan = spec
    elif isinstance(spec, Mapping):
        plan = PerturbationPlan(tuple((turn, _kinds(kinds)) for turn, kinds in spec.items()))
    elif isinstance(spec, Iterable) and not isinstance(spec, str | bytes):
        pairs = list(spec)
        if any(not isinstance(pair, tuple | list) or len(pair) != 2 for pair in pairs):
            raise ValueError(f"a perturbation plan list must hold (turn, kind) pairs, got "
                             f"{pairs!r}")
        plan = PerturbationPlan(tuple((turn, _kinds(kinds)) for turn, kinds in pairs))
    else:
        raise ValueError(f"perturbation plan must be a dict {{turn: kind}}, a list of "
                         f"(turn, kind) pairs or a PerturbationPlan, got {spec!r}")
    if max_turns is not None and plan.last_turn > max_turns:
        raise ValueError(f"planned turn {plan.last_turn} is after the episode's last turn "
                         f"(max_turns={max_turns}), so it could never fire")
    return plan
