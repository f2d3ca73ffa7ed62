"""`GRPOConfig`: every knob of the GRPO trainer, typed, documented and loadable from YAML.

One flat dataclass so that a YAML file, the CLI (`--group-size 4`) and Python code all
name a setting the same way. Unknown keys are errors that suggest the closest field,
because a misspelt `klcoef: 0.1` that is silently ignored wastes a whole training run.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

GENERATION_BACKENDS = ("hf", "vllm")
FINETUNE_MODES = ("full", "lora")
REPORTERS = ("tensorboard", "wandb")


@dataclass
class GRPOConfig:
    """Settings of one GRPO run (defaults in brackets).

    Data and model:
        model [None]: model directory, `.gguf` file or hub id; None is the embedded
            SmolLM2-135M-Instruct (`agents.models.load_model`).
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
        device ["cpu"], dtype [None]: see `agents.models.load_model`.
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
        generation ["hf"]: `"hf"` (transformers `generate`) or `"vllm"` (optional).
        vllm_kwargs [{}]: extra `vllm.LLM` arguments.
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
        finetune ["full"]: `"full"` or `"lora"` (peft).
        lora_r [16], lora_alpha [32], lora_dropout [0.0],
            lora_target_modules ["all-linear"]: the LoRA adapter.
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

    model: str | None = None
    env: str = "DeepTool-Math-v0"
    train_data: str | None = None
    env_options: dict[str, Any] = field(default_factory=dict)
    eval_data: str | None = None
    eval_size: int = 0
    eval_every: int = 0
    output_dir: str = "runs/grpo"
    device: str = "cpu"
    dtype: str | None = None
    group_size: int = 8
    prompts_per_step: int = 4
    max_turns: int = 4
    max_tokens_per_turn: int = 256
    max_tokens_per_episode: int = 2048
    temperature: float = 1.0
    top_p: float = 1.0
    rollout_concurrency: int = 0
    generation: str = "hf"
    vllm_kwargs: dict[str, Any] = field(default_factory=dict)
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
    finetune: str = "full"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_target_modules: str | list[str] = "all-linear"
    seed: int = 0
    filter_void_turns: bool = True
    max_invalid_turns: int | None = 2
    llds_coef: float = 0.1
    save_every: int = 50
    keep_checkpoints: int = 2
    resume_from: str | None = None
    report_to: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.type == "float" and isinstance(getattr(self, f.name), (int, str)):
                setattr(self, f.name, _to_float(f.name, getattr(self, f.name)))
        positive = ("group_size", "prompts_per_step", "max_turns", "max_tokens_per_turn",
                    "max_tokens_per_episode", "max_steps", "epochs_per_batch",
                    "gradient_accumulation_steps", "lora_r", "keep_checkpoints")
        non_negative = ("eval_size", "eval_every", "save_every", "rollout_concurrency",
                        "learning_rate", "weight_decay", "max_grad_norm", "clip_low",
                        "clip_high", "kl_coef", "entropy_coef", "process_weight",
                        "lora_dropout", "llds_coef", "temperature")
        for name in positive:
            _check(name, getattr(self, name), lambda v: v > 0, "a positive integer", int)
        for name in non_negative:
            _check(name, getattr(self, name), lambda v: v >= 0, "a number >= 0", float)
        if self.clip_low >= 1:
            raise ValueError(f"clip_low must be below 1, got {self.clip_low}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_invalid_turns is not None:
            _check("max_invalid_turns", self.max_invalid_turns, lambda v: v > 0,
                   "a positive integer or null", int)
        _choice("generation", self.generation, GENERATION_BACKENDS)
        _choice("finetune", self.finetune, FINETUNE_MODES)
        for reporter in self.report_to:
            _choice("report_to", reporter, REPORTERS)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GRPOConfig:
        """Build from plain data, naming unknown keys (with the closest valid one)."""
        _reject_unknown(data)
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike,
                  overrides: dict[str, Any] | None = None) -> GRPOConfig:
        """Load a YAML mapping of fields; `overrides` (e.g. from the CLI) win over it."""
        import yaml

        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a GRPO config must be a YAML mapping of fields")
        return cls.from_dict({**data, **(overrides or {})})

    def with_overrides(self, **overrides: Any) -> GRPOConfig:
        """A copy with some fields changed (validated again)."""
        _reject_unknown(overrides)
        return replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every field's default value, for documentation and `--help`."""
        return {f.name: f.default if f.default is not MISSING else f.default_factory()
                for f in fields(cls)}


def _reject_unknown(data: dict[str, Any]) -> None:
    known = [f.name for f in fields(GRPOConfig)]
    unknown = [key for key in data if key not in known]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), known, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(f"unknown GRPOConfig key(s): {', '.join(hints)}")


def _to_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise TypeError(f"{name} must be a number, got {value!r}") from None


def _check(name: str, value: Any, ok: Any, what: str, kind: type) -> None:
    valid_type = isinstance(value, kind) or (kind is float and isinstance(value, int))
    if isinstance(value, bool) or not valid_type or not ok(value):
        raise ValueError(f"{name} must be {what}, got {value!r}")


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
