"""The check of one line of `samples.jsonl` against `SampleRecord`: every field's JSON
kind, counters that cannot be negative, known terminations and well-formed turns."""

from __future__ import annotations

import json
from typing import Any

from benchmarks.records import SampleRecord

from .field_checks import FieldChecker, ValidationIssue, json_kind

#: SampleRecord fields and their JSON kinds; (kind, nullable).
SAMPLE_FIELDS: dict[str, tuple[str, bool]] = {
    "benchmark": ("str", False), "problem_id": ("str", False), "sample": ("int", False),
    "gold": ("str", False), "correct": ("bool", False), "reason": ("str", False),
    "extracted": ("str", True), "final_text": ("str", False), "turns": ("list", False),
    "termination": ("str", False), "reward": ("float", False), "tool_calls": ("int", False),
    "tool_errors": ("int", False), "tool_timeouts": ("int", False),
    "parse_errors": ("int", False), "prompt_tokens": ("int", False),
    "completion_tokens": ("int", False), "episode_tokens": ("int", False),
    "wall_s": ("float", False), "perturbation": ("str", False), "seed": ("int", True),
    "extra": ("dict", False),
}
_SAMPLE_OPTIONAL = ("perturbation", "seed", "extra")  # they have defaults in SampleRecord
_SAMPLE_REQUIRED = tuple(name for name in SAMPLE_FIELDS if name not in _SAMPLE_OPTIONAL)
#: How an episode can end (`deeptool_env` info["termination"]; "unknown" from the harness).
TERMINATIONS = ("answer", "invalid_turns", "max_turns", "max_episode_tokens", "unknown")
_COUNTERS = ("tool_calls", "tool_errors", "tool_timeouts", "parse_errors", "prompt_tokens",
             "completion_tokens", "episode_tokens")


def parse_sample(data: Any, line: int) -> tuple[SampleRecord | None, list[ValidationIssue]]:
    """Check one decoded line of samples.jsonl against `SampleRecord`'s fields and types."""
    check = FieldChecker(f"samples.jsonl line {line}", line)
    if not isinstance(data, dict):
        check.add("wrong_type", "$",
                  f"must be a JSON object (a SampleRecord), got {json_kind(data)}")
        return None, check.issues
    check.keys(data, _SAMPLE_REQUIRED, _SAMPLE_OPTIONAL)
    for name, (kind, nullable) in SAMPLE_FIELDS.items():
        if name in data and check.typed(data, name, kind, name, nullable=nullable):
            value = data[name]
            if (name in _COUNTERS or name == "sample") and value < 0:
                check.add("invalid_value", name, f"must be >= 0, got {value}")
    if isinstance(data.get("termination"), str) and data["termination"] not in TERMINATIONS:
        check.add("invalid_value", "termination", f"is {data['termination']!r}, not one of "
                  f"{', '.join(TERMINATIONS)}")
    if isinstance(data.get("turns"), list):
        _check_turns(check, data["turns"])
    if check.issues:
        return None, check.issues
    return SampleRecord(**data), []


def _check_turns(check: FieldChecker, turns: list[Any]) -> None:
    for i, turn in enumerate(turns):
        path = f"turns[{i}]"
        if not isinstance(turn, dict):
            check.add("wrong_type", path, f"must be an object, got {json_kind(turn)}")
            continue
        for key in ("action", "observation"):
            if key not in turn:
                check.add("missing_field", f"{path}.{key}", "is missing")
            else:
                check.typed(turn, key, "str", f"{path}.{key}")
        if turn.get("parse_error") is not None:
            check.typed(turn, "parse_error", "str", f"{path}.parse_error")
        tool = turn.get("tool")
        if tool is not None and not (isinstance(tool, dict) and isinstance(tool.get("status"),
                                                                          str)):
            check.add("wrong_type", f"{path}.tool", "must be null or an object with a string "
                      f"'status', got {json.dumps(tool)[:60]}")
