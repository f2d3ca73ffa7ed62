"""The wire models of the OpenEnv server: one action, one observation, one state.

OpenEnv sends only an observation's declared fields (plus `reward` and `done`), never a
Gymnasium `info` dict and no `truncated`, so everything a trainer needs from `info` is a
typed field here. What the policy sees is `text` alone; `audit` is for the trainer's logger
or an evaluator and must never be rendered into the model's context (it holds the
unperturbed tool output and the perturbation record).
"""

from __future__ import annotations

from typing import Any, Literal

from openenv.core.env_server.types import Action, Observation, State
from pydantic import BaseModel, ConfigDict, Field


class DeepToolAction(Action):
    """One assistant turn, in the env's protocol (`<code>...</code>` or `<answer>...`)."""

    content: str = Field(description="one assistant turn: optional <think>, then exactly one "
                                     "<code>...</code> or <answer>\\boxed{...}</answer>")


class TurnAudit(BaseModel):
    """What was done to the tool result of one code turn. For auditors, not the policy."""

    model_config = ConfigDict(extra="forbid")

    perturbed: bool = Field(description="a perturbation changed the code or its output")
    perturbation: dict[str, Any] | None = Field(
        default=None, description="the perturbation event (kind, turn, what changed)")
    observation_clean: str = Field(description="the tool output without any perturbation")
    real_status: str = Field(description="the cell's real status (the policy saw "
                                         "`tool_status`)")


class DeepToolObservation(Observation):
    """The prompt after reset, the tool output or protocol error after a step."""

    text: str = Field(description="what the policy sees: the prompt, or the tool output / "
                                  "protocol error of the last turn")
    terminated: bool = Field(default=False, description="ended by an answer or too many "
                                                        "invalid turns")
    truncated: bool = Field(default=False, description="cut by max_turns or the token budget")
    termination: str | None = Field(default=None, description="answer, invalid_turns, "
                                    "max_turns or max_episode_tokens once the episode ends")
    turn: int = Field(default=0, description="assistant turns so far")
    action_kind: Literal["prompt", "code", "answer", "invalid"] = Field(
        default="prompt", description="what the last turn was parsed as")
    parse_error: str | None = Field(default=None, description="why the turn was invalid")
    reward_terms: dict[str, float] = Field(
        default_factory=dict, description="the reward's terms this turn (process, outcome, ...)")
    tool_status: str | None = Field(default=None, description="status of the cell as shown "
                                    "to the policy (ok, error, timeout, ...)")
    tool_wall_ms: float | None = Field(default=None, description="wall time of the cell")
    tokens: int = Field(default=0, description="context tokens so far (prompt, turns, outputs)")
    task_id: str | None = Field(default=None, description="the episode's task")
    benchmark: str | None = Field(default=None, description="the task's benchmark")
    correct: bool | None = Field(default=None, description="the grader's verdict on an answer")
    turn_rewards: list[float] | None = Field(
        default=None, description="every turn's reward, once the episode ends")
    audit: TurnAudit | None = Field(
        default=None, description="AUDIT ONLY (perturbation record, clean output): for the "
        "trainer's logger and evaluators; never show it to the policy")


class DeepToolState(State):
    """The session's episode: ids and counters (`GET /state`, WebSocket `state`)."""

    env_id: str = Field(default="", description="the Gymnasium id served")
    task_id: str | None = Field(default=None, description="the episode's task")
    done: bool = Field(default=True, description="the episode is over (or never started)")
    total_reward: float = Field(default=0.0, description="sum of the episode's rewards")
