"""The harness's progress bar: finished samples of total, ETA and the accuracy so far
(silent when disabled)."""

from __future__ import annotations

from collections.abc import Iterable

from agents.progress_bar import LiveBar

from .records import SampleRecord


class Progress(LiveBar):
    """Counts finished samples; shows `done/total`, ETA and accuracy so far."""

    def __init__(self, total: int, already: Iterable[SampleRecord] = (), *,
                 enabled: bool = True) -> None:
        records = list(already)
        self.correct = sum(r.correct for r in records)
        super().__init__("deeptool-bench", total, len(records),
                         lambda: f"acc {self.accuracy_text}", enabled=enabled)

    @property
    def accuracy_text(self) -> str:
        return f"{self.correct / self.done:.1%}" if self.done else "-"

    def update(self, record: SampleRecord) -> None:
        """Count one more finished sample."""
        self.correct += record.correct
        self.advance()
