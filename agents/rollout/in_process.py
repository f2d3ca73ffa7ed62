"""The GRPO trainer's episodes played in its own process: `Rollouts` plays (task index,
seed) jobs with the policy being trained through the rollout loop, `rollout_concurrency`
episodes live at once, every ready turn generated in one batch. Episodes play on envs of
their own (`env_vectorization` "threads": stepped on the loop's thread pool, so tool calls
run in parallel) or on the sub-envs of a vector env ("sync", "async", or the
`vector_env` given). `on_ray.RayRollouts` runs this same class on Ray workers.
"""

from __future__ import annotations

import os
import queue
from typing import Any

import gymnasium as gym

from agents.generation import Generator, Sampling

from .scheduler import Batched, Request, play_in_order
from .token_episodes import TokenEpisode, play_on_vector
from .token_trajectory import TokenTrajectory

Job = tuple[int, int]  # (task index, episode seed)


def make_generator(config: Any, model: Any, tokenizer: Any, seed: int) -> Generator:
    """The `GRPOConfig.generation` backend on `model` (vLLM gets its weights pushed)."""
    if config.generation == "hf":
        from agents.generation.hf import HFGenerator

        width = config.rollout_concurrency or config.prompts_per_step * config.group_size
        return HFGenerator(model, tokenizer, batch_size=max(8, width))
    from agents.generation.vllm import VLLMGenerator, resolve_vllm_model, trainer_llm_kwargs

    generator = VLLMGenerator(resolve_vllm_model(config.model), llm_kwargs=trainer_llm_kwargs(
        {"seed": seed, **vllm_engine_kwargs(config)}))
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


class EnvPools:
    """Envs of the training and evaluation tasks, made on demand and kept for reuse (the
    evaluation pool is the training pool when `eval_data` is None)."""

    def __init__(self, config: Any, tokenizer: Any) -> None:
        self.config, self.tokenizer = config, tokenizer
        self.pools: dict[str, list[gym.Env]] = {"train": []}
        self.pools["eval"] = self.pools["train"] if config.eval_data is None else []

    def tasks(self, pool: str) -> str | None:
        return self.config.train_data if pool == "train" else self.config.eval_data

    def envs(self, pool: str, count: int) -> list[gym.Env]:
        """At least `count` envs of the `"train"` or `"eval"` tasks."""
        envs = self.pools[pool]
        while len(envs) < count:
            envs.append(gym.make(self.config.env,
                                 **env_options(self.config, self.tokenizer, self.tasks(pool))))
        return envs

    def close(self) -> None:
        for env in {id(e): e for pool in self.pools.values() for e in pool}.values():
            env.close()


class Rollouts(EnvPools):
    """Plays jobs in this process on `model` (see the module docstring); `generator` is
    the generation layer's backend, `batcher` the loop's `Batched` backend over it."""

    def __init__(self, config: Any, model: Any, tokenizer: Any, *, seed: int,
                 vector_env: gym.vector.VectorEnv | None = None) -> None:
        super().__init__(config, tokenizer)
        self.generator = make_generator(config, model, tokenizer, seed)
        self.sampling = Sampling(max_new_tokens=config.max_tokens_per_turn,
                                 temperature=config.temperature, top_p=config.top_p)
        self.batcher = Batched(self.generate)
        self.vector: dict[str, gym.vector.VectorEnv] = {}
        self.owned: list[gym.vector.VectorEnv] = []
        if vector_env is not None:
            self.vector["train"] = vector_env
            if config.eval_data is None:
                self.vector["eval"] = vector_env

    def generate(self, requests: list[Request]) -> list[list[int]]:
        """The sampled ids of each request, seeded by its own seed."""
        generated = self.generator.generate([r.prompt for r in requests], self.sampling,
                                            [r.seed for r in requests])
        return [g.ids for g in generated]

    def vector_env(self, pool: str, count: int) -> gym.vector.VectorEnv | None:
        """The pool's vector env (made with `count` sub-envs on first use), or None when
        episodes play on their own envs."""
        if pool not in self.vector and self.config.env_vectorization != "threads":
            self.vector[pool] = gym.make_vec(
                self.config.env, num_envs=count,
                vectorization_mode=self.config.env_vectorization,
                **env_options(self.config, self.tokenizer, self.tasks(pool)))
            self.owned.append(self.vector[pool])
        return self.vector.get(pool)

    def play(self, pool: str, jobs: list[Job]) -> list[TokenTrajectory]:
        """The jobs' trajectories, in job order."""
        if not jobs:
            return []
        width = min(self.config.rollout_concurrency or len(jobs), len(jobs))
        vector = self.vector_env(pool, width)
        if vector is not None:
            return play_on_vector(vector, self.tokenizer, self.batcher,
                                  [(seed, {"index": index}) for index, seed in jobs])
        free: queue.SimpleQueue[gym.Env] = queue.SimpleQueue()
        for env in self.envs(pool, width):
            free.put(env)
        episodes = (TokenEpisode(free.get_nowait(), self.tokenizer, seed=seed,
                                 options={"index": index}, release=free.put)
                    for index, seed in jobs)
        return play_in_order(episodes, self.batcher, concurrency=width)

    def sync_weights(self, model: Any) -> None:
        """After an update: the generator's engine gets the new weights (HF shares them)."""
        self.generator.sync_weights(model)

    def close(self) -> None:
        super().close()
        for vector in self.owned:
            vector.close()
        self.generator.close()
