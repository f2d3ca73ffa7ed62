"""`deeptool-train`: the command line of the reference agent's training pipeline.

    deeptool-train synth --train-data aime_1983_2023 --llm openai --out data/sft.jsonl
    deeptool-train synth --train-data procedural --llm template --out data/procedural.jsonl
    deeptool-train sft   --train-file data/sft.jsonl --output-dir runs/sft
    deeptool-train grpo  --model runs/sft/final --train-data procedural:modpow

Each command's settings are one typed dataclass (`SynthesisConfig`, `SFTConfig`,
`GRPOConfig`); every field is an option (`lora_r` is `--lora-r`), values are read as
YAML scalars (`--report-to '[tensorboard]'`, `--max-invalid-turns null`), and options
given on the command line override the `--config` file, which overrides the defaults.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from . import cpu_threads
from .training.grpo import cli as grpo_cli
from .training.sft import cli as sft_cli
from .training.study import cli as study_cli
from .training.synthesis import cli as synthesis_cli

COMMANDS = (synthesis_cli, sft_cli, grpo_cli, study_cli)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deeptool-train",
        description="Train DeepTool Gym policies: synthesise trajectories, SFT cold "
                    "start, process-supervised GRPO, and the learning study.",
        epilog="The usual order: synth (trajectories) -> sft (cold start) -> grpo. "
               "Run `deeptool-train COMMAND --help` for a command's settings.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    cpu_threads.prepare_wait_policy()  # before torch loads: threads sleep on shared cores
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.run(parser, args)


if __name__ == "__main__":
    raise SystemExit(main())
