"""`GRPOConfig`: every knob of the GRPO trainer, typed, documented and loadable from YAML.

One flat dataclass so that a YAML file, the CLI (`--group-size 4`) and Python code all
name a setting the same way (see `deeptool_env.settings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deeptool_env.settings import (
    BELOW_ONE,
    NON_NEGATIVE,
    NOT_BLANK,
    POSITIVE,
    PROBABILITY_MASS,
)

from ..settings import TrainerSettings, like, setting

GENERATION_BACKENDS = ("hf", "vllm")
VECTORIZATION = ("threads", "sync", "async")


@dataclass
class GRPOConfig(TrainerSettings):
    """Settings of one GRPO run: the policy and trainer fields of `TrainerSettings`, then
    the env, the rollouts, their scale-out, the loss and its stabilisers."""

    output_dir: str = like(TrainerSettings, "output_dir", default="runs/grpo")
    learning_rate: float = like(TrainerSettings, "learning_rate", default=1e-6)
    save_every: int = like(TrainerSettings, "save_every", default=50)
    env: str = setting("DeepTool-Math-v0", "Gymnasium id of the environment",
                       section="Data")
    train_data: str | None = setting(None, "the env's `tasks` (benchmark name, JSONL path, "
                                     "`procedural` or `procedural:<family>`); None keeps "
                                     "the env's default")
    env_options: dict[str, Any] = setting(help="further `gym.make` options (e.g. "
                                          "`{reward: outcome}`)", factory=dict)
    eval_data: str | None = setting(None, "tasks of the held-out evaluation; None takes "
                                    "them from the end of the training tasks, which "
                                    "training then never samples")
    eval_size: int = setting(0, "held-out episodes per evaluation (0: no evaluation)",
                             rule=NON_NEGATIVE)
    group_size: int = setting(8, "G, episodes per prompt (same task, different seeds)",
                              rule=POSITIVE, section="Rollouts")
    prompts_per_step: int = setting(4, "distinct tasks per training step", rule=POSITIVE)
    max_turns: int = setting(4, "assistant turns per episode", rule=POSITIVE)
    max_tokens_per_turn: int = setting(256, "new tokens per turn", rule=POSITIVE)
    max_tokens_per_episode: int = setting(2048, "the whole context (prompt, turns, "
                                          "observations) in model tokens; the env "
                                          "truncates the episode when it is reached",
                                          rule=POSITIVE)
    temperature: float = setting(1.0, "sampling temperature of the rollouts",
                                 rule=NON_NEGATIVE)
    top_p: float = setting(1.0, "nucleus sampling of the rollouts", rule=PROBABILITY_MASS)
    rollout_concurrency: int = setting(0, "episodes played at once, their turns generated "
                                       "as one batch (0: every episode of the step; 1: one "
                                       "after the other)", rule=NON_NEGATIVE)
    env_vectorization: str = setting(
        "threads", "how those episodes step their envs: `threads` (one env per episode, "
        "stepped in turn, in this process), `sync` or `async` (a `gym.make_vec` of that "
        "many sub-envs; async steps them in parallel processes, so the tool calls of a "
        "round run at the same time)", choices=VECTORIZATION)
    generation: str = setting("hf", "`hf` (transformers `generate`) or `vllm` (optional)",
                              choices=GENERATION_BACKENDS)
    vllm_kwargs: dict[str, Any] = setting(
        help="extra `vllm.LLM` arguments; under torchrun on GPUs every rank runs its own "
        "engine on its own device with vLLM's `external_launcher` executor (TRL's colocate "
        "mode) unless this sets another one", factory=dict)
    rollout_workers: int = setting(
        0, "Ray actors that play the episodes (`pip install 'deeptool-gym[ray]'`), each "
        "with its own copy of the policy, envs and generator; a step's jobs are split into "
        "contiguous chunks, one per worker, and the trained weights are pushed to them "
        "after each update (0: rollouts in the trainer process). `rollout_concurrency` "
        "applies within each worker. Needs a single trainer process (refused when "
        "WORLD_SIZE > 1)", rule=NON_NEGATIVE, section="Scale-out")
    ray_address: str | None = setting(
        None, "the Ray cluster: None joins `$RAY_ADDRESS` if set and otherwise starts a "
        "local instance (shut down by `close()`); `auto` joins the cluster of `ray start "
        "--head`; `local` always starts a new one; or `ray://host:10001`. An already "
        "initialised Ray is used as it is", rule=NOT_BLANK)
    rollout_worker_cpus: float = setting(1.0, "CPUs Ray reserves per worker (its torch "
                                         "threads)", rule=POSITIVE)
    rollout_worker_gpus: float = setting(0.0, "GPUs per worker (> 0: its policy runs on "
                                         "CUDA; fractions share a GPU)", rule=NON_NEGATIVE)
    max_steps: int = setting(100, "training steps (one rollout batch, then its update, "
                             "each)", rule=POSITIVE, section="Loss")
    epochs_per_batch: int = setting(1, "optimiser steps on each rollout batch (PPO epochs)",
                                    rule=POSITIVE)
    clip_low: float = setting(0.2, "the ratio is clipped to [1 - clip_low, 1 + clip_high] "
                              "(\"clip-higher\", DAPO)", rule=BELOW_ONE)
    clip_high: float = setting(0.28, "upper clip of the ratio (see clip_low)",
                               rule=NON_NEGATIVE)
    kl_coef: float = setting(0.0, "weight of the k3 KL to a frozen reference; 0 loads no "
                             "reference", rule=NON_NEGATIVE)
    entropy_coef: float = setting(0.0, "entropy bonus weight", rule=NON_NEGATIVE)
    process_weight: float = setting(1.0, "weight of the per-turn process advantage",
                                    rule=NON_NEGATIVE)
    filter_void_turns: bool = setting(True, "drop trajectories with a turn that has neither "
                                      "code nor answer (SimpleTIR) from the loss",
                                      section="Stabilisers")
    max_invalid_turns: int | None = setting(2, "the env ends an episode after this many "
                                            "invalid turns in a row (None: the env's "
                                            "default)", rule=POSITIVE)
    llds_coef: float = setting(0.1, "lambda of the likelihood-preserving penalty "
                               "relu(old_ll - new_ll) on sequences whose mean "
                               "log-likelihood fell (0: off)", rule=NON_NEGATIVE)
