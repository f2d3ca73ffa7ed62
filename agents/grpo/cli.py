"""`deeptool-train`: the command line of the GRPO trainer.

    deeptool-train grpo --model PATH --env DeepTool-Math-v0 --train-data procedural:modpow \
        [--config run.yaml] [--group-size 4 --learning-rate 1e-5 ...]

Every field of `GRPOConfig` is an option (`lora_r` is `--lora-r`); values are read as
YAML scalars (`--report-to '[tensorboard]'`, `--max-invalid-turns null`), and options
given on the command line override the `--config` file, which overrides the defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from .config import GRPOConfig


def _parse_value(field_type: str, text: str) -> Any:
    """A CLI string as the field's value: text fields stay text, others are YAML."""
    import yaml

    if field_type.startswith("str") and "list" not in field_type:
        return None if text.lower() in ("null", "none") and "None" in field_type else text
    return yaml.safe_load(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deeptool-train",
                                     description="Train DeepTool Gym policies.")
    commands = parser.add_subparsers(dest="command", required=True)
    grpo = commands.add_parser(
        "grpo", help="process-supervised GRPO on multi-turn episodes",
        description="Process-supervised GRPO. Options override --config, which overrides "
                    "the defaults shown.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    grpo.add_argument("--config", help="YAML file of GRPOConfig fields")
    defaults = GRPOConfig.defaults()
    for f in fields(GRPOConfig):
        grpo.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name,
                          default=argparse.SUPPRESS, metavar=f.name.upper(),
                          help=f"({f.type}) default: {defaults[f.name]!r}")
    return parser


def config_from_args(args: argparse.Namespace) -> GRPOConfig:
    """The config of parsed arguments: defaults < `--config` file < options."""
    types = {f.name: str(f.type) for f in fields(GRPOConfig)}
    overrides = {name: _parse_value(types[name], value)
                 for name, value in vars(args).items() if name in types}
    if args.config:
        return GRPOConfig.from_yaml(args.config, overrides)
    return GRPOConfig.from_dict(overrides)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
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


if __name__ == "__main__":
    raise SystemExit(main())
