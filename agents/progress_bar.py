"""A live progress bar on the terminal (rich): a label, the bar, done/total, a status text
the caller's `status()` writes (rich markup allowed), time elapsed and time left. Disabled, it does
nothing. The benchmark harness and the synthesis pipeline both show their runs with it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class LiveBar:
    """Use as a context manager; `advance()` counts one more item done and shows what
    `status()` says now."""

    def __init__(self, label: str, total: int, done: int = 0,
                 status: Callable[[], str] = lambda: "", *, enabled: bool = True) -> None:
        self.label, self.total, self.done, self.status = label, total, done, status
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> LiveBar:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn(f"[bold]{self.label}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("eta"),
                TimeRemainingColumn())
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total,
                                            completed=self.done, status=self.status())
        return self

    def advance(self) -> None:
        """One more item is done."""
        self.done += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1, status=self.status())

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
