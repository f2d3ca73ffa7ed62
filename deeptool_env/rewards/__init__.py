"""The action-centric process reward of DeepTool (see `terms.py` for every term)."""

from .config import PRESETS, RewardConfig, resolve_reward
from .terms import TERMS, History, Turn, normalize_code
from .tracker import RewardTracker
from .values import canonical_values

__all__ = ["PRESETS", "TERMS", "History", "RewardConfig", "RewardTracker", "Turn",
           "canonical_values", "normalize_code", "resolve_reward"]

_RENAMED = {"normalise_code": "normalize_code"}  # one spelling, the public API's


def __getattr__(name: str):
    """The old spelling still works, with a DeprecationWarning naming the new one."""
    if name in _RENAMED:
        import warnings

        warnings.warn(f"deeptool_env.rewards.{name} is now {_RENAMED[name]}",
                      DeprecationWarning, stacklevel=2)
        return globals()[_RENAMED[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
