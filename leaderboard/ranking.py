"""The leaderboard's ranking: one row per accepted submission, ordered by the unweighted
mean of avg@k over the six benchmarks, with per-benchmark cells, cost and robustness.

Only server-computed numbers are read (each row's recomputed `summary`), never the
submitter's. A submission missing one of the six benchmarks gets no rank (its partial
mean would not be comparable) and is listed after the ranked ones. Robustness pairs a
clean submission with the newest perturbed submission of the same model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from benchmarks.metrics import BENCHMARK_ORDER, display_name

CLEAN = "none"


class Entry(Protocol):
    """What ranking needs of a stored submission (`db.Submission` has it)."""

    id: int
    model: str
    perturbation: str
    summary: dict[str, Any]


@dataclass
class Cell:
    """avg@k of one benchmark with its 95% interval (fractions)."""

    avg: float
    low: float | None
    high: float | None
    n_problems: int
    k: int


@dataclass
class Robustness:
    """Clean minus perturbed avg@k (mean over the benchmarks both runs have)."""

    drop: float
    clean: float
    perturbed: float
    perturbation: str
    other_id: int


@dataclass
class Row:
    """One line of the leaderboard table."""

    entry: Any
    rank: int | None
    score: float | None
    partial_mean: float | None
    cells: dict[str, Cell | None] = field(default_factory=dict)
    tokens_per_problem: float | None = None
    robustness: Robustness | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data (the API's list entry)."""
        entry = self.entry
        return {
            "id": entry.id,
            "rank": self.rank,
            "model": entry.model,
            "perturbation": entry.perturbation,
            "score": self.score,
            "partial_mean": self.partial_mean,
            "benchmarks": {
                name: None if cell is None else vars(cell) for name, cell in self.cells.items()
            },
            "tokens_per_problem": self.tokens_per_problem,
            "robustness": None if self.robustness is None else vars(self.robustness),
        }


def benchmark_metrics(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """benchmark name -> metrics dict of a stored summary (a `RunSummary.to_dict()`)."""
    benchmarks = summary.get("benchmarks") if isinstance(summary, dict) else None
    return benchmarks if isinstance(benchmarks, dict) else {}


def _cell(metrics: dict[str, Any] | None) -> Cell | None:
    if not isinstance(metrics, dict) or metrics.get("avg_at_k") is None:
        return None
    ci = metrics.get("avg_at_k_ci") or (None, None)
    return Cell(float(metrics["avg_at_k"]), ci[0], ci[1], int(metrics.get("n_problems", 0)),
                int(metrics.get("k", 0)))


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def score(summary: dict[str, Any]) -> float | None:
    """The unweighted mean of avg@k over the six benchmarks (None if one is missing)."""
    metrics = benchmark_metrics(summary)
    cells = [_cell(metrics.get(name)) for name in BENCHMARK_ORDER]
    if any(cell is None for cell in cells):
        return None
    return _mean(cell.avg for cell in cells if cell is not None)


def robustness(clean: dict[str, Any], perturbed: dict[str, Any]) -> tuple[float, float] | None:
    """(clean mean, perturbed mean) of avg@k over the benchmarks both summaries have."""
    a, b = benchmark_metrics(clean), benchmark_metrics(perturbed)
    pairs = [(_cell(a[n]), _cell(b[n])) for n in BENCHMARK_ORDER if n in a and n in b]
    pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
    if not pairs:
        return None
    return _mean(x.avg for x, _ in pairs) or 0.0, _mean(y.avg for _, y in pairs) or 0.0


def _pairs(entries: list[Entry]) -> dict[int, Robustness]:
    """Robustness of each clean entry against its model's newest perturbed entry, and of
    each perturbed entry against its model's newest clean one."""
    newest: dict[tuple[str, bool], Entry] = {}
    for entry in sorted(entries, key=lambda e: e.id):
        newest[(entry.model, entry.perturbation == CLEAN)] = entry
    out = {}
    for entry in entries:
        is_clean = entry.perturbation == CLEAN
        other = newest.get((entry.model, not is_clean))
        if other is None:
            continue
        clean, perturbed = (entry, other) if is_clean else (other, entry)
        means = robustness(clean.summary, perturbed.summary)
        if means is not None:
            out[entry.id] = Robustness(means[0] - means[1], means[0], means[1],
                                       perturbed.perturbation, other.id)
    return out


def rank(entries: Iterable[Entry]) -> list[Row]:
    """Leaderboard rows: ranked entries by score (ties share a rank; older first), then
    unranked ones by their partial mean."""
    entries = list(entries)
    pairs = _pairs(entries)
    rows = []
    for entry in entries:
        metrics = benchmark_metrics(entry.summary)
        cells = {name: _cell(metrics.get(name)) for name in BENCHMARK_ORDER}
        present = [cell.avg for cell in cells.values() if cell is not None]
        tokens = [m.get("tokens_per_problem") for m in metrics.values()]
        rows.append(Row(entry, None, score(entry.summary), _mean(present), cells,
                        _mean(float(t) for t in tokens if t is not None),
                        pairs.get(entry.id)))
    rows.sort(key=lambda r: (r.score is None, -(r.score if r.score is not None
                                                 else r.partial_mean or 0.0), r.entry.id))
    previous: tuple[float, int] | None = None
    for position, row in enumerate(rows, 1):
        if row.score is None:
            break
        if previous is not None and row.score == previous[0]:
            row.rank = previous[1]
        else:
            row.rank = position
        previous = (row.score, row.rank)
    return rows


def headers() -> list[tuple[str, str]]:
    """(benchmark name, display name) of the six table columns, in the paper's order."""
    return [(name, display_name(name)) for name in BENCHMARK_ORDER]
