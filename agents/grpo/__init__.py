"""Process-supervised GRPO, DeepTool's training method (work in progress: advantages and
token-in/token-out rollouts; the trainer comes next)."""

from .advantages import GroupAdvantages, group_advantages, token_advantages
from .rollout import TemplateDriftError, TokenTrajectory, rollout_episode

__all__ = ["GroupAdvantages", "TemplateDriftError", "TokenTrajectory", "group_advantages",
           "rollout_episode", "token_advantages"]
