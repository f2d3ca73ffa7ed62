"""Trajectory JSONL for SFT: read, validate and tokenise with the rollouts' masking.

One trajectory per line, `{"messages": [{"role": ..., "content": ...}, ...], ...}`:
prompt messages (system, user), then assistant turns, each followed by its observation
message except possibly the last. Other keys (provenance, grades) are kept but unused.
Tokenisation is `agents.rollout.tokenize_conversation`, the very sequence and loss
mask a GRPO rollout of the same turns produces: the cold start trains the policy on the
same inputs it later meets in RL, and tool output is never a training target.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.rollout import TemplateDriftError, TokenTrajectory, tokenize_conversation

ROLES = ("system", "user", "assistant", "tool")


class TrajectoryFileError(ValueError):
    """A line of a trajectory file is not a valid trajectory (says which and why)."""


@dataclass
class SFTData:
    """Tokenised trajectories and what was dropped on the way."""

    examples: list[TokenTrajectory]
    too_long: int = 0
    source: str = ""

    def __len__(self) -> int:
        return len(self.examples)


def _check_messages(where: str, record: Any) -> list[dict[str, str]]:
    if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
        raise TrajectoryFileError(f"{where}: expected an object with a `messages` list")
    messages = record["messages"]
    for i, message in enumerate(messages):
        if (not isinstance(message, dict) or message.get("role") not in ROLES
                or not isinstance(message.get("content"), str)):
            raise TrajectoryFileError(
                f"{where}: message {i} must be {{'role': one of {list(ROLES)}, "
                f"'content': str}}, got {str(message)[:80]!r}")
    if not any(m["role"] == "assistant" for m in messages):
        raise TrajectoryFileError(f"{where}: the trajectory has no assistant turn")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def read_trajectories(path: str | os.PathLike) -> list[list[dict[str, str]]]:
    """The conversations of a trajectory JSONL file (blank lines skipped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no trajectory file at {path} (create one with "
                                "`deeptool-train synth --out {path}`)")
    conversations = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrajectoryFileError(f"{where}: not JSON ({exc.msg})") from None
            conversations.append(_check_messages(where, record))
    if not conversations:
        raise TrajectoryFileError(f"{path}: no trajectories in the file")
    return conversations


def tokenize(conversations: list[list[dict[str, str]]], tokenizer: Any, *,
             max_length: int, source: str = "") -> SFTData:
    """Tokenise conversations; those over `max_length` tokens are dropped and counted."""
    data = SFTData(examples=[], source=source)
    for index, messages in enumerate(conversations):
        try:
            example = tokenize_conversation(tokenizer, _tool_as_observation(messages))
        except (ValueError, TemplateDriftError) as exc:
            raise TrajectoryFileError(f"{source} trajectory {index}: {exc}") from None
        if len(example.ids) > max_length:
            data.too_long += 1
        else:
            data.examples.append(example)
    return data


def _tool_as_observation(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """`tool` messages (the env's own record) become observation messages, as in
    rollouts, so templates without a tool role work."""
    from agents.prompt import observation_message

    return [observation_message(m["content"]) if m["role"] == "tool" else m
            for m in messages]


def split_eval(conversations: list[list[dict[str, str]]], fraction: float,
               seed: int) -> tuple[list[list[dict[str, str]]], list[list[dict[str, str]]]]:
    """(train, held out): a seeded shuffle, the last `fraction` held out."""
    if fraction <= 0:
        return conversations, []
    order = np.random.default_rng(seed).permutation(len(conversations))
    held = max(1, int(round(fraction * len(conversations))))
    if held >= len(conversations):
        raise ValueError(f"eval_fraction {fraction} leaves no training trajectory")
    return ([conversations[i] for i in order[:-held]],
            [conversations[i] for i in order[-held:]])


def epoch_order(size: int, seed: int, epoch: int) -> np.ndarray:
    """The data order of one epoch: a function of (seed, epoch) only, so a resumed run
    finds its place from the step number alone."""
    return np.random.default_rng([seed, epoch]).permutation(size)
