"""The learning study: does SFT then GRPO with the process reward make the model solve
more held-out problems? `deeptool-train study --config configs/study-cpu.yaml`."""

from .config import ARMS, CONDITIONS, StudyConfig
from .evaluate import Evaluation, evaluate
from .report import build_report
from .runner import Study, run_study
from .stats import Interval, bootstrap_mean, paired_difference

__all__ = ["ARMS", "CONDITIONS", "Evaluation", "Interval", "Study", "StudyConfig",
           "bootstrap_mean", "build_report", "evaluate", "paired_difference", "run_study"]
