"""`SFTConfig`: the settings of a supervised cold-start run on interleaved trajectories."""

from __future__ import annotations

from dataclasses import dataclass

from deeptool_env.settings import BELOW_ONE, NON_NEGATIVE, POSITIVE, SettingsError

from ..settings import TrainerSettings, like, setting


@dataclass
class SFTConfig(TrainerSettings):
    """Settings of one SFT run: the policy and trainer fields of `TrainerSettings`, then
    the data and the schedule."""

    output_dir: str = like(TrainerSettings, "output_dir", default="runs/sft")
    train_file: str = setting(
        "", "JSONL of trajectories, one `{\"messages\": [...]}` per line (what `deeptool-train "
        "synth` writes): prompt messages, then assistant turns each followed by its "
        "observation message; only assistant tokens are trained on", section="Data")
    eval_file: str | None = setting(None, "JSONL of held-out trajectories; None holds out "
                                    "`eval_fraction`")
    eval_fraction: float = setting(0.0, "share of `train_file` held out for evaluation when "
                                   "there is no `eval_file` (the last lines of a seeded "
                                   "shuffle)", rule=BELOW_ONE)
    max_length: int = setting(4096, "longest tokenised trajectory; longer ones are dropped "
                              "(and counted), never cut mid-turn", rule=POSITIVE)
    epochs: int = setting(2, "passes over the training trajectories", rule=POSITIVE,
                          section="Schedule")
    max_steps: int = setting(0, "stop after this many optimiser steps (0: run all epochs)",
                             rule=NON_NEGATIVE)
    batch_size: int = setting(8, "trajectories per optimiser step (over all ranks)",
                              rule=POSITIVE)
    warmup_ratio: float = setting(0.03, "share of the steps with a linear warm-up; then "
                                  "cosine decay to `min_lr_ratio` x the peak", rule=BELOW_ONE)
    min_lr_ratio: float = setting(0.1, "the learning rate's floor, a share of the peak",
                                  rule=BELOW_ONE)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.train_file:
            raise SettingsError("train_file is required: a JSONL of trajectories "
                                "(e.g. written by `deeptool-train synth`)")
        if self.gradient_accumulation_steps > self.batch_size:
            raise SettingsError(f"gradient_accumulation_steps "
                                f"({self.gradient_accumulation_steps}) cannot exceed "
                                f"batch_size ({self.batch_size})")
