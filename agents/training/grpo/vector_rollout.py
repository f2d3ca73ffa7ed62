"""Token-in/token-out rollouts through a Gymnasium vector env: one episode per sub-env.

`rollout_vector(envs, tokenizer, generate_batch, seeds=..., options=...)` resets every
sub-env (each with its own options, through `reset_mask`), then plays all episodes in
lockstep: each round, the contexts of the live episodes go to `generate_batch` together
and the actions to one `envs.step`. With `gym.make_vec(..., vectorization_mode="async")`
the sub-envs step in their own processes, so the tool calls of a round run in parallel.
Sequences and masks are exactly those of `rollout_episode` (same helpers).

The vector env must use the default `next_step` autoreset: a sub-env whose episode ended
is handed an empty action while the others play on; its next step resets it and later
rounds play the throw-away episode that follows, whose results are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from agents.prompt import observation_message

from .rollout import TokenTrajectory, continue_after, finish, start

GenerateBatch = Callable[[list[list[int]]], list[list[int]]]


def _one(info: dict[Any, Any], j: int) -> dict[str, Any]:
    """Sub-env `j`'s entries of a vector env's info dict (dicts are batched key by key,
    `_key` masks say which sub-envs have an entry)."""
    mine: dict[str, Any] = {}
    for key, value in info.items():
        mask = info.get(f"_{key}") if isinstance(key, str) else None
        if not isinstance(key, str) or key.startswith("_") or (mask is not None
                                                                and not mask[j]):
            continue
        mine[key] = _one(value, j) if isinstance(value, dict) else value[j]
    return mine


def _reset(envs: gym.vector.VectorEnv, seeds: list[int | None],
           options: Sequence[dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Reset every sub-env with its own seed and options; their infos."""
    if all(o == options[0] for o in options):
        _, info = envs.reset(seed=seeds, options=dict(options[0] or {}))
        return [_one(info, j) for j in range(envs.num_envs)]
    infos = []
    for j in range(envs.num_envs):
        mask = np.arange(envs.num_envs) == j
        _, info = envs.reset(seed=seeds, options={**(options[j] or {}), "reset_mask": mask})
        infos.append(_one(info, j))
    return infos


def _check(envs: gym.vector.VectorEnv, seeds: Sequence[int | None],
           options: Sequence[Any] | None) -> None:
    mode = envs.metadata.get("autoreset_mode")
    if mode is not None and getattr(mode, "value", mode) != "NextStep":
        raise ValueError(f"rollout_vector needs the default next_step autoreset, got {mode}")
    if len(seeds) != envs.num_envs or (options is not None and len(options) != len(seeds)):
        raise ValueError(f"need one seed (and one options dict) per sub-env: "
                         f"{envs.num_envs} sub-envs, {len(seeds)} seeds")


def rollout_vector(envs: gym.vector.VectorEnv, tokenizer: Any, generate_batch: GenerateBatch,
                   *, seeds: Sequence[int | None],
                   options: Sequence[dict[str, Any] | None] | None = None
                   ) -> list[TokenTrajectory]:
    """One episode in each sub-env; `generate_batch(contexts) -> new ids` is the policy."""
    _check(envs, seeds, options)
    count = envs.num_envs
    infos = _reset(envs, list(seeds), list(options or [None] * count))
    messages = [[dict(m) for m in info["messages"]] for info in infos]
    started = [start(tokenizer, m) for m in messages]
    trajectories = [trajectory for trajectory, _ in started]
    rendered = [text for _, text in started]
    parse_errors: list[list[str | None]] = [[] for _ in range(count)]
    live, turn = [True] * count, 0
    while any(live):
        playing = [j for j in range(count) if live[j]]
        replies = generate_batch([list(trajectories[j].ids) for j in playing])
        actions, new_ids = [""] * count, dict(zip(playing, replies, strict=True))
        for j, ids in new_ids.items():
            trajectories[j].extend(list(ids), generated=True, turn=turn)
            actions[j] = tokenizer.decode(ids, skip_special_tokens=True)
            trajectories[j].actions.append(actions[j])
        observations, _, terminated, truncated, info = envs.step(tuple(actions))
        for j in playing:
            step_info = _one(info, j)
            parse_errors[j].append(step_info.get("parse_error"))
            if terminated[j] or truncated[j]:
                live[j] = False
                finish(trajectories[j], {**step_info, "parse_errors": parse_errors[j]})
                continue
            messages[j] += [{"role": "assistant", "content": actions[j]},
                            observation_message(str(observations[j]))]
            rendered[j] = continue_after(trajectories[j], tokenizer, rendered[j], actions[j],
                                         list(new_ids[j]), messages[j], turn)
        turn += 1
    return trajectories
