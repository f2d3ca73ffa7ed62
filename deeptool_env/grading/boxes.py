"""Finding `\\boxed{...}` / `\\fbox{...}` groups in text in one pass over its braces.

`final_boxes` returns the content of the last box, joined with the boxes just before it when
only connectors separate them (`\\boxed{1}, \\boxed{2}`, `\\boxed{(2, 2)} \\quad \\text{and}
\\quad \\boxed{(6, 2)}`, `y_1 = \\boxed{A} and y_2 = \\boxed{B}`): one answer split over several
boxes. Boxes separated by prose (`\\boxed{1} first, then \\boxed{2}`) are not joined; the last
one is the answer.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

BOX_START = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
# What may stand between two boxes of one answer: spacing, delimiters, commas, "and"/"or",
# "for part (a)", and the name a box is assigned to (`y_2 =`).
_CONNECTOR = re.compile(
    r"(?:\s|[,;$]|\\[\[\]()]|\\q?quad(?![A-Za-z])|\\[,;: !]|\\(?:text|mbox)\s*\{|\}"
    r"|\band\b|\bor\b|\bfor\s+part\s+\(?[a-z0-9]\)?"
    r"|[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?\s*=)*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Braces:
    """The brace structure of a text: matched `{`..`}` pairs and stray `\\}` positions."""

    pairs: dict[int, int]
    strays: list[int]  # each `\\}` that no `\\{` opened (position of its `}`), ascending


def braces(text: str) -> Braces:
    """Match every `{` with its `}` and every `\\{` with its `\\}`, in one pass."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    escaped = 0
    strays: list[int] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt == "{":
                escaped += 1
            elif nxt == "}":
                if escaped:
                    escaped -= 1
                else:
                    strays.append(i + 1)
            i += 2
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            pairs[stack.pop()] = i
        i += 1
    return Braces(pairs, strays)


def box_span(text: str, start: re.Match[str], found: Braces) -> tuple[int, int] | None:
    """(content start, content end) of the box whose command `start` matched; None if unclosed.

    `\\boxed{X}` gives the span of X; `\\boxed 5` (a space, then one token) the span of `5`.
    A box whose `{` is unmatched but followed by a stray `\\}` (`\\boxed{185\\}`: a trailing
    backslash) ends at that brace.
    """
    i = start.end()
    while i < len(text) and text[i] in " \t":
        i += 1
    if i < len(text) and text[i] == "{":
        if i in found.pairs:
            return (i + 1, found.pairs[i])
        k = bisect.bisect_left(found.strays, i)
        return (i + 1, found.strays[k]) if k < len(found.strays) else None
    if start.end() < i:
        token = re.match(r"[^\s$]+", text[i:])
        return (i, i + token.end()) if token else None
    return None


def unwrap_boxes(content: str) -> str:
    """Replace every `\\boxed{X}` / `\\fbox{X}` inside `content` by `X` (nested boxes), in O(n)."""
    found = braces(content)
    keep = [True] * len(content)
    for m in BOX_START.finditer(content):
        span = box_span(content, m, found)
        cut_to = m.end() if span is None else span[0]
        for k in range(m.start(), cut_to):
            keep[k] = False
        if span is not None and span[0] > m.end() and content[span[0] - 1] == "{":
            keep[span[1]] = False
    return "".join(ch for ch, k in zip(content, keep, strict=True) if k)


def _outer_boxes(text: str) -> list[tuple[int, int, int]]:
    """(command start, content start, content end) of each non-empty box not inside another."""
    found = braces(text)
    out: list[tuple[int, int, int]] = []
    for m in BOX_START.finditer(text):
        if out and m.start() < out[-1][2]:
            continue  # nested in the previous box
        span = box_span(text, m, found)
        if span is not None and text[span[0] : span[1]].strip():
            out.append((m.start(), span[0], span[1]))
    return out


def final_boxes(text: str) -> tuple[str, int] | None:
    """(answer, end position) of the last box run in `text` (see the module docstring)."""
    boxes = _outer_boxes(text)
    if not boxes:
        return None
    run = [boxes[-1]]
    for prev in reversed(boxes[:-1]):
        gap = text[prev[2] + 1 : run[0][0]]
        if _CONNECTOR.fullmatch(gap) is None:
            break
        run.insert(0, prev)
    parts = [unwrap_boxes(text[a:b]).strip() for _, a, b in run]
    return ", ".join(parts), run[-1][2]
