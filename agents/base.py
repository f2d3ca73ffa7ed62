"""The agent interface: what anything that plays `DeepTool-Math-v0` implements.

Two levels, and the protocol beneath them:

- `AgentProtocol`: the two methods anything that plays needs, `reset` and `act`; an object
  with them plays in the harness whether or not it subclasses `Agent`.
- `Agent`: `reset(observation, info)` at the start of an episode, then `act(observation,
  info) -> str` for every turn; `act_batch` plays many episodes at once (default: one by
  one). Any custom agent implements this.
- `ChatAgent`: an `Agent` for chat LLMs. It keeps each episode's messages (built with the
  one prompt template of `prompt.py`) and asks subclasses only for
  `generate_batch(conversations) -> list[Generation]`. The OpenAI, transformers and vLLM
  adapters are ChatAgents.

An episode is identified by `info["episode_key"]` when several run through one agent
(the harness sets it); a single-episode user can ignore it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .prompt import complete_action, observation_message


@dataclass(frozen=True)
class Generation:
    """One assistant turn produced by a model, with its token usage when known."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class Usage:
    """Token usage of one episode, summed over its turns."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    generations: int = 0

    def add(self, generation: Generation) -> None:
        self.prompt_tokens += generation.prompt_tokens or 0
        self.completion_tokens += generation.completion_tokens or 0
        self.generations += 1


@runtime_checkable
class AgentProtocol(Protocol):
    """What playing an episode needs: `reset` when it starts, `act` for every turn. `Agent`
    (the base class with batching, usage and close) is one way to have them."""

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        """A new episode starts with `observation` (the prompt)."""

    def act(self, observation: str, info: dict[str, Any]) -> str:
        """The next assistant turn, given the latest observation."""


class Agent(ABC):
    """Plays episodes of the env: one assistant turn per `act`."""

    name: str = "agent"
    # True when the agent keys its per-episode state by `info["episode_key"]`, so the
    # harness may interleave several episodes through it.
    concurrent_episodes: bool = False
    # True when each `act` call is an independent request to a server (HTTP): the rollout
    # loop then keeps `concurrency` single-turn calls in flight instead of batching turns.
    serves_requests: bool = False

    def reset(self, observation: str, info: dict[str, Any]) -> None:  # noqa: B027
        """A new episode starts with `observation` (the prompt); default: nothing to do."""

    @abstractmethod
    def act(self, observation: str, info: dict[str, Any]) -> str:
        """The next assistant turn, given the latest observation."""

    def act_batch(self, observations: list[str], infos: list[dict[str, Any]]) -> list[str]:
        """One turn for each of several episodes (override to batch model calls)."""
        return [self.act(o, i) for o, i in zip(observations, infos, strict=True)]

    def usage(self, info: dict[str, Any]) -> Usage | None:
        """Token usage of the episode so far, if the agent knows it."""
        return None

    def close(self) -> None:  # noqa: B027
        """Free resources (models, clients)."""


@dataclass
class _Episode:
    messages: list[dict[str, str]]
    usage: Usage = field(default_factory=Usage)


class ChatAgent(Agent):
    """Base of the LLM adapters: keeps per-episode chat messages, batches generation.

    Args:
        temperature, top_p, max_new_tokens: sampling settings every adapter honours.
        stop: stop sequences (default `STOP_SEQUENCES`: the end of an action).
    """

    name = "chat"
    concurrent_episodes = True

    def __init__(self, *, temperature: float = 0.6, top_p: float = 0.95,
                 max_new_tokens: int = 2048, stop: tuple[str, ...] | None = None,
                 seed: int | None = None) -> None:
        from deeptool_env.protocol import STOP_SEQUENCES

        if temperature < 0 or not 0 < top_p <= 1 or max_new_tokens <= 0:
            raise ValueError("need temperature >= 0, 0 < top_p <= 1, max_new_tokens > 0")
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        self.stop = tuple(STOP_SEQUENCES if stop is None else stop)
        self.seed = seed
        self._episodes: dict[Any, _Episode] = {}

    @abstractmethod
    def generate_batch(self, conversations: list[list[dict[str, str]]]) -> list[Generation]:
        """One assistant message for each conversation (a list of chat messages)."""

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        messages = info.get("messages") or [{"role": "user", "content": observation}]
        self._episodes[info.get("episode_key")] = _Episode([dict(m) for m in messages])

    def act(self, observation: str, info: dict[str, Any]) -> str:
        return self.act_batch([observation], [info])[0]

    def act_batch(self, observations: list[str], infos: list[dict[str, Any]]) -> list[str]:
        episodes = []
        for observation, info in zip(observations, infos, strict=True):
            key = info.get("episode_key")
            if key not in self._episodes:
                raise RuntimeError(f"act() before reset() for episode {key!r}")
            episode = self._episodes[key]
            if episode.messages[-1]["role"] == "assistant":
                episode.messages.append(observation_message(observation))
            episodes.append(episode)
        generations = self.generate_batch([e.messages for e in episodes])
        actions = []
        for episode, generation in zip(episodes, generations, strict=True):
            text = complete_action(generation.text)
            episode.messages.append({"role": "assistant", "content": text})
            episode.usage.add(generation)
            actions.append(text)
        return actions

    def usage(self, info: dict[str, Any]) -> Usage | None:
        episode = self._episodes.get(info.get("episode_key"))
        return None if episode is None else episode.usage

    def end_episode(self, info: dict[str, Any]) -> None:
        """Forget an episode's messages (the harness calls it when an episode ends)."""
        self._episodes.pop(info.get("episode_key"), None)
