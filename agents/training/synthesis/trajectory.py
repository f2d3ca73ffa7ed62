"""Play a teacher's turns with planned anomalies through the env, and check it stays true.

The clean replay (no anomalies) is the reference: its code observations are what each
teacher turn really prints. A perturbed replay must agree with it wherever the policy
sees a real result: after an extrinsic anomaly the env's clean observation and the
re-run's output equal the reference, after an intrinsic one the fixed code's output does,
and every later turn's output does too (so the corrupted cell or the re-run did not change
the session state in a way the rest of the solution would notice). When they disagree,
the injection responsible is reported and the caller drops it and plays again.

Tool-side anomalies are planned through the env's reset option (`env_plan`); code-side
ones are the teacher's code with a corruption written in, which the env runs as any code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deeptool_env.perturbations import PerturbationPlan
from deeptool_env.sandbox.result import STATE_LOST_STATUSES

from .parse import TeacherTurn
from .perturb import Injection, template_thought, what_happened
from .replay import Episode, Replayer, Step


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
    return _Playback(replayer, turns, plan, reference, thoughts or {}).run(task_id, seed)


def env_plan(injections: list[Injection]) -> PerturbationPlan:
    """The env turns of the tool-side injections: teacher turn `i` plays at env turn
    `i + 1` plus one recovery turn for every injection before it."""
    ordered = sorted(injections, key=lambda injection: injection.turn)
    return PerturbationPlan(tuple((injection.turn + 1 + before, injection.kinds)
                                  for before, injection in enumerate(ordered)
                                  if injection.family == "extrinsic"))


class _Playback:
    """One replay of a plan: each teacher turn as played, each anomaly with its recovery,
    stopping at the first turn that no longer agrees with the reference."""

    def __init__(self, replayer: Replayer, turns: list[TeacherTurn], plan: list[Injection],
                 reference: dict[int, str] | None, thoughts: dict[int, str]) -> None:
        self.replayer, self.turns, self.reference, self.thoughts = (
            replayer, turns, reference, thoughts)
        self.planned = {injection.turn: injection for injection in plan
                        if injection.turn < len(turns) and turns[injection.turn].kind == "code"}
        self.latest: Injection | None = None  # the last anomaly played so far

    def run(self, task_id: str, seed: int) -> Played:
        plan = env_plan(list(self.planned.values()))
        self.played = Played(self.replayer.start(task_id, seed, plan))
        for index, turn in enumerate(self.turns):
            if self.played.episode.termination is not None:  # ended early (token budget)
                break
            injection = self.planned.get(index)
            agrees = (self._plain(index, turn) if injection is None
                      else self._anomaly(index, turn, injection))
            if not agrees:
                return self.played
        if self.reference is not None and not self.played.episode.correct:
            self.played.failed = self.latest
            self.played.unreproducible = ("" if self.latest
                                          else "the final answer no longer grades correct")
        return self.played

    def _check(self, index: int, observation: str, culprit: Injection | None) -> bool:
        """Whether a real result agrees with the reference; else record who is to blame."""
        if self.reference is None or observation == self.reference.get(index):
            return True
        if culprit is None:
            self.played.unreproducible = f"turn {index + 1} printed something else on replay"
        else:
            self.played.failed = culprit
        return False

    def _plain(self, index: int, turn: TeacherTurn) -> bool:
        step = self.replayer.step(turn.action)
        return turn.kind != "code" or self._check(index, step.observation, self.latest)

    def _anomaly(self, index: int, turn: TeacherTurn, injection: Injection) -> bool:
        shown = (self._tool_side(index, turn, injection) if injection.family == "extrinsic"
                 else self._code_side(index, turn, injection))
        if shown is None:
            return False
        step, kind, params = shown
        self.latest = injection
        recovery = self._recover(index, turn, step, kind, params, injection)
        return self._check(index, recovery.observation, injection)

    def _tool_side(self, index: int, turn: TeacherTurn, injection: Injection
                   ) -> tuple[Step, str, dict[str, Any]] | None:
        """The planned env perturbation of this turn; None when it failed."""
        step = self.replayer.step(turn.action)
        if step.perturbation is None:  # no kind applied: the later env turns would shift
            self.played.failed = injection
            return None
        if not self._check(index, step.observation_clean or "", self.latest):
            return None
        return step, step.perturbation["kind"], dict(step.perturbation["params"])

    def _code_side(self, index: int, turn: TeacherTurn, injection: Injection
                   ) -> tuple[Step, str, dict[str, Any]] | None:
        """The teacher's code with the planned corruption, as really run; None unless the
        anomaly is visible and leaves the interpreter's state in place."""
        kind, params = injection.kinds[0], dict(injection.params)
        corrupted = TeacherTurn("code", turn.thought, injection.code or turn.body)
        step = self.replayer.step(corrupted.action, role="perturbed")
        step.corrupted = kind
        broken = kind == "syntax_error" and step.status != "error"
        unseen = self.reference is not None and step.observation == self.reference.get(index)
        if broken or unseen or step.status in STATE_LOST_STATUSES:
            self.played.failed = injection
            return None
        return step, kind, params

    def _recover(self, index: int, turn: TeacherTurn, step: Step, kind: str,
                 params: dict[str, Any], injection: Injection) -> Step:
        """The recovery turn (the teacher's original code), recorded with its anomaly."""
        writer = "llm" if index in self.thoughts else "template"
        thought = self.thoughts.get(index) or template_thought(kind, params)
        recovery = self.replayer.step(TeacherTurn("code", thought, turn.body).action,
                                      role="recovery")
        steps = self.played.episode.steps
        self.played.points.append(RecoveryPoint(index, kind, params, step.action,
                                                step.observation, turn.body))
        self.played.injections.append({
            "kind": kind, "family": injection.family, "turn": len(steps) - 1,
            "recovery_turn": len(steps), "teacher_turn": index + 1, "params": params,
            "recovery_writer": writer})
        return recovery


def clean_reference(played: Played, turns: list[TeacherTurn]) -> dict[int, str]:
    """Code-turn index -> observation, from a clean replay."""
    return {index: step.observation for index, (turn, step)
            in enumerate(zip(turns, played.episode.steps, strict=False)) if turn.kind == "code"}
