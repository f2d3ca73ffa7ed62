"""Pure-Python reading of answer strings: exact number literals, lists, brackets, assignments.

Nothing here calls sympy, so it runs in the caller's process in bounded time. Literals longer
than `MAX_LITERAL_CHARS` are left to the worker processes (which lift Python's limit on
int/str conversion), so a gigantic number can never stall the caller.
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_LITERAL_CHARS = 1000

_INT = re.compile(r"[+-]?\d+")
_DEC = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_FRAC = re.compile(r"([+-]?)\\frac\{([+-]?\d+)\}\{([+-]?\d+)\}")
_SLASH = re.compile(r"([+-]?\d+)/(\d+)")
_MIXED = re.compile(r"([+-]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}")
_THOUSANDS_PLAIN = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL_COMMA = re.compile(r"([+-]?\d+),(\d+)")
_OPEN = {"(": ")", "[": "]"}


def squash(s: str) -> str:
    """`s` without whitespace (for string equality of normalized answers)."""
    return "".join(s.split())


def is_int(s: str) -> bool:
    """True for an integer literal such as `-073`."""
    return len(s) <= MAX_LITERAL_CHARS and _INT.fullmatch(s) is not None


def rational(s: str) -> Fraction | None:
    """The exact value of a number literal, or None if `s` is not one.

    Accepted: integers, decimals (`.5`, `3.0`), `\\frac{a}{b}`, `-\\frac{a}{b}`, `a/b`, mixed
    numbers (`1\\frac{4}{5}` = 9/5, as MATH writes them).
    """
    s = squash(s)
    if not s or len(s) > MAX_LITERAL_CHARS:
        return None
    try:
        if _INT.fullmatch(s) or _DEC.fullmatch(s):
            return Fraction(s)
        if m := _FRAC.fullmatch(s):
            value = Fraction(int(m.group(2)), int(m.group(3)))
            return -value if m.group(1) == "-" else value
        if m := _SLASH.fullmatch(s):
            return Fraction(int(m.group(1)), int(m.group(2)))
        if m := _MIXED.fullmatch(s):
            value = int(m.group(2)) + Fraction(int(m.group(3)), int(m.group(4)))
            return -value if m.group(1) == "-" else value
    except (ValueError, ZeroDivisionError):
        return None
    return None


def decimal_places(s: str) -> int | None:
    """Number of digits after the point of a decimal literal (None if `s` is not a decimal)."""
    s = squash(s)
    if not _DEC.fullmatch(s):
        return None
    return len(s.split(".", 1)[1])


def significant_digits(s: str) -> int:
    """Significant digits of a decimal literal (`0.0038890` -> 5)."""
    digits = re.sub(r"\D", "", s).lstrip("0")
    return len(digits)


def terminates(value: Fraction) -> bool:
    """True if `value` has a finite decimal expansion (denominator 2^a 5^b)."""
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def drop_thousands(s: str) -> str:
    """`1,000,000` -> `1000000` when the whole answer is one comma-grouped number."""
    return s.replace(",", "") if _THOUSANDS_PLAIN.fullmatch(s.strip()) else s


def decimal_comma(s: str) -> str:
    """`1,22` -> `1.22`: a comma that cannot be a thousands separator is a decimal comma.

    Only digits on both sides with no space, and not exactly three digits after it unless the
    integer part is 0 (`0,111`); `1,000` and `1, 22` are left alone.
    """
    m = _DECIMAL_COMMA.fullmatch(s.strip())
    if m is None or (len(m.group(2)) == 3 and m.group(1).lstrip("+-") != "0"):
        return s
    return f"{m.group(1)}.{m.group(2)}"


def split_top_level(s: str, seps: str = ",;") -> list[str]:
    """Split `s` at separators outside brackets/braces (`(1,2), 3` -> [`(1,2)`, `3`])."""
    items: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(s):
        if s.startswith(("\\langle", "\\lfloor", "\\lceil"), i):
            depth += 1
        elif s.startswith(("\\rangle", "\\rfloor", "\\rceil"), i):
            depth -= 1
        ch = s[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in seps and depth == 0:
            items.append(s[start:i])
            start = i + 1
        i += 1
    items.append(s[start:])
    return [it.strip() for it in items if it.strip()]


def outer_brackets(s: str) -> tuple[str, str, str] | None:
    """(open, inside, close) when one bracket pair `(..)`/`[..]`/`(..]`/`[..)` spans all of `s`."""
    s = s.strip()
    if len(s) < 2 or s[0] not in _OPEN or s[-1] not in ")]":
        return None
    depth = 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0 and i != len(s) - 1:
                return None
    return (s[0], s[1:-1], s[-1]) if depth == 0 else None


def set_braces(s: str) -> str | None:
    """The inside of a set spanning all of `s`, else None.

    `\\{1, 2\\}` is a set; so is `{1, 2}` in bare braces when it holds a top-level comma (a
    bare `{5}` is only a group).
    """
    s = s.strip()
    if s.startswith("\\{") and s.endswith("\\}"):
        inside = s[2:-2]
    elif s.startswith("{") and s.endswith("}") and len(split_top_level(s[1:-1], ",")) > 1:
        inside = s[1:-1]
    else:
        return None
    depth = 0
    for ch in inside:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return None
    return inside if depth == 0 else None


def expand_pm(item: str) -> list[str]:
    """`1 \\pm \\sqrt{19}` -> [`1 + \\sqrt{19}`, `1 - \\sqrt{19}`]; one `\\pm`/`\\mp` at most."""
    signs = re.findall(r"\\(?:pm|mp)(?![A-Za-z])", item)
    if len(signs) != 1:
        return [item]
    plus, minus = ("+", "-") if signs[0] == "\\pm" else ("-", "+")
    pattern = re.compile(r"\\(?:pm|mp)(?![A-Za-z])")
    return [pattern.sub(plus, item).strip(), pattern.sub(minus, item).strip()]
