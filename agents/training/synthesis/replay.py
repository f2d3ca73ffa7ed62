"""Replay a trajectory's actions through the real env, so every observation is true.

Nothing here invents an observation: each action is an `env.step` of `DeepTool-Math-v0`
on the problem's task, the code runs in the env's sandbox session, and the recorded
conversation is the env's prompt messages followed by assistant turns and the env's
observations as `agents.prompt.observation_message`s (the chat format every ChatAgent and
`tokenize_conversation` use). Tool-side anomalies are the env's own perturbations,
scheduled through its public reset option (`start(..., perturbations=PerturbationPlan)`),
so a perturbed observation is in the env's exact format and `info["observation_clean"]`
says what the run really printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

import deeptool_env  # noqa: F401  (registers the env ids)
from agents.prompt import observation_message
from deeptool_env.perturbations import PerturbationPlan

from .config import SynthesisConfig


@dataclass
class Step:
    """One assistant turn as the env played it."""

    action: str
    observation: str  # "" after the final answer
    kind: str  # the env's reading of the action: code | answer | invalid
    role: str = "clean"  # clean | perturbed | recovery
    status: str | None = None  # the real tool status (None for an answer)
    shown_status: str | None = None
    perturbation: dict[str, Any] | None = None  # the env's info["perturbation"]
    observation_clean: str | None = None
    parse_error: str | None = None
    corrupted: str | None = None  # the intrinsic kind synthesis wrote into this turn's code

    def meta(self, turn: int) -> dict[str, Any]:
        """Per-turn metadata for the record."""
        kind = self.perturbation["kind"] if self.perturbation else self.corrupted
        return {"turn": turn, "role": self.role, "action": self.kind, "status": self.status,
                "shown_status": self.shown_status, "perturbation": kind}


@dataclass
class Episode:
    """A replayed trajectory: the conversation, its steps and how it ended."""

    messages: list[dict[str, str]]
    steps: list[Step] = field(default_factory=list)
    termination: str | None = None
    verdict: dict[str, Any] | None = None
    turn_rewards: list[float] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return bool(self.verdict and self.verdict.get("correct"))


class Replayer:
    """One env (and its warm sandbox) that replays any number of trajectories.

    The env perturbs nothing on its own (rate 0); only the turns of the plan given to
    `start` are perturbed, with the synthesis severity."""

    def __init__(self, config: SynthesisConfig) -> None:
        self.config = config
        self.env = gym.make("DeepTool-Math-v0", tasks=config.train_data,
                            data_dir=config.data_dir, strict_data=config.strict_data,
                            sandbox=config.sandbox, max_turns=config.max_turns,
                            tool_timeout_s=config.tool_timeout_s,
                            perturbation={"rate": 0.0, "severity": config.severity})
        self.episode: Episode | None = None

    def start(self, task_id: str, seed: int,
              perturbations: PerturbationPlan | None = None) -> Episode:
        """Reset the env on `task_id` with `perturbations` planned (env turn -> kinds to
        try); the seed fixes every perturbation's random choices."""
        _, info = self.env.reset(seed=seed, options={"task_id": task_id,
                                                     "perturbations": perturbations})
        self.episode = Episode([dict(m) for m in info["messages"]])
        return self.episode

    def step(self, action: str, *, role: str = "clean") -> Step:
        """Play one assistant turn (role "perturbed" when the env perturbed it)."""
        episode = self.episode
        if episode is None or episode.termination is not None:
            raise RuntimeError("start() an episode before step(), and not after its end")
        observation, _, terminated, truncated, info = self.env.step(action)
        tool = info.get("tool") or {}
        step = Step(action, observation, info["action_kind"], role, tool.get("status"),
                    tool.get("shown_status"), info.get("perturbation"),
                    info.get("observation_clean"), info.get("parse_error"))
        if step.perturbation is not None:
            step.role = "perturbed"
        episode.steps.append(step)
        episode.messages.append({"role": "assistant", "content": action})
        if observation:
            episode.messages.append(observation_message(observation))
        if terminated or truncated:
            episode.termination = info.get("termination")
            episode.verdict = info.get("verdict")
            episode.turn_rewards = list(info.get("turn_rewards") or [])
        return step

    def close(self) -> None:
        self.env.close()
