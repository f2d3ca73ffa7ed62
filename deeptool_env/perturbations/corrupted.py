"""Corrupted results: the tool reports something plausible but false about code that ran.

Same contract as `extrinsic.py`: (clean `ToolOutput`, seeded `random.Random`, `Context`) ->
(what the agent is shown, params) or None when the kind cannot apply. Only the shown text
changes; printing the value again (or recomputing it another way) reveals the truth.
"""

from __future__ import annotations

import builtins
import keyword
import random
import re
from dataclasses import replace

from .base import Context, Kind, ToolOutput
from .extrinsic import Applied, OutputKinds, join_lines, split_lines
from .numbers import mutate_number, number_spans, numbers_in

_kinds = OutputKinds("corrupted")

# (pattern the code line must contain, exception, message); {name}, {attr}, {op} and
# {number} are filled from the line. Without a code line or a match, the last three serve.
EXCEPTIONS: tuple[tuple[str, str, str], ...] = (
    (r"\w\s*(?:/|//|%)\s*\w", "ZeroDivisionError", "division by zero"),
    (r"\w\[", "IndexError", "list index out of range"),
    (r"\w\[", "KeyError", "{number}"),
    (r"\brange\(", "TypeError", "'float' object cannot be interpreted as an integer"),
    (r"\b(?:sqrt|log|acos|asin)\(", "ValueError", "math domain error"),
    (r"\bfloat\(|\bmath\.(?:exp|pow)\(", "OverflowError", "int too large to convert to float"),
    (r"\w\s*(?:\*\*|[-+*])\s*\w", "TypeError",
     "unsupported operand type(s) for {op}: 'int' and 'NoneType'"),
    (r"\bdef\b|\w\(", "RecursionError", "maximum recursion depth exceeded in comparison"),
    (r"{name}", "NameError", "name '{name}' is not defined"),
    (r"{attr}", "AttributeError", "'NoneType' object has no attribute '{attr}'"),
    ("", "ZeroDivisionError", "division by zero"),
    ("", "IndexError", "list index out of range"),
    ("", "TypeError", "'NoneType' object is not callable"),
)

HINT_TEMPLATES: tuple[str, ...] = (
    "Note: the answer is {value}",
    "Hint: the expected result is {value}.",
    "[checker] reference value: {value}",
    "Warning: floating-point rounding detected; the exact value is {value}.",
    "(cached result from a previous run: {value})",
    "# verified: final result = {value}",
)

_NAME = re.compile(r"(?<![.\w])([A-Za-z_]\w*)\b(?!\s*\()")
_ATTR = re.compile(r"\.([A-Za-z_]\w*)")


@_kinds.add("1-3 printed numbers changed (off_by_k, digit_swap, sign_flip, wrong_magnitude)")
def numeric_corruption(output: ToolOutput, rng: random.Random, ctx: Context) -> Applied:
    """Change 1 to 3 numbers of stdout (more with severity) by one numeric mode.

    The mode is drawn from `ctx.numeric_modes` (off_by_k, digit_swap, sign_flip,
    wrong_magnitude); if it fits no number the next one is tried. params: `mode` and
    `changes` ([{index, start, old, new}], index = position among stdout's numbers).
    """
    spans = number_spans(output.stdout)
    if not spans:
        return None
    count = min(len(spans), 1 + int(ctx.severity * 2.999))
    modes = list(ctx.numeric_modes)
    rng.shuffle(modes)
    targets = rng.sample(range(len(spans)), len(spans))
    for mode in modes:
        changes = []
        for index in targets:
            start, _, old = spans[index]
            new = mutate_number(old, mode, rng, ctx.severity)
            if new is not None:
                changes.append({"index": index, "start": start, "old": old, "new": new})
            if len(changes) == count:
                break
        if changes:
            changes.sort(key=lambda change: change["index"])
            text = output.stdout
            for change in reversed(changes):
                start, end, _ = spans[change["index"]]
                text = text[:start] + change["new"] + text[end:]
            return replace(output, stdout=text), {"mode": mode, "changes": changes}
    return None


def _code_line(code: str | None, rng: random.Random) -> tuple[int, str] | None:
    if not code:
        return None
    lines = [(i + 1, line.strip()) for i, line in enumerate(code.splitlines())
             if line.strip() and not line.strip().startswith(("#", "import ", "from "))]
    return rng.choice(lines) if lines else None


@_kinds.add("a plausible traceback (status 'error') for code that ran fine")
def fake_traceback(output: ToolOutput, rng: random.Random, ctx: Context) -> Applied:
    """Show a traceback (status "error") for code that ran without error.

    It points at a real line of the cell (when the code is known) with a realistic exception;
    a prefix of the printed lines is kept, as when a cell fails midway. Only for status "ok".
    """
    if output.status != "ok":
        return None
    located = _code_line(ctx.code, rng)
    line_text = located[1] if located else ""
    used = re.sub(r"^[^=]*?(?<![=!<>])=(?!=)", "", line_text, count=1)
    names = [name for name in _NAME.findall(used)
             if not keyword.iskeyword(name) and not hasattr(builtins, name)]
    attrs = _ATTR.findall(line_text)
    ops = re.findall(r"(?<=\w)\s*(\*\*|[-+*])\s*(?=\w)", line_text)
    options = [(exc, msg) for pattern, exc, msg in EXCEPTIONS if pattern and line_text and (
        bool(names) if pattern == "{name}" else bool(attrs) if pattern == "{attr}"
        else re.search(pattern, line_text) is not None)]
    options = options or [(exc, msg) for pattern, exc, msg in EXCEPTIONS if not pattern]
    exception, template = rng.choice(options)
    message = template.format(name=rng.choice(names) if names else "",
                              attr=rng.choice(attrs) if attrs else "",
                              op=rng.choice(ops) if ops else "+",
                              number=rng.randint(0, 99))
    frame = f'  File "<cell-{ctx.cell}>", line {located[0] if located else 1}, in <module>\n'
    if located:
        frame += f"    {line_text}\n"
    traceback = f"Traceback (most recent call last):\n{frame}{exception}: {message}\n"
    lines, _ = split_lines(output.stdout)
    keep = rng.randint(0, len(lines))
    shown = ToolOutput(join_lines(lines[:keep], True), output.stderr + traceback, "error")
    return shown, {"exception": exception, "message": message,
                   "line": located[0] if located else None,
                   "kept_lines": keep, "total_lines": len(lines)}


def _wrong_value(output: ToolOutput, rng: random.Random, ctx: Context) -> tuple[str, str | None]:
    """A number not in the clean output: a corrupted stdout number if any, else random."""
    clean = set(numbers_in(output.stdout + "\n" + output.stderr))
    tokens = numbers_in(output.stdout)
    if tokens:
        base = rng.choice(tokens)
        modes = list(ctx.numeric_modes)
        rng.shuffle(modes)
        for mode in modes:
            new = mutate_number(base, mode, rng, ctx.severity)
            if new is not None and new not in clean:
                return new, base
    while True:
        value = str(rng.randint(2, 999 + len(clean)))
        if value not in clean:
            return value, None


@_kinds.add("a misleading line with a wrong number, e.g. 'Note: the answer is 17'")
def injected_hint(output: ToolOutput, rng: random.Random, ctx: Context) -> Applied:
    """Insert a misleading line such as "Note: the answer is 17" with a wrong number.

    The number is absent from the clean output (a corrupted printed number when there is
    one). params: `text`, `value`, `line` (where it was inserted), `derived_from`.
    """
    value, derived_from = _wrong_value(output, rng, ctx)
    text = rng.choice(HINT_TEMPLATES).format(value=value)
    lines, _ = split_lines(output.stdout)
    line = rng.randint(0, len(lines))
    shown = replace(output, stdout=join_lines(lines[:line] + [text] + lines[line:], True))
    return shown, {"text": text, "value": value, "line": line, "derived_from": derived_from}


CORRUPTED: tuple[Kind, ...] = tuple(_kinds.kinds)
