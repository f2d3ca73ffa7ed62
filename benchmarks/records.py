"""The per-sample result record and its JSONL file: appended as each sample finishes,
read back tolerantly (a run killed mid-write loses at most the line being written; the
crash-safe file handling is `deeptool_env.run_records`, shared with trajectory synthesis)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deeptool_env.run_records import JsonlLog, read_complete_lines, write_json_atomic

__all__ = ["RUN_FILE", "SAMPLES_FILE", "SampleRecord", "SampleWriter", "read_samples",
           "write_json_atomic"]

SAMPLES_FILE = "samples.jsonl"
RUN_FILE = "run.json"


@dataclass
class SampleRecord:
    """One sample (one episode) of one problem.

    `turns` holds every turn: `{"action", "observation", "parse_error", "tool",
    "perturbation", "observation_clean", "reward_terms"}` (the audit data the agent was
    never shown); `final_text` is the agent's answer turn (what was
    graded); `correct`/`reason`/`extracted` come from the grader.
    """

    benchmark: str
    problem_id: str
    sample: int
    gold: str
    correct: bool
    reason: str
    extracted: str | None
    final_text: str
    turns: list[dict[str, Any]]
    termination: str
    reward: float
    tool_calls: int
    tool_errors: int
    tool_timeouts: int
    parse_errors: int
    prompt_tokens: int
    completion_tokens: int
    episode_tokens: int
    wall_s: float
    perturbation: str = "none"
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.benchmark, self.problem_id, self.sample)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SampleRecord:
        return cls(**data)


class SampleWriter(JsonlLog):
    """Appends records to `samples.jsonl`, one flushed and fsynced line each."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        super().__init__(Path(out_dir) / SAMPLES_FILE)

    def write(self, record: SampleRecord) -> None:
        self.append(record.to_dict())


def read_samples(out_dir: str | os.PathLike[str]) -> list[SampleRecord]:
    """Every complete record of a results directory (a torn last line is skipped)."""
    return [SampleRecord.from_dict(data)
            for data in read_complete_lines(Path(out_dir) / SAMPLES_FILE)]
