"""Deprecated: moved to `agents.training.sft` (this name keeps working, with a warning)."""

from agents.moved import forward

__getattr__ = forward(__name__, "agents.training.sft")
