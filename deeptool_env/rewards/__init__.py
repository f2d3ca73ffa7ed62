"""The action-centric process reward of DeepTool (see `terms.py` for every term)."""

from .config import PRESETS, RewardConfig, resolve_reward
from .terms import TERMS, History, Turn, normalise_code
from .tracker import RewardTracker
from .values import canonical_values

__all__ = ["PRESETS", "TERMS", "History", "RewardConfig", "RewardTracker", "Turn",
           "canonical_values", "normalise_code", "resolve_reward"]
