"""Where the GRPO trainer's episodes are played in its own process: `Rollouts` plays
(task index, seed) jobs with the policy being trained, `rollout_concurrency` episodes at a
time, their turns generated in batches. `ray_rollout.RayRollouts` is the same over Ray
workers, each holding a `Rollouts` of its own.
"""

from __future__ import annotations

import os
import threading
from functools import partial
from typing import Any

import gymnasium as gym

from agents.generation.legacy import HFGenerator, VLLMGenerator

from .generation import EpisodeBatcher, env_options, make_env
from .rollout import TokenTrajectory, rollout_episode
from .vector_rollout import rollout_vector

Job = tuple[int, int]  # (task index, episode seed)


def make_generator(config: Any, model: Any, tokenizer: Any, seed: int) -> Any:
    """The `GRPOConfig.generation` backend on `model` (vLLM gets its weights pushed)."""
    sampling = {"max_new_tokens": config.max_tokens_per_turn,
                "temperature": config.temperature, "top_p": config.top_p}
    if config.generation == "hf":
        return HFGenerator(model, tokenizer, **sampling)
    from agents.vllm_agent import resolve_vllm_model

    generator = VLLMGenerator(resolve_vllm_model(config.model), seed=seed,
                              llm_kwargs=vllm_engine_kwargs(config), **sampling)
    generator.sync_weights(model)
    return generator


def vllm_engine_kwargs(config: Any) -> dict[str, Any]:
    """`config.vllm_kwargs`, plus what one colocated engine per rank needs under torchrun
    on GPUs (as TRL's colocate mode): the rank's own device and vLLM's
    `external_launcher` executor, which joins the ranks torchrun started."""
    kwargs = dict(config.vllm_kwargs)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and config.device.startswith("cuda"):
        import torch

        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        kwargs.setdefault("distributed_executor_backend", "external_launcher")
    return kwargs


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
    their turns generated in batches: each episode on its own env (`env_vectorization`
    "threads"), or all of them on the sub-envs of a vector env (`"sync"`, `"async"`, or
    the `vector_env` given, which must play the config's tasks)."""

    def __init__(self, config: Any, model: Any, tokenizer: Any, *, seed: int,
                 vector_env: gym.vector.VectorEnv | None = None) -> None:
        super().__init__(config, tokenizer)
        self.generator = make_generator(config, model, tokenizer, seed)
        self.batcher = EpisodeBatcher(self.generator.generate_batch)
        self.vector: dict[str, gym.vector.VectorEnv] = {}
        self.owned: list[gym.vector.VectorEnv] = []
        if vector_env is not None:
            self.vector["train"] = vector_env
            if config.eval_data is None:
                self.vector["eval"] = vector_env

    def vector_env(self, pool: str, count: int) -> gym.vector.VectorEnv | None:
        """The pool's vector env (made with `count` sub-envs on first use), or None when
        episodes play on their own envs."""
        if pool not in self.vector and self.config.env_vectorization != "threads":
            tasks = self.config.train_data if pool == "train" else self.config.eval_data
            self.vector[pool] = gym.make_vec(
                self.config.env, num_envs=count,
                vectorization_mode=self.config.env_vectorization,
                **env_options(self.config, self.tokenizer, tasks))
            self.owned.append(self.vector[pool])
        return self.vector.get(pool)

    def play(self, pool: str, jobs: list[Job]) -> list[TokenTrajectory]:
        width = self.config.rollout_concurrency or len(jobs)
        vector = self.vector_env(pool, min(width, len(jobs)))
        if vector is not None:
            return self._play_vector(vector, jobs)
        envs, played = self.envs(pool, min(width, len(jobs))), []
        for start in range(0, len(jobs), width):
            played += self.batcher.run([
                partial(rollout_episode, env, self.tokenizer, seed=seed,
                        options={"index": index})
                for env, (index, seed) in zip(envs, jobs[start:start + width], strict=False)])
        return played

    def _play_vector(self, envs: gym.vector.VectorEnv, jobs: list[Job]
                     ) -> list[TokenTrajectory]:
        """Jobs in rounds of `num_envs` episodes (a short last round is padded with
        repeats of its last job, whose episodes are dropped)."""
        size, played = envs.num_envs, []
        for first in range(0, len(jobs), size):
            chunk = jobs[first:first + size]
            padded = chunk + [chunk[-1]] * (size - len(chunk))
            played += rollout_vector(
                envs, self.tokenizer, self.generator.generate_batch,
                seeds=[seed for _, seed in padded],
                options=[{"index": index} for index, _ in padded])[:len(chunk)]
        return played

    def sync_weights(self, model: Any) -> None:
        """After an update: the generator's engine gets the new weights (HF shares them)."""
        self.generator.sync_weights(model)

    def close(self) -> None:
        super().close()
        for vector in self.owned:
            vector.close()
        if hasattr(self.generator, "close"):
            self.generator.close()
