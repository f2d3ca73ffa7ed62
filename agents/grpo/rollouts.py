"""Where the GRPO trainer's episodes are played in its own process: `Rollouts` plays
(task index, seed) jobs with the policy being trained, `rollout_concurrency` episodes at a
time, their turns generated in batches. `ray_rollout.RayRollouts` is the same over Ray
workers, each holding a `Rollouts` of its own.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

import gymnasium as gym

from .generation import EpisodeBatcher, HFGenerator, VLLMGenerator, make_env
from .rollout import TokenTrajectory, rollout_episode

Job = tuple[int, int]  # (task index, episode seed)


def make_generator(config: Any, model: Any, tokenizer: Any, seed: int) -> Any:
    """The `GRPOConfig.generation` backend on `model` (vLLM gets its weights pushed)."""
    sampling = {"max_new_tokens": config.max_tokens_per_turn,
                "temperature": config.temperature, "top_p": config.top_p}
    if config.generation == "hf":
        return HFGenerator(model, tokenizer, **sampling)
    from ..vllm_agent import resolve_vllm_model

    generator = VLLMGenerator(resolve_vllm_model(config.model), seed=seed,
                              llm_kwargs=config.vllm_kwargs, **sampling)
    generator.sync_weights(model)
    return generator


class EnvPools:
    """Envs of the training and evaluation tasks, made on demand and kept for reuse (the
    evaluation pool is the training pool when `eval_data` is None)."""

    def __init__(self, config: Any, tokenizer: Any) -> None:
        self.config, self.tokenizer = config, tokenizer
        self.lock = threading.Lock()
        self.pools: dict[str, list[gym.Env]] = {"train": []}
        self.pools["eval"] = self.pools["train"] if config.eval_data is None else []

    def envs(self, pool: str, count: int) -> list[gym.Env]:
        """At least `count` envs of the `"train"` or `"eval"` tasks."""
        envs = self.pools[pool]
        tasks = self.config.train_data if pool == "train" else self.config.eval_data
        while len(envs) < count:
            envs.append(make_env(self.config, self.tokenizer, tasks, self.lock))
        return envs

    def close(self) -> None:
        for env in {id(e): e for pool in self.pools.values() for e in pool}.values():
            env.close()


class Rollouts(EnvPools):
    """Plays jobs in this process on `model`, `rollout_concurrency` episodes at a time,
    their turns generated in batches."""

    def __init__(self, config: Any, model: Any, tokenizer: Any, *, seed: int) -> None:
        super().__init__(config, tokenizer)
        self.generator = make_generator(config, model, tokenizer, seed)
        self.batcher = EpisodeBatcher(self.generator.generate_batch)

    def play(self, pool: str, jobs: list[Job]) -> list[TokenTrajectory]:
        width = self.config.rollout_concurrency or len(jobs)
        envs, played = self.envs(pool, min(width, len(jobs))), []
        for start in range(0, len(jobs), width):
            played += self.batcher.run([
                partial(rollout_episode, env, self.tokenizer, seed=seed,
                        options={"index": index})
                for env, (index, seed) in zip(envs, jobs[start:start + width], strict=False)])
        return played

    def sync_weights(self, model: Any) -> None:
        """After an update: the generator's engine gets the new weights (HF shares them)."""
        self.generator.sync_weights(model)

    def close(self) -> None:
        super().close()
        if hasattr(self.generator, "close"):
            self.generator.close()
