"""Token-level episodes for GRPO: the rollout loop's `Episode` over exact token ids.

A `TokenEpisode` prompts the model with the episode's whole context as ids and takes back
the ids it sampled; the env's observations are appended as the chat template's own text
(`token_trajectory`). Every turn's `parse_error` is kept here (the one place) and lands in
`trajectory.info["parse_errors"]`, which the void-turn filter reads.

`rollout_episode` plays one episode with a `generate_ids(context) -> ids` policy and
`rollout_vector` one per sub-env of a Gymnasium vector env: both through the same loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import gymnasium as gym

from agents.prompt import observation_message, template_has_tool_role

from .scheduler import Batched, Request, play_in_order
from .token_trajectory import TokenTrajectory, continue_after, finish, start
from .vector_slots import VectorSlots

GenerateIds = Callable[[list[int]], list[int]]
GenerateBatch = Callable[[list[list[int]]], list[list[int]]]


class TokenEpisode:
    """One GRPO episode on `env` (task `options`, env seed `seed`); `release(env)` is
    called once it has ended, so the env can serve the next episode."""

    def __init__(self, env: Any, tokenizer: Any, *, seed: int | None,
                 options: dict[str, Any] | None = None,
                 release: Callable[[Any], None] | None = None) -> None:
        self.env, self.tokenizer, self.seed, self.options = env, tokenizer, seed, options
        self.release = release
        self.parse_errors: list[str | None] = []
        self.turn = 0

    def begin(self) -> list[int]:
        _, info = self.env.reset(seed=self.seed, options=self.options)
        self.messages = [dict(m) for m in info["messages"]]
        self.protocol = info.get("protocol", "tags")
        self.tool_role = template_has_tool_role(self.tokenizer)
        self.trajectory, self.rendered = start(self.tokenizer, self.messages)
        return list(self.trajectory.ids)

    def advance(self, new_ids: Sequence[int]) -> list[int] | None:
        new_ids = list(new_ids)
        trajectory, turn = self.trajectory, self.turn
        trajectory.extend(new_ids, generated=True, turn=turn)
        action = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        trajectory.actions.append(action)
        observation, _, terminated, truncated, info = self.env.step(action)
        self.parse_errors.append(info.get("parse_error"))
        if terminated or truncated:
            finish(trajectory, {**info, "parse_errors": list(self.parse_errors)})
            if self.release is not None:
                self.release(self.env)
            return None
        self.messages += [{"role": "assistant", "content": action},
                          observation_message(str(observation), protocol=self.protocol,
                                              tool_role=self.tool_role)]
        self.rendered = continue_after(trajectory, self.tokenizer, self.rendered, action,
                                       new_ids, self.messages, turn)
        self.turn += 1
        return list(trajectory.ids)

    def result(self) -> TokenTrajectory:
        return self.trajectory


def batched_ids(generate_batch: GenerateBatch) -> Batched:
    """A `Batched` backend over a `generate_batch(contexts) -> new ids` policy."""
    return Batched(lambda requests: generate_batch([list(r.prompt) for r in requests]))


def rollout_episode(env: gym.Env, tokenizer: Any, generate_ids: GenerateIds, *,
                    seed: int | None = None, options: dict[str, Any] | None = None
                    ) -> TokenTrajectory:
    """Play one episode; `generate_ids(context_ids) -> new_ids` is the policy."""
    episode = TokenEpisode(env, tokenizer, seed=seed, options=options)
    (trajectory,) = play_in_order(
        [episode], batched_ids(lambda contexts: [generate_ids(c) for c in contexts]),
        concurrency=1)
    return trajectory


def play_on_vector(envs: gym.vector.VectorEnv, tokenizer: Any, backend: Batched,
                   jobs: Iterable[tuple[int | None, dict[str, Any] | None]]
                   ) -> list[TokenTrajectory]:
    """(seed, options) jobs on the sub-envs of `envs`, each sub-env refilled with the next
    job as soon as its episode ends; results in job order."""
    slots = VectorSlots(envs)
    episodes = (TokenEpisode(slots.acquire(), tokenizer, seed=seed, options=options)
                for seed, options in jobs)
    return play_in_order(episodes, backend, concurrency=envs.num_envs, on_stop=slots.abort)


def rollout_vector(envs: gym.vector.VectorEnv, tokenizer: Any, generate_batch: GenerateBatch,
                   *, seeds: Sequence[int | None],
                   options: Sequence[dict[str, Any] | None] | None = None
                   ) -> list[TokenTrajectory]:
    """One episode in each sub-env; `generate_batch(contexts) -> new ids` is the policy."""
    if len(seeds) != envs.num_envs or (options is not None and len(options) != len(seeds)):
        raise ValueError(f"need one seed (and one options dict) per sub-env: "
                         f"{envs.num_envs} sub-envs, {len(seeds)} seeds")
    return play_on_vector(envs, tokenizer, batched_ids(generate_batch),
                          zip(seeds, options or [None] * len(seeds), strict=True))


__all__ = ["Request", "TokenEpisode", "batched_ids", "play_on_vector", "rollout_episode",
           "rollout_vector"]
