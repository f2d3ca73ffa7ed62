"""The per-sample result record and its JSONL file: appended as each sample finishes,
read back tolerantly (a run killed mid-write loses at most the line being written)."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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


class SampleWriter:
    """Appends records to `samples.jsonl`, one flushed and fsynced line each."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.path = Path(out_dir) / SAMPLES_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _drop_partial_last_line(self.path)
        self._lock = threading.Lock()
        self._handle = open(self.path, "a", encoding="utf-8")

    def write(self, record: SampleRecord) -> None:
        line = json.dumps(record.to_dict(), ensure_ascii=False) + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        with self._lock:
            if not self._handle.closed:
                self._handle.close()

    def __enter__(self) -> SampleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _drop_partial_last_line(path: Path) -> None:
    """Cut a last line without its newline (the process died while writing it)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as handle:
        data = handle.read()
        if data.endswith(b"\n"):
            return
        handle.truncate(data.rfind(b"\n") + 1)


def read_samples(out_dir: str | os.PathLike[str]) -> list[SampleRecord]:
    """Every complete record of a results directory (a torn last line is skipped)."""
    path = Path(out_dir) / SAMPLES_FILE
    if not path.exists():
        return []
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                break
            if line.strip():
                records.append(SampleRecord.from_dict(json.loads(line)))
    return records


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Write JSON through a temporary file and a rename, so readers never see half."""
    target = Path(path)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, target)
