"""What a synthesis run reports: `SynthesisSummary` and the live progress bar."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from agents.progress_bar import LiveBar


@dataclass
class SynthesisSummary:
    """Counts of one `synthesize` call (this run), plus the totals in the output files.

    `rejected` and `perturbations` count by reason and by kind; `dropped_injections`
    counts planned anomalies left out because the replay with them did not stay true;
    `recovery_fallbacks` counts recovery thoughts the teacher got wrong (a template was
    used instead). `interrupted` is True when Ctrl-C ended the run early.
    """

    out: str
    rejects: str
    selected: int = 0
    skipped_no_solution: int = 0
    already_done: int = 0
    kept: int = 0
    rejected: Counter = field(default_factory=Counter)
    perturbations: Counter = field(default_factory=Counter)
    dropped_injections: int = 0
    recovery_fallbacks: int = 0
    teacher_calls: int = 0
    total_kept: int = 0
    total_rejected: int = 0
    wall_s: float = 0.0
    interrupted: bool = False

    @property
    def processed(self) -> int:
        return self.kept + sum(self.rejected.values())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(rejected=dict(self.rejected), perturbations=dict(self.perturbations),
                    processed=self.processed)
        return data

    def render(self) -> str:
        """A few human-readable lines for the end of a run."""
        rate = self.processed / self.wall_s if self.wall_s else 0.0
        lines = [
            f"{'interrupted' if self.interrupted else 'done'}: {self.processed} problems in "
            f"{self.wall_s:.1f} s ({rate:.2f}/s), {self.teacher_calls} teacher calls",
            f"kept {self.kept}, rejected {sum(self.rejected.values())} "
            f"(files now hold {self.total_kept} kept, {self.total_rejected} rejected; "
            f"{self.already_done} were done before, {self.skipped_no_solution} skipped "
            "without a solution)",
        ]
        if not self.selected and self.skipped_no_solution:
            lines.append("nothing selected: no problem has a worked solution; pass "
                         "--require-solution false to let the teacher solve them")
        if self.rejected:
            lines.append("rejected by reason: " + ", ".join(
                f"{reason} {count}" for reason, count in self.rejected.most_common()))
        if self.perturbations:
            lines.append("injected: " + ", ".join(
                f"{kind} {count}" for kind, count in self.perturbations.most_common()))
        if self.dropped_injections or self.recovery_fallbacks:
            lines.append(f"injections dropped (replay not true with them): "
                         f"{self.dropped_injections}; template recovery thoughts used "
                         f"instead of the teacher's: {self.recovery_fallbacks}")
        lines.append(f"kept: {self.out}\nrejects: {self.rejects}")
        return "\n".join(lines)


class ProgressBar(LiveBar):
    """A rich progress bar over the selected problems, showing kept and rejected."""

    def __init__(self, total: int, done: int, summary: SynthesisSummary, *,
                 enabled: bool) -> None:
        super().__init__("synth", total, done, lambda: (
            f"kept [green]{summary.kept}[/] rejected [red]{sum(summary.rejected.values())}[/]"),
            enabled=enabled)
