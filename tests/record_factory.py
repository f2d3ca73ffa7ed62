"""Synthetic `SampleRecord`s for metric and report tests."""

from __future__ import annotations

from typing import Any

from benchmarks.records import SampleRecord


def make_record(benchmark: str, pid: str, sample: int, correct: bool, **overrides: Any
                ) -> SampleRecord:
    """A record with neutral defaults (one turn, no tools, 100 episode tokens)."""
    fields: dict[str, Any] = dict(
        benchmark=benchmark, problem_id=pid, sample=sample, gold="1", correct=correct,
        reason="match" if correct else "mismatch", extracted="1", final_text="",
        turns=[{}], termination="answer", reward=float(correct), tool_calls=0,
        tool_errors=0, tool_timeouts=0, parse_errors=0, prompt_tokens=0,
        completion_tokens=0, episode_tokens=100, wall_s=0.1)
    fields.update(overrides)
    return SampleRecord(**fields)
