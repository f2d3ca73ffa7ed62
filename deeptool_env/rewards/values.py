"""Canonical numeric values in text, to compare what code printed with what was answered."""

from __future__ import annotations

import re
from fractions import Fraction

_NUMBER = re.compile(
    r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+)?(?![\w])"
    r"|(-?)\s*\\[dt]?frac\{(-?\d+)\}\{(\d+)\}"
)
_MAX_DIGITS = 4000


def _canonical(token: str) -> str | None:
    token = token.replace(",", "").replace(" ", "")
    if len(token) > _MAX_DIGITS:
        return token
    try:
        value = Fraction(token)
    except (ValueError, ZeroDivisionError):
        return None
    return str(value.numerator) if value.denominator == 1 else str(value)


def canonical_values(text: str) -> set[str]:
    """Every number in `text` as a canonical string: `007` -> `7`, `1,000` -> `1000`,
    `2.50` -> `5/2`, `\\frac{6}{4}` -> `3/2`, `-\\frac{3}{4}` -> `-3/4`."""
    found = set()
    for match in _NUMBER.finditer(text):
        if match.group(2) is not None:
            numerator = match.group(2).removeprefix("-")
            negative = bool(match.group(1)) != match.group(2).startswith("-")
            value = _canonical(f"{'-' if negative else ''}{numerator}/{match.group(3)}")
        else:
            value = _canonical(match.group(0))
        if value is not None:
            found.add(value)
    return found


def informative(values: set[str]) -> set[str]:
    """Drop values too common to mean anything when they match (0, 1, 2, ..., 10)."""
    # Digit strings too long for int() (over 4300 digits) are informative, not an error.
    return {v for v in values
            if not (v.lstrip("-").isdigit() and len(v) <= 3 and abs(int(v)) <= 10)}
