"""Issues and the field-by-field checker that the submission schema is written with.

Problems are returned as `ValidationIssue`s, never raised, so one pass reports all of them;
each message names the field path and, for samples, the 1-based line number of
`samples.jsonl`. `FieldChecker` collects the issues of one decoded JSON object.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class ValidationIssue:
    """One problem found in a submission. `message` is complete on its own: it names the file,
    line (for samples) and field path. `level` "error" rejects the submission; "warning" and
    "info" are recorded only."""

    code: str
    message: str
    line: int | None = None
    field: str | None = None
    level: str = ERROR

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"[{self.level}] {self.code}: {self.message}"


def json_kind(value: Any) -> str:
    """The JSON type name of a parsed value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _is(value: Any, kind: str) -> bool:
    """Whether `value` has JSON type `kind` ("str", "int", "float", "bool", "list", "dict");
    booleans are never numbers and floats must be finite."""
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return (isinstance(value, int | float) and not isinstance(value, bool)
                and math.isfinite(value))
    return isinstance(value, {"str": str, "bool": bool, "list": list, "dict": dict}[kind])


class FieldChecker:
    """Collects issues for one object; `where` prefixes every message ("metadata", or
    "samples.jsonl line 12")."""

    def __init__(self, where: str, line: int | None = None) -> None:
        self.where, self.line = where, line
        self.issues: list[ValidationIssue] = []

    def add(self, code: str, path: str, text: str) -> None:
        self.issues.append(ValidationIssue(code, f"{self.where}: field '{path}' {text}",
                                           self.line, path))

    def typed(self, obj: dict[str, Any], key: str, kind: str, path: str,
              *, nullable: bool = False) -> bool:
        """Check `obj[key]` (present) has `kind`; report and return False otherwise."""
        value = obj[key]
        if (nullable and value is None) or _is(value, kind):
            return True
        want = {"str": "a string", "int": "an integer", "float": "a finite number",
                "bool": "true or false", "list": "an array", "dict": "an object"}[kind]
        self.add("wrong_type", path, f"must be {want}{' or null' if nullable else ''}, "
                 f"got {json_kind(value)} {json.dumps(value)[:60]}")
        return False

    def keys(self, obj: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...],
             prefix: str = "") -> None:
        for key in required:
            if key not in obj:
                self.add("missing_field", prefix + key, "is missing")
        for key in sorted(set(obj) - set(required) - set(optional)):
            self.add("unknown_field", prefix + key,
                     f"is not a known field (known: {', '.join(required + optional)})")
