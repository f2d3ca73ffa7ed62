"""Exceptions and warnings raised while loading tasks."""

from __future__ import annotations

from pathlib import Path


class TaskSourceError(Exception):
    """Base class of every task-loading error."""


class UnknownTaskSourceError(TaskSourceError, ValueError):
    """A spec that names no benchmark, file, procedural family or hub dataset."""


class TaskDataNotFoundError(TaskSourceError, FileNotFoundError):
    """A benchmark file that is not where it was looked for."""


class MissingDependencyError(TaskSourceError, ImportError):
    """An optional dependency (e.g. `datasets`) needed by a loader is not installed."""


class TaskFormatError(TaskSourceError, ValueError):
    """A malformed task file; the message names the file, the line and the field."""

    def __init__(
        self, path: str | Path, message: str, *, line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {message}")


class TaskCountWarning(UserWarning):
    """A benchmark file holds a different number of records than the benchmark has."""


class TaskHashWarning(UserWarning):
    """A benchmark file's content differs from the pinned release (loaded with strict=False)."""


class TaskIntegrityError(ValueError):
    """A benchmark file's record count or content hash is not the pinned one."""
