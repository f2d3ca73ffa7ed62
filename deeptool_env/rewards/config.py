"""Weights of the action-centric process reward (`gym.make(..., reward=...)`)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class RewardConfig:
    """Weights of every reward term; each term is documented in `terms.py`.

    The process terms of an episode are summed and clipped to
    `[-process_floor, process_cap]`; `process_cap + process_floor < outcome` keeps the
    guards: a right answer always beats a wrong one, whatever the process.
    """

    outcome: float = 1.0
    format: float = 0.02
    void_penalty: float = 0.05
    malformed_penalty: float = 0.02
    execution: float = 0.04
    execution_error: float = 0.04
    novelty: float = 0.02
    rerun_penalty: float = 0.08
    recovery: float = 0.1
    error_recovery: float = 0.01
    trust_penalty: float = 0.1
    grounding: float = 0.1
    reference: float = 0.05
    call_cost: float = 0.01
    budget_calls: int = 4
    budget_cost: float = 0.03
    max_printed_values: int = 10
    process_cap: float = 0.4
    process_floor: float = 0.4

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"RewardConfig.{f.name} must be a number >= 0, got {value!r}")
        if self.process_cap + self.process_floor >= self.outcome > 0:
            raise ValueError(
                "process_cap + process_floor must stay below outcome, or a wrong answer with a "
                f"perfect process could beat a right one (got {self.process_cap} + "
                f"{self.process_floor} >= {self.outcome})")

    @property
    def process_enabled(self) -> bool:
        return self.process_cap > 0 or self.process_floor > 0


PRESETS: dict[str, RewardConfig] = {
    "deeptool": RewardConfig(),
    "outcome": RewardConfig(**{f.name: 0.0 for f in fields(RewardConfig)
                               if f.name not in ("outcome", "budget_calls", "max_printed_values")}),
}


def resolve_reward(spec: str | RewardConfig | dict[str, Any] | None) -> RewardConfig:
    """A preset name (`"deeptool"`, `"outcome"`), a `RewardConfig`, or a dict of fields
    (applied on top of the `"deeptool"` preset)."""
    if spec is None:
        return PRESETS["deeptool"]
    if isinstance(spec, RewardConfig):
        return spec
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise ValueError(f"unknown reward preset {spec!r}; choose one of {sorted(PRESETS)}")
        return PRESETS[spec]
    if isinstance(spec, dict):
        known = {f.name for f in fields(RewardConfig)}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise TypeError(f"unknown reward field(s) {unknown}; valid: {sorted(known)}")
        return replace(PRESETS["deeptool"], **spec)
    raise TypeError(f"reward must be a preset name, RewardConfig or dict, got {spec!r}")
