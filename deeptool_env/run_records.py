"""Crash-safe run records: append-only JSONL logs, atomic JSON files, and the rule that a
run resumes only with the settings it was started with.

Long runs (the benchmark harness, trajectory synthesis) write one JSONL line per finished
item, flushed and fsynced, so a crash or Ctrl-C loses at most the line being written; a torn
last line is cut off when the log is opened again, and readers skip it. A rerun into the same
output resumes (the caller skips the items already logged) but refuses other settings,
which would mix two runs in one file.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class SettingsMismatchError(ValueError):
    """The output already holds a run made with other settings."""


def read_complete_lines(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete line of a JSONL file (a torn last line is skipped; no file: [])."""
    if not Path(path).exists():
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.endswith("\n") and line.strip()]


def _cut_torn_tail(path: Path) -> None:
    """Cut a last line without its newline (the process died while writing it)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as handle:
        data = handle.read()
        if not data.endswith(b"\n"):
            handle.truncate(data.rfind(b"\n") + 1)


class JsonlLog:
    """An append-only JSONL file: each `append` is one flushed and fsynced line (safe from
    several threads); a torn tail is repaired on open."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _cut_torn_tail(self.path)
        self._lock = threading.Lock()
        self._handle = open(self.path, "a", encoding="utf-8")

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def read(self) -> list[dict[str, Any]]:
        """Every complete line (also usable while appending)."""
        return read_complete_lines(self.path)

    def close(self) -> None:
        with self._lock:
            if not self._handle.closed:
                self._handle.close()

    def __enter__(self) -> JsonlLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Write JSON through a temporary file and a rename, so readers never see half."""
    target = Path(path)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, target)


def require_same_settings(stored: dict[str, Any], current: dict[str, Any], *,
                          keys: Iterable[str] | None = None, holder: str, fix: str) -> None:
    """Raise `SettingsMismatchError` naming each setting that differs (`keys`, default
    every key of either), as "key: stored -> current"; `holder` says what holds the
    earlier run and `fix` what to do."""
    names = sorted({*stored, *current}) if keys is None else list(keys)
    differ = [key for key in names if stored.get(key) != current.get(key)]
    if differ:
        changes = "; ".join(f"{key}: {stored.get(key)!r} -> {current.get(key)!r}"
                            for key in differ)
        raise SettingsMismatchError(f"{holder} holds a run with other settings ({changes}); "
                                    f"{fix}")
