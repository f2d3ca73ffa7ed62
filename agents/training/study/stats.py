"""Solve rates with 95% bootstrap intervals over problems, alone and as paired differences.

The unit of resampling is the problem (its samples stay together), because problems,
not episodes, are what a held-out set draws from the task distribution. A difference
between two evaluations of the same problems with the same seeds is resampled as pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A point estimate with its 95% percentile-bootstrap interval."""

    value: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}

    def pct(self) -> str:
        """`31.2 [22.7, 40.6]` (percent)."""
        return f"{100 * self.value:.1f} [{100 * self.low:.1f}, {100 * self.high:.1f}]"


def _resample(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    return values[picks].mean(axis=1)


def bootstrap_mean(per_problem: Sequence[float], *, resamples: int = 2000,
                   seed: int = 0) -> Interval:
    """Mean solve rate over problems and its interval."""
    values = np.asarray(per_problem, dtype=float)
    if values.size == 0:
        raise ValueError("no problems to bootstrap")
    means = _resample(values, resamples, seed)
    low, high = np.percentile(means, [2.5, 97.5])
    return Interval(float(values.mean()), float(low), float(high))


def paired_difference(after: Sequence[float], before: Sequence[float], *,
                      resamples: int = 2000, seed: int = 0) -> Interval:
    """after - before over the same problems (same order), resampled as pairs."""
    if len(after) != len(before):
        raise ValueError(f"paired evaluations need the same problems: {len(after)} vs "
                         f"{len(before)}")
    return bootstrap_mean(np.asarray(after, float) - np.asarray(before, float),
                          resamples=resamples, seed=seed)
