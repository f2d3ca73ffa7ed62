"""`deeptool-train synth`: synthesise verified tool-use trajectories from worked solutions.

    deeptool-train synth --train-data aime_1983_2023 --llm openai \
        --model Qwen/Qwen2.5-72B-Instruct --base-url http://127.0.0.1:8000/v1 \
        --out data/synth/aime.jsonl --limit 200
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..settings import add_command, settings_or_exit
from .config import SynthesisConfig

DESCRIPTION = """\
Turn problems with a worked solution into multi-turn tool-use trajectories for SFT.

A teacher LLM rewrites each solution as <think>/<code> turns ending in an <answer>; every
code turn is then run for real in the sandbox by replaying it through DeepTool-Math-v0, so
each observation is exactly what the env returns. A fraction of code turns gets an
anomaly followed by a recovery turn: tool-side (timeout, transient error, truncated or
empty output, corrupted numbers: the tool shows a wrong result and the recovery re-runs)
or code-side (a syntax error or a wrong constant really runs, and the recovery fixes it).
Only trajectories whose final answer the grader accepts are kept.

Outputs: --out (kept trajectories: chat `messages` ready for SFT, per-turn metadata,
injections, provenance), <stem>.rejects.jsonl (each rejected problem with its reason),
<stem>.manifest.json (the settings). Every line is fsynced when written; rerunning the
same command resumes where it stopped, and a rerun with other settings into the same
--out is refused. The API key comes from $DEEPTOOL_OPENAI_API_KEY or $OPENAI_API_KEY (or
the variable named by --api-key-env) and is never written anywhere.

Options override --config (a YAML file of the same names), which overrides the defaults.

example:
  deeptool-train synth --train-data aime_1983_2023 --data-dir ../shared/data \\
      --llm openai --model Qwen/Qwen2.5-72B-Instruct --base-url http://127.0.0.1:8000/v1 \\
      --out data/synth/aime.jsonl --limit 200 --batch-size 16 --perturb-rate 0.3
  deeptool-train synth --train-data math_train --require-solution false --llm hf \\
      --model path/to/local/model --out data/synth/math.jsonl --limit 20"""


def register(commands: Any) -> None:
    """Add the `synth` command to `deeptool-train`."""
    add_command(commands, "synth", SynthesisConfig, run, description=DESCRIPTION,
                help="synthesise verified tool-use trajectories (SFT data)")


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the command; 0 when done, 130 when interrupted (rerun to resume)."""
    from .pipeline import synthesize
    from .records import SettingsMismatchError

    config = settings_or_exit(parser, SynthesisConfig, args)
    try:
        summary = synthesize(config)
    except SettingsMismatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary.render(), file=sys.stderr)
    if summary.interrupted:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    return 0
