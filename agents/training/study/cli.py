"""`deeptool-train study`: the learning study from nothing, resumable.

    deeptool-train study --config configs/study-cpu.yaml
    deeptool-train study --config configs/study-cpu.yaml --report-only true
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..settings import add_command, settings_or_exit
from .config import StudyConfig


def register(commands: Any) -> None:
    """Add the `study` command to `deeptool-train`."""
    add_command(commands, "study", StudyConfig, run,
                help="the learning study: SFT start, GRPO arms A/B/C, held-out evaluation",
                description="Run (or resume) the learning study: procedural problems, a "
                            "templated SFT cold start stopped early, GRPO arms (A outcome "
                            "only, B outcome + process reward, C B with perturbed tool "
                            "output) over several seeds, each evaluated on held-out "
                            "problems clean, perturbed and with the tool off. Rerun the "
                            "same command to resume. Options override --config.")


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    config = settings_or_exit(parser, StudyConfig, args)
    from .report import build_report, markdown_table
    from .runner import run_study

    summary = build_report(config) if config.report_only else run_study(config)
    if "error" in summary:
        print(summary["error"], file=sys.stderr)
        return 1
    print(markdown_table(summary))
    print(json.dumps({"arm_b_beats_start": summary["arm_b_beats_start"]}))
    print(f"results in {config.results_dir}", file=sys.stderr)
    return 0
