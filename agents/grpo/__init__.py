"""Process-supervised GRPO, DeepTool's training method (work in progress: advantages)."""

from .advantages import GroupAdvantages, group_advantages, token_advantages

__all__ = ["GroupAdvantages", "group_advantages", "token_advantages"]
