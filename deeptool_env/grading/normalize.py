"""String normalization of answers before comparison (what math-verify does not do itself).

`normalize` is applied the same way to the gold and to the extracted answer. It is pure string
work (no sympy), so it is cheap and safe to run in the caller's process and thread. It:

- maps Unicode maths from chat models to LaTeX (`√2`, `45°`, `π`, `−`, `×`, `÷`, `≤`, `≥`, `∞`,
  `±`, `²`, `½`, ...);
- removes explicit thousands separators (`1{,}000`, `10,\\!080`, `1\\,000`, narrow spaces); a
  plain `1,000` is left alone here because it is a list when the gold is a list (see `compare`);
- reads a doubled backslash before a command as one (`\\\\frac` -> `\\frac`: an escaped
  string), drops `$`, `\\left`/`\\right`, spacing macros, `\\dfrac`/`\\tfrac` spelling differences;
- treats percent and degree marks as units: `62.5\\%` -> `62.5`, `30^\\circ` -> `30` (so a
  percentage is never rescaled by 100, and `0.625` does not match `62.5\\%`);
- strips units: the problem's own unit (OlympiadBench `unit`), trailing `\\text{ cm}^2`-style
  groups and unit words after a number (`204 minutes`, `\\$18.90`, `5.4 \\text{ cents}`);
- turns "and" / "or" between answers into commas (`1 \\text{ or } 3` -> `1, 3`, also
  `(11,7)or(7,11)` without spaces);
- drops a trailing lone backslash (`185\\`).

A whole-answer `\\text{...}` is kept (it is a text answer such as `\\text{Evelyn}`); `text_key`
gives its case-insensitive comparison key.
"""

from __future__ import annotations

import re

_UNICODE = {
    "\u2212": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u00d7": r"\times ",
    "\u22c5": r"\cdot ",
    "\u00b7": r"\cdot ",
    "\u00f7": r"\div ",
    "\u2264": r"\le ",
    "\u2266": r"\le ",
    "\u2265": r"\ge ",
    "\u2267": r"\ge ",
    "\u2260": r"\ne ",
    "\u221e": r"\infty ",
    "\u03c0": r"\pi ",
    "\u00b1": r"\pm ",
    "\u2213": r"\mp ",
    "\u00b0": r"^\circ ",
    "\u2218": r"^\circ ",
    "\u222a": r"\cup ",
    "\u2229": r"\cap ",
    "\u2208": r"\in ",
    "\u00b2": "^2",
    "\u00b3": "^3",
    "\u00b9": "^1",
    "\u00bd": r"\frac{1}{2}",
    "\u00bc": r"\frac{1}{4}",
    "\u00be": r"\frac{3}{4}",
    "\u2153": r"\frac{1}{3}",
    "\u2154": r"\frac{2}{3}",
    "\u2044": "/",
    "\uff0c": ",",
    "\u3000": " ",
}
_DOUBLED = re.compile(  # `\\\\frac` from a doubly escaped string: a command, not a line break
    r"(?<!\\)\\\\(?=(?:frac|dfrac|tfrac|sqrt|left|right|pi|text|cdot|times|infty)(?![A-Za-z]))"
)
_LINEBREAK = "\x00"  # stands in for LaTeX line breaks (matrix rows) while spacing rules run
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE)))
_ROOT = re.compile(r"([\u221a\u221b\u221c])\s*(\{[^{}]*\}|\([^()]*\)|\\?[A-Za-z]+|\d+(?:\.\d+)?)?")
_THOUSANDS = re.compile(
    r"(?<=\d)(?:\{,\}|,\s*\\!|\\!|\\,|\\ |\\;|\\:|~|[\u00a0\u2009\u202f\u2007])\s*(?=\d{3}(?!\d))"
)
_SIZING = re.compile(
    r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![A-Za-z])\.?"
)
_SPACING = re.compile(r"\\(?:,|;|:|!| |qquad|quad)|~")  # also `\quadx`: a glued space
_STYLE = re.compile(r"\\(?:displaystyle|textstyle|scriptstyle)(?![A-Za-z])")
_FRAC_SPELLING = re.compile(r"\\[dtc]frac(?![A-Za-z])")
_FRAC_SHORT = re.compile(r"\\frac\s*(\d|\{[^{}]*\})\s*(\d|\{[^{}]*\})")
_SQRT_SHORT = re.compile(r"\\sqrt\s*(\d)")
_PERCENT = re.compile(r"\\%|%|\\text\{\s*\\?%\s*\}|\\(?:text|mbox)\{\s*percent\s*\}")
_DEGREE = re.compile(
    r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|(?<=[\d}])\s*\\circ(?![A-Za-z])|\\degree(?![A-Za-z])"
)
_TEXT_GROUP = (
    r"\\(?:text|textrm|textnormal|textit|textbf|mbox|mathrm|mathit|mathbf|rm)\s*\{([^{}]*)\}"
)
_TRAILING_TEXT = re.compile(r"\s*" + _TEXT_GROUP + r"(?:\s*\^\s*\{?\s*\d\s*\}?)?\s*$")
_WHOLE_TEXT = re.compile(r"^\s*" + _TEXT_GROUP + r"\s*$")
_AND_OR = re.compile(
    r"\s*,?\s*\\(?:text|mbox)\{\s*(?:and|or)\s*\}\s*|\s+(?:and|or)\s+"
    r"|(?<=[\d)\]}])\s*or\s*(?=[-+\d(\[\\A-Z]|[a-z](?![a-z]))"
)
_UNIT_TEXT = re.compile(r"\s*[A-Za-z][A-Za-z/.]*(?:\s+[A-Za-z][A-Za-z/.]*){0,2}\s*")
_PROSE = re.compile(
    r"\b(?:is|are|not|no|it|the|answer|but|wrong|correct|true|false|because|therefore)\b", re.I
)
_ANY_TEXT = re.compile(_TEXT_GROUP)
_UNIT_WORDS = (
    r"(?:square\s+|sq\.?\s+|cubic\s+)?"
    r"(?:cm|mm|km|ft|yd|kg|mg|lbs?|oz|ml|mph|kph|km/h|m/s|cm/s|sq|units?|"
    r"meters?|metres?|centimeters?|inch(?:es)?|feet|foot|yards?|miles?|minutes?|mins?|hours?|"
    r"hrs?|seconds?|secs?|days?|weeks?|months?|years?|degrees?|dollars?|cents?|percent|"
    r"grams?|kilograms?|pounds?|liters?|litres?|gallons?|points?|people|students?|ways?|"
    r"times|steps?|moves?|coins?|games?|cookies?|apples?|marbles?|pieces?|rounds?)"
)
_TRAILING_UNIT = re.compile(r"\s+" + _UNIT_WORDS + r"(?:\s*\^\s*\{?\s*\d\s*\}?)?\s*\.?$", re.I)


def _root(m: re.Match[str]) -> str:
    """`√2` -> `\\sqrt{2}`, `√(x+1)` -> `\\sqrt{x+1}`, `∛8` -> `\\sqrt[3]{8}`."""
    cmd = {"\u221a": r"\sqrt", "\u221b": r"\sqrt[3]", "\u221c": r"\sqrt[4]"}[m.group(1)]
    arg = m.group(2)
    if arg is None:
        return cmd
    if arg[0] in "{(":
        arg = arg[1:-1]
    return f"{cmd}{{{arg}}}"


def _frac_short(m: re.Match[str]) -> str:
    """`\\frac43` / `\\frac 59` / `\\frac9{19}` -> `\\frac{4}{3}`-style with both braces."""
    a, b = (g if g.startswith("{") else "{" + g + "}" for g in m.groups())
    return rf"\frac{a}{b}"


def unicode_to_latex(s: str) -> str:
    """Replace the Unicode maths characters chat models emit by their LaTeX spelling."""
    s = _ROOT.sub(_root, s)
    return _UNICODE_RE.sub(lambda m: _UNICODE[m.group(0)], s)


def _is_numeric_head(head: str) -> bool:
    """True if `head` is a number-like expression (digits, no variables): units may follow it."""
    bare = re.sub(r"\\[A-Za-z]+", "", head)
    return bool(re.search(r"\d", bare)) and not re.search(r"[A-Za-z]", bare)


def strip_unit(s: str, unit: str | None) -> str:
    """Remove the problem's declared `unit` (`km/h`, `$cm^2$`, `minute`) from the end of `s`."""
    if not unit:
        return s
    u = normalize_unit(unit)
    if not u:
        return s
    variants = sorted({u, u + "s", u + "es"}, key=len, reverse=True)
    for v in variants:
        body = s.rstrip()
        m = re.search(r"(?:\\(?:text|mbox|mathrm)\s*\{\s*)?" + re.escape(v) + r"\s*\}?\s*$", body)
        if m and m.start() > 0 and _is_numeric_head(body[: m.start()]):
            return body[: m.start()].rstrip()
    return s


def normalize_unit(unit: str) -> str:
    """The unit string as it appears after `normalize` (`$cm^2$` -> `cm^2`, `^{\\circ}` -> ``)."""
    u = unit.replace("$", "").strip()
    u = _DEGREE.sub("", _PERCENT.sub("", u))
    u = re.sub(_TEXT_GROUP, r"\1", u)
    return re.sub(r"\s+", " ", u).strip()


def prose_text(s: str) -> bool:
    """True if a `\\text{}` group of `s` holds a sentence rather than a unit or a name."""
    return any(_PROSE.search(m.group(1)) for m in _ANY_TEXT.finditer(s))


def _strip_units(s: str) -> str:
    """Drop trailing `\\text{unit}` groups (up to three words) and unit words after a number."""
    while True:
        m = _TRAILING_TEXT.search(s)
        if (
            m
            and m.start() > 0
            and _is_numeric_head(s[: m.start()])
            and _UNIT_TEXT.fullmatch(m.group(1))
            and not prose_text(m.group(0))
        ):
            s = s[: m.start()]
            continue
        m = _TRAILING_UNIT.search(s)
        if m and m.start() > 0 and _is_numeric_head(s[: m.start()]):
            s = s[: m.start()]
            continue
        return s


def normalize(s: str, *, unit: str | None = None) -> str:
    """Canonical string form of an answer (see the module docstring for every step)."""
    s = _DOUBLED.sub(r"\\", unicode_to_latex(s.strip())).replace("\\\\", _LINEBREAK)
    s = _THOUSANDS.sub("", s)
    s = s.replace("\\$", "").replace("$", "")
    s = _STYLE.sub("", _SIZING.sub("", s))
    s = _FRAC_SHORT.sub(_frac_short, _FRAC_SPELLING.sub(r"\\frac", s))
    s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
    s = _SPACING.sub(" ", s)
    s = _DEGREE.sub("", _PERCENT.sub("", s))
    s = re.sub(r"\s+", " ", s).strip()
    s = strip_unit(s, unit)
    whole = _WHOLE_TEXT.match(s)
    if whole and _is_numeric_head((whole.group(1).split() or ["x"])[0]):
        s = whole.group(1).strip()  # `\text{4 apples}`: a number with a unit, not a text answer
    s = _strip_units(s)
    s = _AND_OR.sub(", ", s)
    s = re.sub(r"\s+", " ", s).strip().rstrip(".").strip()
    s = re.sub(r"(?<!\\)\\$", "", s).strip()  # a trailing lone backslash (`185\\`)
    return s.replace(_LINEBREAK, "\\\\")


def text_key(s: str) -> str | None:
    """Comparison key of a text answer (`\\text{(C)}` -> `c`); None if `s` is not one."""
    m = _WHOLE_TEXT.match(s)
    if m is None:
        return None
    key = plain_key(m.group(1))
    return key or None


def plain_key(s: str) -> str:
    """Lower-case letters and digits of `s` with text macros unwrapped (for text comparison)."""
    s = re.sub(_TEXT_GROUP, r"\1", s)
    return re.sub(r"[^a-z0-9]", "", s.lower())
