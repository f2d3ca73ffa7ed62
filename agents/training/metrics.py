"""What a training run reports each step: `metrics.jsonl` (one JSON object per step,
appended, so a resumed run continues the file), mirrored to TensorBoard or Weights &
Biases when asked for and installed; and the episode statistics GRPO reports."""

from __future__ import annotations

import importlib.util
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def total_reward(trajectory: Any) -> float:
    """Outcome plus every turn's process reward: what the episode earned."""
    return trajectory.outcome + sum(trajectory.turn_process)


def episode_stats(groups: list[list[Any]]) -> dict[str, float]:
    """Reward, outcome, length and token statistics of groups of trajectories."""
    flat = [t for group in groups for t in group]
    rewards = np.array([total_reward(t) for t in flat])
    return {"reward_mean": float(rewards.mean()), "reward_std": float(rewards.std()),
            "outcome_mean": float(np.mean([t.outcome for t in flat])),
            "episodes": len(flat), "turns_mean": float(np.mean([len(t.actions) for t in flat])),
            "generated_tokens": int(sum(sum(t.loss_mask) for t in flat)),
            "tokens": int(sum(len(t.ids) for t in flat))}


def metrics_line(metrics: dict[str, Any], digits: int) -> str:
    """One step's metrics as a JSON line, floats rounded to `digits` (for the console)."""
    return json.dumps({k: round(v, digits) if isinstance(v, float) else v
                       for k, v in metrics.items()})


class MetricsLogger:
    """Appends one JSON line per step to `metrics.jsonl`; mirrors to TensorBoard / W&B
    when they are requested and importable (a warning otherwise, never an error)."""

    def __init__(self, output_dir: str | os.PathLike, report_to: list[str],
                 config: dict[str, Any], *, project: str = "deeptool-grpo") -> None:
        self.path = Path(output_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tensorboard = self._wandb = None
        if "tensorboard" in report_to:
            if importlib.util.find_spec("tensorboard") is None:
                warnings.warn("report_to tensorboard: tensorboard is not installed",
                              stacklevel=2)
            else:
                from torch.utils.tensorboard import SummaryWriter

                self._tensorboard = SummaryWriter(str(Path(output_dir) / "tensorboard"))
        if "wandb" in report_to:
            if importlib.util.find_spec("wandb") is None:
                warnings.warn("report_to wandb: wandb is not installed", stacklevel=2)
            else:
                import wandb

                self._wandb = wandb.init(project=project, config=config)

    def log(self, metrics: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(metrics) + "\n")
        step = metrics.get("step", 0)
        numbers = {k: v for k, v in metrics.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if self._tensorboard is not None:
            for key, value in numbers.items():
                self._tensorboard.add_scalar(key, value, step)
        if self._wandb is not None:
            self._wandb.log(numbers, step=step)

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()
        if self._wandb is not None:
            self._wandb.finish()
