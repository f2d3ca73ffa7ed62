"""The perturbation interface the environment calls (implementations live beside it).

A perturbation changes what the agent *sees* of a tool call, never the task, the gold
answer or the sandbox state that re-running code reveals, so an agent can always recover
by checking. The env calls, for each code turn:

    code_to_run, event = perturber.before_run(code, turn)       # intrinsic anomalies
    result = session.run(code_to_run)
    shown, event2 = perturber.after_run(ToolOutput(...), turn)  # what the agent is shown

and records `info["perturbation"]` (the event as a dict), `info["perturbed"]` and
`info["observation_clean"]` (the observation without the perturbation).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .numbers import NUMERIC_MODES

Family = Literal["extrinsic", "corrupted", "intrinsic"]


@dataclass(frozen=True)
class ToolOutput:
    """The parts of a tool result a perturbation may change."""

    stdout: str
    stderr: str
    status: str


@dataclass(frozen=True)
class PerturbationEvent:
    """One applied perturbation: what was done, with which parameters."""

    kind: str
    family: Family
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Stage = Literal["code", "output"]


@dataclass(frozen=True)
class Context:
    """What a kind may look at besides the output or code it changes (read-only).

    `severity` (0..1) scales how much is changed; `code` is this turn's code as the agent
    wrote it (None when `before_run` was not called); `cell` counts this episode's code runs
    (the sandbox's `<cell-N>`); `previous` is (turn, output shown) of the last code turn.
    """

    severity: float = 0.5
    numeric_modes: tuple[str, ...] = NUMERIC_MODES
    timeout_s: float = 10.0
    code: str | None = None
    cell: int = 1
    previous: tuple[int, ToolOutput] | None = None


@dataclass(frozen=True)
class Kind:
    """One perturbation kind: its name, family, the stage it acts on and its function.

    `apply(target, rng, ctx)` gets the code (stage "code", before it runs) or the
    `ToolOutput` (stage "output") and returns the changed target with the event's params,
    or None when the kind cannot apply to this target.
    """

    name: str
    family: Family
    stage: Stage
    apply: Callable[[Any, random.Random, Context], tuple[Any, dict[str, Any]] | None]
    effect: str
