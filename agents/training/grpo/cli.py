"""`deeptool-train grpo`: process-supervised GRPO from the command line.

    deeptool-train grpo --model PATH --env DeepTool-Math-v0 --train-data procedural:modpow \
        [--config run.yaml] [--group-size 4 --learning-rate 1e-5 ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

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

    def show(metrics: dict[str, Any]) -> None:
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                          for k, v in metrics.items()}), flush=True)

    try:
        trainer.train(on_step=show)
    finally:
        trainer.close()
    if trainer.rank == 0:
        print(f"done: {trainer.step} steps; metrics in {trainer.output_dir / 'metrics.jsonl'}",
              file=sys.stderr)
    return 0
