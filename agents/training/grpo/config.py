"""`GRPOConfig`: every knob of the GRPO trainer, typed, documented and loadable from YAML.

One flat dataclass so that a YAML file, the CLI (`--group-size 4`) and Python code all
name a setting the same way (see `agents.settings`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..policy import PolicySettings
from ..settings import check, check_choice

GENERATION_BACKENDS = ("hf", "vllm")
VECTORIZATION = ("threads", "sync", "async")
REPORTERS = ("tensorboard", "wandb")


@dataclass
class GRPOConfig(PolicySettings):
    """Settings of one GRPO run (defaults in brackets). The policy fields (model, device,
    dtype, finetune, lora_*) are those of `agents.training.policy.PolicySettings`.

    Data and model:
        env ["DeepTool-Math-v0"]: Gymnasium id of the environment.
        train_data [None]: the env's `tasks` (benchmark name, JSONL path, `"procedural"`
            or `"procedural:<family>"`); None keeps the env's default.
        env_options [{}]: further `gym.make` options (e.g. `{"reward": "outcome"}`).
        eval_data [None]: tasks of the held-out evaluation; None takes them from the end
            of the training tasks, which training then never samples.
        eval_size [0]: held-out episodes per evaluation (0: no evaluation).
        eval_every [0]: evaluate every this many steps (and before the first step and
            after the last); 0 evaluates only when `eval_size > 0` at start and end.
        output_dir ["runs/grpo"]: checkpoints and `metrics.jsonl` go here.
    Rollouts:
        group_size [8]: G, episodes per prompt (same task, different seeds).
        prompts_per_step [4]: distinct tasks per training step.
        max_turns [4]: assistant turns per episode.
        max_tokens_per_turn [256]: new tokens per turn.
        max_tokens_per_episode [2048]: the whole context (prompt, turns, observations)
            in model tokens; the env truncates the episode when it is reached.
        temperature [1.0], top_p [1.0]: sampling of the rollouts.
        rollout_concurrency [0]: episodes played at once, their turns generated as one
            batch (0: every episode of the step; 1: one after the other).
        env_vectorization ["threads"]: how those episodes step their envs: `"threads"`
            (one env per episode, stepped in turn, in this process), `"sync"` or
            `"async"` (a `gym.make_vec` of that many sub-envs, played in lockstep by
            `rollout_vector`; async steps them in parallel processes, so the tool calls
            of a round run at the same time).
        generation ["hf"]: `"hf"` (transformers `generate`) or `"vllm"` (optional).
        vllm_kwargs [{}]: extra `vllm.LLM` arguments. Under torchrun on GPUs every rank
            runs its own engine on its own device with vLLM's `external_launcher`
            executor (TRL's colocate mode) unless this sets another one.
    Scale-out (Ray rollouts, `pip install 'deeptool-gym[ray]'`):
        rollout_workers [0]: Ray actors that play the episodes, each with its own copy
            of the policy, envs and generator; a step's jobs are split into contiguous
            chunks, one per worker, and the trained weights are pushed to them after
            each update (0: rollouts in the trainer process). `rollout_concurrency`
            applies within each worker. Needs a single trainer process (refused when
            WORLD_SIZE > 1).
        ray_address [None]: the Ray cluster: None joins `$RAY_ADDRESS` if set and
            otherwise starts a local instance (shut down by `close()`); `"auto"` joins
            the cluster of `ray start --head`; `"local"` always starts a new one; or
            `"ray://host:10001"`. An already initialised Ray is used as it is.
        rollout_worker_cpus [1.0]: CPUs Ray reserves per worker (its torch threads).
        rollout_worker_gpus [0.0]: GPUs per worker (> 0: its policy runs on CUDA;
            fractions share a GPU).
    Optimisation:
        max_steps [100]: training steps (one rollout batch, then its update, each).
        learning_rate [1e-6]: AdamW learning rate (LoRA usually wants 1e-5 to 1e-4).
        weight_decay [0.0], max_grad_norm [1.0]: AdamW decay; gradient clipping.
        epochs_per_batch [1]: optimiser steps on each rollout batch (PPO epochs).
        gradient_accumulation_steps [1]: micro-batches one optimiser step is split into.
        clip_low [0.2], clip_high [0.28]: the ratio is clipped to
            [1 - clip_low, 1 + clip_high] ("clip-higher", DAPO).
        kl_coef [0.0]: weight of the k3 KL to a frozen reference; 0 loads no reference.
        entropy_coef [0.0]: entropy bonus weight.
        process_weight [1.0]: weight of the per-turn process advantage.
        seed [0]: seeds tasks, sampling and initialisation.
    Stabilisers:
        filter_void_turns [True]: drop trajectories with a turn that has neither code nor
            answer (SimpleTIR) from the loss.
        max_invalid_turns [2]: the env ends an episode after this many invalid turns in
            a row (None: the env's default).
        llds_coef [0.1]: lambda of the likelihood-preserving penalty
            relu(old_ll - new_ll) on sequences whose mean log-likelihood fell (0: off).
    Bookkeeping:
        save_every [50]: checkpoint every this many steps (0: only at the end).
        keep_checkpoints [2]: most recent checkpoints kept.
        resume_from [None]: `"latest"` or a checkpoint directory to resume from.
        report_to [[]]: `"tensorboard"` and/or `"wandb"` (used only when installed).
    """

    env: str = "DeepTool-Math-v0"
    train_data: str | None = None
    env_options: dict[str, Any] = field(default_factory=dict)
    eval_data: str | None = None
    eval_size: int = 0
    eval_every: int = 0
    output_dir: str = "runs/grpo"
    group_size: int = 8
    prompts_per_step: int = 4
    max_turns: int = 4
    max_tokens_per_turn: int = 256
    max_tokens_per_episode: int = 2048
    temperature: float = 1.0
    top_p: float = 1.0
    rollout_concurrency: int = 0
    env_vectorization: str = "threads"
    generation: str = "hf"
    vllm_kwargs: dict[str, Any] = field(default_factory=dict)
    rollout_workers: int = 0
    ray_address: str | None = None
    rollout_worker_cpus: float = 1.0
    rollout_worker_gpus: float = 0.0
    max_steps: int = 100
    learning_rate: float = 1e-6
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    epochs_per_batch: int = 1
    gradient_accumulation_steps: int = 1
    clip_low: float = 0.2
    clip_high: float = 0.28
    kl_coef: float = 0.0
    entropy_coef: float = 0.0
    process_weight: float = 1.0
    seed: int = 0
    filter_void_turns: bool = True
    max_invalid_turns: int | None = 2
    llds_coef: float = 0.1
    save_every: int = 50
    keep_checkpoints: int = 2
    resume_from: str | None = None
    report_to: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()  # coerces floats, checks the policy fields
        positive = ("group_size", "prompts_per_step", "max_turns", "max_tokens_per_turn",
                    "max_tokens_per_episode", "max_steps", "epochs_per_batch",
                    "gradient_accumulation_steps", "keep_checkpoints")
        non_negative = ("eval_size", "eval_every", "save_every", "rollout_concurrency",
                        "rollout_worker_gpus",
                        "learning_rate", "weight_decay", "max_grad_norm", "clip_low",
                        "clip_high", "kl_coef", "entropy_coef", "process_weight",
                        "llds_coef", "temperature")
        for name in positive:
            check(name, getattr(self, name), lambda v: v > 0, "a positive integer", int)
        for name in non_negative:
            check(name, getattr(self, name), lambda v: v >= 0, "a number >= 0", float)
        check("rollout_workers", self.rollout_workers, lambda v: v >= 0,
              "an integer >= 0", int)
        check("rollout_worker_cpus", self.rollout_worker_cpus, lambda v: v > 0,
              "a number > 0", float)
        if self.ray_address is not None:
            check("ray_address", self.ray_address, lambda v: v.strip() != "",
                  "an address, 'auto', 'local' or null", str)
        if self.clip_low >= 1:
            raise ValueError(f"clip_low must be below 1, got {self.clip_low}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_invalid_turns is not None:
            check("max_invalid_turns", self.max_invalid_turns, lambda v: v > 0,
                   "a positive integer or null", int)
        check_choice("generation", self.generation, GENERATION_BACKENDS)
        check_choice("env_vectorization", self.env_vectorization, VECTORIZATION)
        for reporter in self.report_to:
            check_choice("report_to", reporter, REPORTERS)
