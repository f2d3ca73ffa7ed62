"""Process-supervised GRPO, DeepTool's training method: advantages, token-in/token-out
rollouts, the loss, and the trainer (`GRPOTrainer(GRPOConfig(...)).train()`, or the
`deeptool-train grpo` command)."""

from agents.rollout import (
    TemplateDriftError,
    TokenTrajectory,
    rollout_episode,
    rollout_vector,
    tokenize_conversation,
)

from .advantages import GroupAdvantages, group_advantages, token_advantages
from .config import GRPOConfig


def __getattr__(name: str):
    """The trainer and the generators import torch: only load them when asked for."""
    if name == "GRPOTrainer":
        from .trainer import GRPOTrainer

        return GRPOTrainer
    if name in ("HFGenerator", "VLLMGenerator"):
        import agents.generation as generation

        return getattr(generation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["GRPOConfig", "GRPOTrainer", "GroupAdvantages", "HFGenerator",
           "TemplateDriftError", "TokenTrajectory", "VLLMGenerator", "group_advantages",
           "rollout_episode", "rollout_vector", "token_advantages", "tokenize_conversation"]
