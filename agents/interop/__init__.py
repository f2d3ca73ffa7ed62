"""Adapters that put the DeepTool env behind the contracts other trainers consume.

`agents.interop.trl_environment.DeepToolEnvironment` is TRL's `environment_factory` slot
(`trl.GRPOTrainer(environment_factory=...)`); it imports no trainer package itself.
"""

from .trl_environment import DeepToolEnvironment, EpisodeLog, ToolCallRecord

__all__ = ["DeepToolEnvironment", "EpisodeLog", "ToolCallRecord"]
