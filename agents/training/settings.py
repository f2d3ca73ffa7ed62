"""The trainers' settings: deeptool_env's one configuration mechanism (re-exported here
under its old path) and `TrainerSettings`, the bookkeeping fields SFT and GRPO share.

See `deeptool_env.settings` (typed fields with their help, `from_dict` / `from_yaml` with
did-you-mean for unknown keys, `SettingsError`) and `deeptool_env.settings_cli` (the
`--kebab-case` options of `deeptool-train`, defaults < `--config` file < options).
"""

from __future__ import annotations

from dataclasses import dataclass

from deeptool_env.settings import (
    NON_NEGATIVE,
    POSITIVE,
    Settings,
    SettingsError,
    check,
    field_docs,
    like,
    setting,
)
from deeptool_env.settings_cli import add_command, add_options, from_args, settings_or_exit

from .policy import PolicySettings

__all__ = ["REPORTERS", "Settings", "SettingsError", "TrainerSettings", "add_command",
           "add_options", "check", "field_docs", "from_args", "like", "setting", "settings_or_exit"]

REPORTERS = ("tensorboard", "wandb")


@dataclass
class TrainerSettings(PolicySettings):
    """The policy fields plus what every trainer does alike: where it writes, its seed, the
    AdamW optimiser, evaluation, checkpoints, resuming and metric reporters."""

    output_dir: str = setting("runs/train", "checkpoints, `metrics.jsonl` and `final/` (the "
                              "trained model in Hugging Face format, LoRA merged) go here",
                              section="Run")
    seed: int = setting(0, "seeds the data order, sampling and initialisation",
                        rule=NON_NEGATIVE)
    learning_rate: float = setting(1e-5, "peak AdamW learning rate (LoRA usually wants 1e-5 "
                                   "to 1e-4)", rule=NON_NEGATIVE, section="Optimisation")
    weight_decay: float = setting(0.0, "AdamW weight decay", rule=NON_NEGATIVE)
    max_grad_norm: float = setting(1.0, "gradients are clipped to this norm",
                                   rule=NON_NEGATIVE)
    gradient_accumulation_steps: int = setting(1, "micro-batches one optimiser step is split "
                                               "into", rule=POSITIVE)
    eval_every: int = setting(0, "evaluate every this many steps (and at the start and the "
                              "end; 0: only then)", rule=NON_NEGATIVE, section="Bookkeeping")
    save_every: int = setting(0, "checkpoint every this many steps (0: only at the end)",
                              rule=NON_NEGATIVE)
    keep_checkpoints: int = setting(2, "most recent checkpoints kept", rule=POSITIVE)
    resume_from: str | None = setting(None, "`latest` or a checkpoint directory to resume "
                                      "from")
    report_to: list[str] = setting(help="metric reporters, used only when installed",
                                   factory=list, choices=REPORTERS)

