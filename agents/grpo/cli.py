"""`deeptool-train grpo`: process-supervised GRPO from the command line.

    deeptool-train grpo --model PATH --env DeepTool-Math-v0 --train-data procedural:modpow \
        [--config run.yaml] [--group-size 4 --learning-rate 1e-5 ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..settings import add_options, from_args
from .config import GRPOConfig


def register(commands: Any) -> None:
    """Add the `grpo` command to `deeptool-train`."""
    parser = commands.add_parser(
        "grpo", help="process-supervised GRPO on multi-turn episodes",
        description="Process-supervised GRPO. Options override --config, which overrides "
                    "the defaults shown.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_options(parser, GRPOConfig)
    parser.set_defaults(run=run)


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        config = from_args(GRPOConfig, args)
    except (ValueError, TypeError, OSError) as exc:
        parser.error(str(exc))
    from .trainer import GRPOTrainer

    trainer = GRPOTrainer(config)

    def show(metrics: dict[str, Any]) -> None:
        if trainer.rank == 0:
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
