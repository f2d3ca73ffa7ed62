"""Text-agent episodes for the evaluation harness: the rollout loop's `Episode` over an
`Agent` (observations in, action text out).

`agent_backend` chooses how the loop calls the agent: an HTTP agent
(one with `serves_requests`, e.g. `OpenAIChatAgent`) gets each turn on its own,
`concurrency` requests in flight; every other agent (local models batch) gets every
ready turn in one `act_batch`. The agent sees `agent_info(info)` plus
`info["episode_key"]`, which keys its per-episode state.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from agents.base import Agent
from deeptool_env.audit import agent_info

from .scheduler import Backend, Batched, Request, Served

Prompt = tuple[str, dict[str, Any]]  # (observation, the agent's view of info)


@dataclass(frozen=True)
class TextStep:
    """One env step of a text episode: the action and what the env answered."""

    action: str
    observation: str
    reward: float
    info: dict[str, Any]


class TextEpisode:
    """One episode of `agent` on `env` (reset with `seed` and `options`), identified to
    the agent by `key`; `steps` holds every turn, `started` the time after the reset."""

    def __init__(self, agent: Agent, env: Any, *, seed: int | None,
                 options: dict[str, Any] | None, key: Hashable) -> None:
        self.agent, self.env, self.seed, self.options, self.key = agent, env, seed, options, key
        self.steps: list[TextStep] = []
        self.info: dict[str, Any] = {"episode_key": key}
        self.started = time.perf_counter()

    def _view(self, info: dict[str, Any]) -> dict[str, Any]:
        return {**agent_info(info), "episode_key": self.key}

    def begin(self) -> Prompt:
        observation, info = self.env.reset(seed=self.seed, options=self.options)
        self.started = time.perf_counter()
        self.info = self._view(info)
        self.agent.reset(observation, self.info)
        return observation, self.info

    def advance(self, action: str) -> Prompt | None:
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.steps.append(TextStep(action, observation, float(reward), info))
        self.info = self._view(info)
        if terminated or truncated:
            return None
        return observation, self.info

    def result(self) -> TextEpisode:
        return self


def agent_backend(agent: Agent, concurrency: int) -> Backend:
    """How the loop asks `agent` for turns (see the module docstring)."""
    def act(requests: list[Request]) -> list[str]:
        return agent.act_batch([r.prompt[0] for r in requests],
                               [r.prompt[1] for r in requests])

    if getattr(agent, "serves_requests", False):
        return Served(lambda request: act([request])[0], in_flight=max(1, concurrency))
    return Batched(act)
