"""`SFTConfig`: the settings of a supervised cold-start run on interleaved trajectories."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..policy import PolicySettings
from ..settings import check, check_choice

REPORTERS = ("tensorboard", "wandb")


@dataclass
class SFTConfig(PolicySettings):
    """Settings of one SFT run (defaults in brackets). The policy fields (model, device,
    dtype, finetune, lora_*) are those of `agents.training.policy.PolicySettings`.

    Data and model:
        train_file [""]: JSONL of trajectories, one `{"messages": [...]}` per line (what
            `deeptool-train synth` writes): prompt messages, then assistant turns each
            followed by its observation message. Only assistant tokens are trained on.
        eval_file [None]: JSONL of held-out trajectories; None holds out `eval_fraction`.
        eval_fraction [0.0]: share of `train_file` held out for evaluation when there
            is no `eval_file` (the last lines of a seeded shuffle).
        output_dir ["runs/sft"]: checkpoints, `metrics.jsonl` and `final/` (the trained
            model in Hugging Face format, LoRA merged, ready for `deeptool-train grpo
            --model` and `deeptool-bench run --agent hf --model`).
        max_length [4096]: longest tokenised trajectory; longer ones are dropped (and
            counted), never cut mid-turn.
    Optimisation:
        epochs [2]: passes over the training trajectories.
        max_steps [0]: stop after this many optimiser steps (0: run all epochs).
        batch_size [8]: trajectories per optimiser step (over all ranks).
        gradient_accumulation_steps [1]: micro-batches one step is split into.
        learning_rate [1e-5]: peak AdamW learning rate (LoRA usually wants 1e-4).
        warmup_ratio [0.03]: share of the steps with a linear warm-up; then cosine decay
            to `min_lr_ratio` x the peak.
        min_lr_ratio [0.1]: the learning rate's floor, a share of the peak.
        weight_decay [0.0], max_grad_norm [1.0]: AdamW decay; gradient clipping.
        seed [0]: seeds the data order and initialisation.
    Bookkeeping:
        eval_every [0]: evaluate every this many steps (0: at the start and the end).
        save_every [0]: checkpoint every this many steps (0: only at the end).
        keep_checkpoints [2]: most recent checkpoints kept.
        resume_from [None]: `"latest"` or a checkpoint directory to resume from.
        report_to [[]]: `"tensorboard"` and/or `"wandb"` (used only when installed).
    """

    train_file: str = ""
    eval_file: str | None = None
    eval_fraction: float = 0.0
    output_dir: str = "runs/sft"
    max_length: int = 4096
    epochs: int = 2
    max_steps: int = 0
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-5
    warmup_ratio: float = 0.03
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    eval_every: int = 0
    save_every: int = 0
    keep_checkpoints: int = 2
    resume_from: str | None = None
    report_to: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()  # coerces floats, checks the policy fields
        if not self.train_file:
            raise ValueError("train_file is required: a JSONL of trajectories "
                             "(e.g. written by `deeptool-train synth`)")
        for name in ("max_length", "epochs", "batch_size", "gradient_accumulation_steps",
                     "keep_checkpoints"):
            check(name, getattr(self, name), lambda v: v > 0, "a positive integer", int)
        for name in ("max_steps", "eval_every", "save_every"):
            check(name, getattr(self, name), lambda v: v >= 0, "an integer >= 0", int)
        for name in ("learning_rate", "weight_decay", "max_grad_norm"):
            check(name, getattr(self, name), lambda v: v >= 0, "a number >= 0", float)
        for name in ("eval_fraction", "warmup_ratio", "min_lr_ratio"):
            check(name, getattr(self, name), lambda v: 0 <= v < 1, "in [0, 1)", float)
        if self.gradient_accumulation_steps > self.batch_size:
            raise ValueError(f"gradient_accumulation_steps ({self.gradient_accumulation_steps})"
                             f" cannot exceed batch_size ({self.batch_size})")
        for reporter in self.report_to:
            check_choice("report_to", reporter, REPORTERS)
