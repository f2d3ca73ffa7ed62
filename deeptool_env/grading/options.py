"""Per-problem grading options read from a benchmark record (`meta`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GradeOptions:
    """What the data says about how one problem's answer is to be compared.

    Attributes:
        unit: the unit the problem states separately (OlympiadBench `unit`, e.g. `km/h`); it is
            stripped from both answers before comparison.
        tolerance: absolute numeric tolerance (OlympiadBench `error`, e.g. `1e-1`); None means
            exact comparison for rationals and math-verify's 6-decimal rounding otherwise.
        multiple: the gold is a list of answers (OlympiadBench `is_multiple_answer`, HMMT
            `multiple_answers`); a comma-separated gold is treated as a list even without it.
    """

    unit: str | None = None
    tolerance: float | None = None
    multiple: bool = False

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any] | None) -> GradeOptions:
        """Read the options from a benchmark record or its `extra` dict (missing keys: defaults)."""
        if not meta:
            return cls()
        extra = meta.get("extra")
        fields: dict[str, Any] = dict(meta)
        if isinstance(extra, Mapping):
            fields.update(extra)
        unit = fields.get("unit")
        return cls(
            unit=str(unit) if unit else None,
            tolerance=_tolerance(fields.get("error")),
            multiple=bool(fields.get("is_multiple_answer") or fields.get("multiple_answers")),
        )

    def key(self) -> tuple[str | None, float | None, bool]:
        """Hashable form, part of the grading cache key."""
        return (self.unit, self.tolerance, self.multiple)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, sent to grading workers."""
        return {"unit": self.unit, "tolerance": self.tolerance, "multiple": self.multiple}


def _tolerance(value: Any) -> float | None:
    """`"1e-1"` -> 0.1; None, empty, non-numeric or non-positive values -> None."""
    if value is None or value == "":
        return None
    try:
        tol = float(value)
    except (TypeError, ValueError):
        return None
    return tol if math.isfinite(tol) and tol > 0 else None
