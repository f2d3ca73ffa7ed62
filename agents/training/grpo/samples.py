"""What a GRPO step trains on: each trajectory of a group with its token advantages, after
the SimpleTIR void-turn filter (trajectories with a turn that wrote neither code nor an
answer are dropped from the loss)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .advantages import group_advantages, token_advantages

VOID = "no_action"


def has_void_turn(parse_errors: Sequence[str | None]) -> bool:
    """Whether an episode had a void turn: neither code nor an answer (SimpleTIR)."""
    return any(error == VOID for error in parse_errors)


def drop_void_trajectories(trajectories: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """(kept, dropped): trajectories whose `info["parse_errors"]` (one entry per turn,
    recorded by the rollout loop) contains a void turn are dropped from the loss."""
    kept, dropped = [], []
    for trajectory in trajectories:
        errors = trajectory.info.get("parse_errors", [])
        (dropped if has_void_turn(errors) else kept).append(trajectory)
    return kept, dropped


def training_samples(groups: Sequence[Sequence[Any]], *, process_weight: float = 1.0,
                     filter_void: bool = True) -> tuple[list[tuple[Any, list[float]]], int]:
    """(trajectory, token advantages) pairs of the groups, and how many trajectories the
    void-turn filter dropped. Advantages are computed over the whole group first (the
    dropped trajectories still count towards its mean and std), as in SimpleTIR."""
    samples = []
    for group in groups:
        advantages = group_advantages([t.outcome for t in group],
                                      [t.turn_process for t in group],
                                      process_weight=process_weight)
        for trajectory, turns in zip(group, advantages.turns, strict=True):
            samples.append((trajectory, token_advantages(
                turns, trajectory.turn_of_token, trajectory.loss_mask)))
    if not filter_void:
        return samples, 0
    kept, dropped = drop_void_trajectories([t for t, _ in samples])
    keep = {id(t) for t in kept}
    return [s for s in samples if id(s[0]) in keep], len(dropped)
