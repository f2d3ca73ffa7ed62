"""`GRPOTrainer`: process-supervised GRPO on whole multi-turn episodes of the env.

One training step: sample `prompts_per_step` tasks; play `group_size` episodes of each
(same task through `reset(options={"index": i})`, different seeds) token-in/token-out;
turn the group's outcome and per-turn process rewards into token advantages and drop
trajectories with void turns (`samples.training_samples`); then `epochs_per_batch`
optimizer steps on the loss of `loss.grpo_loss`, each accumulated over
`gradient_accumulation_steps` micro-batches. Set-up, resume, logging and saving are
`base.Trainer`'s; the task sampler's RNG is this trainer's own checkpointed state.

The single-process CPU/GPU path is the default. Started by `torchrun` or
`accelerate launch` (WORLD_SIZE > 1) every rank plays its own prompts (seeded by rank),
so a step trains on WORLD_SIZE x prompts_per_step groups; rank 0 logs and saves.

With `rollout_workers > 0` a single trainer process plays its episodes on Ray actors
(`agents.rollout.on_ray.RayRollouts`) and pushes the new weights to them after each update; this
is refused under torchrun/accelerate, whose ranks already play rollouts in parallel.
"""

from __future__ import annotations

import copy
import os
import time
import warnings
from collections import defaultdict
from contextlib import nullcontext
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.rollout import TokenTrajectory
from agents.rollout.in_process import Rollouts
from agents.rollout.on_ray import RayRollouts

from ..base import Trainer
from ..batches import micro_batches, token_logprobs
from ..metrics import episode_stats
from .config import GRPOConfig
from .loss import grpo_loss
from .samples import training_samples

STAT_KEYS = ("loss", "policy", "kl", "entropy", "llds", "clip_low_frac", "clip_high_frac",
             "mean_ll")


class GRPOTrainer(Trainer):
    """Train a policy with GRPO: `GRPOTrainer(config).train()`.

    Args:
        config: the run's settings.
        model, tokenizer: an already loaded policy, trained in place (else `config.model`
            is loaded; a GGUF model is de-quantized to a plain copy first).
        vector_env: a Gymnasium vector env of your own (any wrappers, sync or async)
            whose sub-envs play the training episodes; it must serve
            `config.train_data`, and also evaluates when `eval_data` is None. Without
            it, `config.env_vectorization` decides.
    """

    project = "deeptool-grpo"
    config: GRPOConfig

    def __init__(self, config: GRPOConfig, *, model: Any = None, tokenizer: Any = None,
                 vector_env: gym.vector.VectorEnv | None = None):
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if config.rollout_workers and world > 1:
            raise ValueError(
                f"rollout_workers > 0 needs a single trainer process, not WORLD_SIZE={world}:"
                " under torchrun/accelerate every rank already plays its own rollouts")
        if vector_env is not None and config.rollout_workers:
            raise ValueError("a vector_env plays in this process: use rollout_workers=0")
        super().__init__(config, model=model, tokenizer=tokenizer)
        self._warned_all_void = False
        self.rollouts = self._make_rollouts(vector_env)  # after resume: the resumed weights
        self.generator = getattr(self.rollouts, "generator", None)  # in-process only
        self.batcher = getattr(self.rollouts, "batcher", None)
        self.env, self.eval_env = (self.rollouts.envs("train", 1)[0],
                                   self.rollouts.envs("eval", 1)[0])
        tasks, eval_tasks = len(self.env.unwrapped.tasks), len(self.eval_env.unwrapped.tasks)
        held_out = min(config.eval_size, eval_tasks)
        self.eval_indices = list(range(eval_tasks - held_out, eval_tasks))
        self.train_count = tasks - held_out if config.eval_data is None else tasks
        if self.train_count <= 0:
            self.close()
            raise ValueError(f"eval_size {config.eval_size} leaves no training task")

    def prepare(self) -> None:
        """The frozen reference (full fine-tuning with KL; LoRA disables its adapter
        instead) and the task sampler, seeded by rank."""
        self.total_steps = self.config.max_steps
        self.ref_model = None
        if self.config.kl_coef > 0 and not self.lora:
            self.ref_model = copy.deepcopy(self.model).requires_grad_(False)
        self.task_rng = np.random.default_rng(self.config.seed + self.rank)

    def state_dict(self) -> dict[str, Any]:
        return {"task_rng": self.task_rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.task_rng.bit_generator.state = state["task_rng"]

    def _make_rollouts(self, vector_env: gym.vector.VectorEnv | None) -> Rollouts | RayRollouts:
        """In-process rollouts, or Ray workers when `rollout_workers > 0`."""
        config = self.config
        if not config.rollout_workers:
            return Rollouts(config, self.model, self.tokenizer, seed=config.seed + self.rank,
                            vector_env=vector_env)
        return RayRollouts(config, self.model, self.tokenizer, seed=config.seed)

    def collect(self) -> list[list[TokenTrajectory]]:
        """`prompts_per_step` groups of `group_size` episodes with the current policy."""
        config, count = self.config, self.train_count
        indices = self.task_rng.choice(count, size=config.prompts_per_step,
                                       replace=count < config.prompts_per_step)
        jobs = [(int(index), int(self.task_rng.integers(2**31)))
                for index in indices for _ in range(config.group_size)]
        played, size = self.play("train", jobs), config.group_size
        return [played[i:i + size] for i in range(0, len(played), size)]

    def play(self, pool: str, jobs: list[tuple[int, int]]) -> list[TokenTrajectory]:
        """Episodes of (task index, seed) jobs of the `"train"` or `"eval"` tasks, in job
        order (in this process or on the Ray workers)."""
        return self.rollouts.play(pool, jobs)

    def _fixed_logprobs(self, batch: dict[str, torch.Tensor]) -> None:
        """Rollout-time (old) and reference log-probabilities, computed once."""
        temperature = self.config.temperature or 1.0
        with torch.no_grad():
            if self.config.epochs_per_batch > 1:
                batch["old"], _ = token_logprobs(self.model, batch["ids"], batch["attn"],
                                                 temperature=temperature, start=batch["start"])
            if self.config.kl_coef > 0:
                ref, context = self.ref_model, nullcontext()
                if ref is None:  # LoRA: the reference is the base model, adapter off
                    ref, context = self.model, self.model.disable_adapter()
                with context:
                    batch["ref"], _ = token_logprobs(ref, batch["ids"], batch["attn"],
                                                     temperature=temperature,
                                                     start=batch["start"])

    def _warn_nothing_trained(self) -> None:
        if not self._warned_all_void:
            self._warned_all_void = True
            warnings.warn(
                f"step {self.step + 1}: every trajectory had a void turn (no code, no "
                "answer) and the void-turn filter dropped it, so nothing was trained. A "
                "policy that does not write actions yet learns nothing this way: start "
                "from an SFT cold start (`deeptool-train sft`) or set "
                "filter_void_turns: false", stacklevel=3)

    def update(self, groups: list[list[TokenTrajectory]]) -> dict[str, float]:
        """Advantages, the void-turn filter and the optimizer steps on one batch.

        With one epoch the old log-probabilities equal the current ones (same weights,
        same inputs), so the forward pass of the update provides them (detached)."""
        config = self.config
        samples, dropped = training_samples(groups, process_weight=config.process_weight,
                                            filter_void=config.filter_void_turns)
        stats: dict[str, float] = defaultdict(float, dropped_void=dropped)
        if not samples:
            if dropped:
                self._warn_nothing_trained()
            return dict(stats)
        batches = micro_batches(samples, config.gradient_accumulation_steps,
                                pad_id=self.tokenizer.pad_token_id or 0,
                                device=next(self.model.parameters()).device)
        for batch in batches:
            self._fixed_logprobs(batch)
        tokens = sum(float(b["mask"].sum()) for b in batches)
        sequences = sum(float((b["mask"].sum(-1) > 0).sum()) for b in batches)
        epochs = config.epochs_per_batch

        def loss_of(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            new, entropy = token_logprobs(
                self.train_model, batch["ids"], batch["attn"],
                temperature=config.temperature or 1.0, with_entropy=True,
                entropy_grad=config.entropy_coef > 0, start=batch["start"])
            terms = grpo_loss(
                new, batch.get("old", new.detach()), batch["adv"], batch["mask"],
                clip_low=config.clip_low, clip_high=config.clip_high,
                ref_logp=batch.get("ref"), kl_coef=config.kl_coef, entropy=entropy,
                entropy_coef=config.entropy_coef, llds_coef=config.llds_coef,
                num_tokens=tokens, num_sequences=sequences)
            for key in STAT_KEYS:
                stats[key] += float(getattr(terms, key).detach()) / epochs
            return terms.loss

        for _ in range(epochs):
            stats["grad_norm"] += self.optimizer_step(batches, loss_of) / epochs
        self.rollouts.sync_weights(self.model)
        stats.update(trained_sequences=sequences, trained_tokens=tokens)
        return dict(stats)

    def train_step(self) -> dict[str, Any]:
        """Collect one batch of episodes and update on it; returns the step's metrics."""
        start = time.perf_counter()
        groups = self.collect()
        rolled = time.perf_counter()
        stats = self.update(groups)
        self.step += 1
        return {"step": self.step, **episode_stats(groups), **stats,
                "time_rollout": rolled - start, "time_update": time.perf_counter() - rolled,
                "time": time.perf_counter() - start}

    def evaluate(self) -> dict[str, float]:
        """Mean reward of the held-out episodes (none: `{}`), with a fixed sampling seed
        (the same random numbers at every evaluation) that leaves the training RNG
        untouched."""
        if not self.eval_indices:
            return {}
        with torch.random.fork_rng():
            torch.manual_seed(self.config.seed + 10_000)
            played = self.play("eval", [(index, self.config.seed + i)
                                        for i, index in enumerate(self.eval_indices)])
        stats = episode_stats([played])
        return {"eval_reward": stats["reward_mean"], "eval_outcome": stats["outcome_mean"]}

    def close(self) -> None:
        """Release the envs, a vLLM engine, the Ray workers and the metrics reporters."""
        self.rollouts.close()
        super().close()
