"""`deeptool-train sft`: the supervised cold start from the command line.

    deeptool-train sft --train-file data/sft.jsonl --output-dir runs/sft \
        [--config sft.yaml] [--epochs 3 --learning-rate 1e-5 --finetune lora ...]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..metrics import metrics_line
from ..settings import add_command, settings_or_exit
from .config import SFTConfig


def register(commands: Any) -> None:
    """Add the `sft` command to `deeptool-train`."""
    add_command(
        commands, "sft", SFTConfig, run,
        help="supervised cold start on trajectory JSONL (observations masked)",
        description="Supervised fine-tuning on interleaved think/code/output trajectories "
                    "(one {\"messages\": [...]} per line, as written by `deeptool-train "
                    "synth`); only assistant tokens are trained on. The result, "
                    "OUTPUT_DIR/final, is a Hugging Face model for `deeptool-train grpo "
                    "--model`. Options override --config, which overrides the defaults.")


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    config = settings_or_exit(parser, SFTConfig, args)
    from .trainer import SFTTrainer

    try:
        trainer = SFTTrainer(config)
    except (ValueError, FileNotFoundError) as exc:  # TrajectoryFileError is a ValueError
        parser.error(str(exc))

    try:
        if trainer.rank == 0:
            dropped = trainer.train_data.too_long
            print(f"{len(trainer.train_data)} training trajectories"
                  + (f" ({dropped} longer than max_length dropped)" if dropped else "")
                  + f", {trainer.total_steps} steps", file=sys.stderr)
        trainer.train(on_step=lambda metrics: print(metrics_line(metrics, 6), flush=True))
    finally:
        trainer.close()
    if trainer.rank == 0:
        print(f"done: model in {trainer.output_dir / 'final'}; metrics in "
              f"{trainer.output_dir / 'metrics.jsonl'}", file=sys.stderr)
    return 0
