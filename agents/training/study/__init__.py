"""The learning study: does SFT then GRPO with the process reward make the model solve
more held-out problems? `deeptool-train study --config configs/study-cpu.yaml`.

The settings and statistics import without torch (so `deeptool-train --help` and the
thread policy of `agents.cpu_threads` come first); the stages load it when first used.
"""

from importlib import import_module
from typing import Any

from .config import ARMS, CONDITIONS, StudyConfig
from .stats import Interval, bootstrap_mean, paired_difference

_LAZY = {"Evaluation": "evaluate", "build_report": "report",
         "Study": "runner", "run_study": "runner"}

__all__ = ["ARMS", "CONDITIONS", "Evaluation", "Interval", "Study", "StudyConfig",
           "bootstrap_mean", "build_report", "paired_difference", "run_study"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
