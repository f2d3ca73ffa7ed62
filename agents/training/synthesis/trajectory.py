"""Play a teacher's turns with planned anomalies through the env, and check it stays true.

The clean replay (no anomalies) is the reference: its code observations are what each
teacher turn really prints. A perturbed replay must agree with it wherever the policy
sees a real result: after an extrinsic anomaly the env's clean observation and the
re-run's output equal the reference, after an intrinsic one the fixed code's output does,
and every later turn's output does too (so the corrupted cell or the re-run did not change
the session state in a way the rest of the solution would notice). When they disagree,
the injection responsible is reported and the caller drops it and plays again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .parse import TeacherTurn
from .perturb import Injection, template_thought, what_happened
from .replay import Episode, Replayer, Step

# Real results after which the interpreter state is gone: a corrupted cell that ends
# like this would make the rest of the trajectory run in a different state.
_STATE_LOST = ("timeout", "killed", "output_limit", "sandbox_error", "memory")


@dataclass
class RecoveryPoint:
    """Where a recovery thought is needed, with what the teacher needs to write it."""

    turn: int  # teacher turn index of the anomaly
    kind: str
    params: dict[str, Any]
    action: str  # the anomalous turn as played
    observation: str  # what the tool showed
    code: str  # the recovery turn's code (the teacher's original)

    def hidden_truth(self) -> str:
        return what_happened(self.kind, self.params)


@dataclass
class Played:
    """A replay of a plan: the episode, what was injected, and where it went wrong."""

    episode: Episode
    injections: list[dict[str, Any]] = field(default_factory=list)
    points: list[RecoveryPoint] = field(default_factory=list)
    failed: Injection | None = None  # the injection to drop
    unreproducible: str = ""  # the clean turns themselves do not replay the same

    @property
    def ok(self) -> bool:
        return self.failed is None and not self.unreproducible and self.episode.correct


def play(replayer: Replayer, task_id: str, seed: int, turns: list[TeacherTurn],
         plan: list[Injection], reference: dict[int, str] | None,
         thoughts: dict[int, str] | None = None) -> Played:
    """Replay `turns` with `plan`; `reference` maps code-turn index to its clean
    observation (None: this is the clean replay). `thoughts` overrides recovery thoughts
    by teacher turn index (default: the templates)."""
    played = Played(replayer.start(task_id, seed))
    planned = {injection.turn: injection for injection in plan}
    latest: Injection | None = None

    def check(index: int, observation: str, culprit: Injection | None) -> bool:
        if reference is None or observation == reference.get(index):
            return True
        if culprit is None:
            played.unreproducible = f"turn {index + 1} printed something else on replay"
        else:
            played.failed = culprit
        return False

    for index, turn in enumerate(turns):
        if played.episode.termination is not None:  # ended early (token budget)
            break
        injection = planned.get(index)
        if injection is None or turn.kind != "code":
            step = replayer.step(turn.action)
            if turn.kind == "code" and not check(index, step.observation, latest):
                return played
            continue
        step = _anomalous_step(replayer, turn, injection)
        if step.perturbation is None and injection.family == "extrinsic":
            if not check(index, step.observation, latest):  # no kind applied: a clean turn
                return played
            continue
        if injection.family == "extrinsic":
            kind, params = step.perturbation["kind"], dict(step.perturbation["params"])
            if not check(index, step.observation_clean or "", latest):
                return played
        else:
            kind, params = injection.kinds[0], dict(injection.params)
            broken = kind == "syntax_error" and step.status != "error"
            unseen = reference is not None and step.observation == reference.get(index)
            if broken or unseen or step.status in _STATE_LOST:  # no visible, safe anomaly
                played.failed = injection
                return played
        latest = injection
        writer = "llm" if thoughts and index in thoughts else "template"
        thought = (thoughts or {}).get(index) or template_thought(kind, params)
        recovery = replayer.step(TeacherTurn("code", thought, turn.body).action,
                                 role="recovery")
        played.points.append(RecoveryPoint(index, kind, params, step.action,
                                           step.observation, turn.body))
        played.injections.append({
            "kind": kind, "family": injection.family, "turn": len(played.episode.steps) - 1,
            "recovery_turn": len(played.episode.steps), "teacher_turn": index + 1,
            "params": params, "recovery_writer": writer})
        if not check(index, recovery.observation, injection):
            return played
    if reference is not None and not played.episode.correct:
        played.failed = latest
        played.unreproducible = "" if latest else "the final answer no longer grades correct"
    return played


def _anomalous_step(replayer: Replayer, turn: TeacherTurn, injection: Injection) -> Step:
    if injection.family == "extrinsic":
        return replayer.step(turn.action, perturb=injection.kinds)
    corrupted = TeacherTurn("code", turn.thought, injection.code or turn.body)
    step = replayer.step(corrupted.action)
    step.role = "perturbed"
    step.perturbation = {"kind": injection.kinds[0], "family": "intrinsic",
                         "params": dict(injection.params)}
    return step


def clean_reference(played: Played, turns: list[TeacherTurn]) -> dict[int, str]:
    """Code-turn index -> observation, from a clean replay."""
    return {index: step.observation for index, (turn, step)
            in enumerate(zip(turns, played.episode.steps, strict=False)) if turn.kind == "code"}
