"""Supervised cold start on interleaved think / code / output trajectories, with the
masking of GRPO rollouts (`SFTTrainer(SFTConfig(...)).train()`, or `deeptool-train sft`)."""

from .config import SFTConfig
from .data import SFTData, TrajectoryFileError, read_trajectories, tokenize


def __getattr__(name: str):
    """The trainer imports torch: only load it when asked for."""
    if name == "SFTTrainer":
        from .trainer import SFTTrainer

        return SFTTrainer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SFTConfig", "SFTData", "SFTTrainer", "TrajectoryFileError", "read_trajectories",
           "tokenize"]
