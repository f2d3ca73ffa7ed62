"""A rich progress bar with ETA and running accuracy (silent when disabled or not a TTY
and no console is wanted)."""

from __future__ import annotations

from collections.abc import Iterable

from .records import SampleRecord


class Progress:
    """Counts finished samples; shows `done/total`, ETA and accuracy so far."""

    def __init__(self, total: int, already: Iterable[SampleRecord] = (), *,
                 enabled: bool = True) -> None:
        records = list(already)
        self.total = total
        self.done = len(records)
        self.correct = sum(r.correct for r in records)
        self.enabled = enabled
        self._bar = None
        self._task = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]deeptool-bench"), BarColumn(), MofNCompleteColumn(),
                TextColumn("acc {task.fields[accuracy]}"), TimeElapsedColumn(),
                TextColumn("eta"), TimeRemainingColumn(), transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task("samples", total=self.total,
                                            completed=self.done, accuracy=self.accuracy_text)
        return self

    @property
    def accuracy_text(self) -> str:
        return f"{self.correct / self.done:.1%}" if self.done else "-"

    def update(self, record: SampleRecord) -> None:
        self.done += 1
        self.correct += record.correct
        if self._bar is not None:
            self._bar.update(self._task, advance=1, accuracy=self.accuracy_text)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
