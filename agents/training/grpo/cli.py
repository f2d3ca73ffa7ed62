"""`deeptool-train grpo`: process-supervised GRPO from the command line.

    deeptool-train grpo --model PATH --env DeepTool-Math-v0 --train-data procedural:modpow \
        [--config run.yaml] [--group-size 4 --learning-rate 1e-5 ...]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..metrics import metrics_line
from ..settings import add_command, settings_or_exit
from .config import GRPOConfig


def register(commands: Any) -> None:
    """Add the `grpo` command to `deeptool-train`."""
    add_command(commands, "grpo", GRPOConfig, run,
                help="process-supervised GRPO on multi-turn episodes",
                description="Process-supervised GRPO on whole multi-turn episodes of the "
                            "env. Options override --config, which overrides the defaults.")


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    config = settings_or_exit(parser, GRPOConfig, args)
    from .trainer import GRPOTrainer

    trainer = GRPOTrainer(config)
    try:
        trainer.train(on_step=lambda metrics: print(metrics_line(metrics, 4), flush=True))
    finally:
        trainer.close()
    if trainer.rank == 0:
        print(f"done: {trainer.step} steps; metrics in {trainer.output_dir / 'metrics.jsonl'}",
              file=sys.stderr)
    return 0
