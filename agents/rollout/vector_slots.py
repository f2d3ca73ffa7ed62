"""A Gymnasium vector env as per-episode envs, so user-supplied vector envs plug into the
rollout loop: `VectorSlots(envs).acquire()` hands out a sub-env as an object with
`reset(seed=, options=)` and `step(action)`, as a single env has.

A slot resets alone (`options["reset_mask"]`). A vector env steps every sub-env at once,
so `step` waits until every live slot has its action, then one `envs.step` serves them
all (with `"async"` vectorization the tool calls of that step run in parallel
processes); idle sub-envs get an empty action. A slot is free again the moment its
episode ends, for the next episode to reset it. The vector env must use the default
`next_step` autoreset: an idle sub-env that ended resets on the next step and plays a
throw-away episode until a slot reset takes it over.
"""

from __future__ import annotations

import threading
from typing import Any

import gymnasium as gym
import numpy as np


def sub_info(info: dict[Any, Any], j: int) -> dict[str, Any]:
    """Sub-env `j`'s entries of a vector env's info dict (dicts are batched key by key,
    `_key` masks say which sub-envs have an entry)."""
    mine: dict[str, Any] = {}
    for key, value in info.items():
        mask = info.get(f"_{key}") if isinstance(key, str) else None
        if not isinstance(key, str) or key.startswith("_") or (mask is not None
                                                                and not mask[j]):
            continue
        mine[key] = sub_info(value, j) if isinstance(value, dict) else value[j]
    return mine


class Slot:
    """Sub-env `index` of a `VectorSlots`, used as a single env by one episode."""

    def __init__(self, slots: VectorSlots, index: int) -> None:
        self.slots, self.index = slots, index

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[Any, dict[str, Any]]:
        return self.slots.reset(self.index, seed, options)

    def step(self, action: str) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        return self.slots.step(self.index, action)


class VectorSlots:
    """The sub-envs of `envs` handed out one episode at a time (see the module)."""

    def __init__(self, envs: gym.vector.VectorEnv) -> None:
        mode = envs.metadata.get("autoreset_mode")
        if mode is not None and getattr(mode, "value", mode) != "NextStep":
            raise ValueError(f"vector rollouts need the default next_step autoreset, "
                             f"got {mode}")
        self.envs, self.count = envs, envs.num_envs
        self.cond = threading.Condition()
        self.free = list(range(self.count))
        self.live: set[int] = set()
        self.actions: dict[int, str] = {}
        self.results: dict[int, tuple[Any, float, bool, bool, dict[str, Any]]] = {}
        self.aborted = False

    def acquire(self) -> Slot:
        """A free sub-env (one is free whenever fewer than `num_envs` episodes live)."""
        with self.cond:
            if not self.free:
                raise RuntimeError("every sub-env is playing an episode")
            return Slot(self, self.free.pop(0))

    def reset(self, j: int, seed: int | None, options: dict[str, Any] | None
              ) -> tuple[Any, dict[str, Any]]:
        mask = np.arange(self.count) == j
        seeds = [seed if i == j else None for i in range(self.count)]
        with self.cond:
            observations, info = self.envs.reset(
                seed=seeds, options={**(options or {}), "reset_mask": mask})
            self.live.add(j)
            return observations[j], sub_info(info, j)

    def step(self, j: int, action: str) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        with self.cond:
            self.actions[j] = action
            if self.live <= self.actions.keys():
                self._step_all()
            else:
                self.cond.wait_for(lambda: j in self.results or self.aborted)
            if j not in self.results:
                raise RuntimeError("the vector rollout was aborted")
            return self.results.pop(j)

    def _step_all(self) -> None:
        """One `envs.step` with every waiting action (the lock is held)."""
        actions = tuple(self.actions.get(i, "") for i in range(self.count))
        try:
            observations, rewards, terminated, truncated, info = self.envs.step(actions)
        except BaseException:
            self.aborted = True
            self.cond.notify_all()
            raise
        for i in self.actions:
            self.results[i] = (observations[i], float(rewards[i]), bool(terminated[i]),
                               bool(truncated[i]), sub_info(info, i))
            if terminated[i] or truncated[i]:
                self.live.discard(i)
                self.free.append(i)
        self.actions.clear()
        self.cond.notify_all()

    def abort(self) -> None:
        """Release every waiting step (they raise): the run is over."""
        with self.cond:
            self.aborted = True
            self.cond.notify_all()
