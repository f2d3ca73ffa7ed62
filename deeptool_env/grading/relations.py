"""Equations and inequalities in answers: split at top-level relation signs, compare side by side.

math-verify reads only the right side of an equation, so on its own `2x=5`, `x^2=5` and
`\\text{not } x = 5` pass for the gold `x=5`, and `1=2` passes for the gold `2`. The rules here
decide every answer or gold that holds a relation sign, before math-verify sees it:

- a *statement of a value* is `name = value` with a name on the left (`x`, `a_{1}`, `f(x)`,
  `\\theta`); it stands for its value (`x = 5` for the gold `5`, and the gold `x = 5` for `5`).
  A chain `x = 2+3 = 5` stands for each of its values: all must equal the gold;
- any other relation never equals a plain value (`1=2`, `2x=5`, `\\neq \\frac{7}{15}`,
  `x > 3`, or an equation for the gold `5`);
- two relations are equal when their signs match and their sides are equal in order, or in
  reverse order with the signs mirrored (`x \\le 5` and `5 \\ge x`);
- `\\approx ...` after an exact answer is a remark: `\\frac{\\sqrt3}{3} \\approx 0.577` is its exact
  part.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .verdict import Outcome

Compare = Callable[[str, str], Outcome | None]

_SIGNS = {
    "=": "=", "<": "<", ">": ">", "<=": "\\le", ">=": "\\ge", "!=": "\\ne",
    "\\le": "\\le", "\\leq": "\\le", "\\leqslant": "\\le", "\\ge": "\\ge", "\\geq": "\\ge",
    "\\geqslant": "\\ge", "\\lt": "<", "\\gt": ">", "\\ne": "\\ne", "\\neq": "\\ne",
    "\\approx": "\\approx",
}  # fmt: skip
_MIRROR = {"=": "=", "\\ne": "\\ne", "<": ">", ">": "<", "\\le": "\\ge", "\\ge": "\\le"}
_SIGN = re.compile(
    r"\\(?:leqslant|geqslant|leq|geq|neq|approx|le|ge|lt|gt|ne)(?![A-Za-z])"
    r"|<=|>=|!=|[=<>]"
)
_ONE_NAME = (
    r"(?:[A-Za-z]|[A-Z]{2,4}|\|[A-Z]{1,4}\||\\(?:alpha|beta|gamma|delta|theta|lambda|mu|phi"
    r"|varphi|psi|omega|sigma|tau|rho|xi|eta|zeta|kappa|nu|chi|Delta|Theta|Phi|Omega)(?![a-z]))"
    r"(?:_\{?[A-Za-z0-9,]+\}?|\^\{?\*\}?|')*(?:\([A-Za-z0-9, ]*\))?"
)
# `x`, `a_{1}`, `f(x)`, `\theta`, `AB`, `|AB|`, `V_1:V_2`, `(p,q)`
_NAME = re.compile(rf"{_ONE_NAME}(?:[:/]{_ONE_NAME})*|\({_ONE_NAME}(?:,{_ONE_NAME})+\)")


def split_relation(s: str) -> tuple[list[str], list[str]]:
    """(sides, signs) of `s` split at relation signs outside brackets; signs canonical."""
    sides: list[str] = []
    signs: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(s):
        ch = s[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and (m := _SIGN.match(s, i)) is not None:
            sides.append(s[start:i].strip())
            signs.append(_SIGNS[m.group(0)])
            start = i = m.end()
            continue
        i += 1
    sides.append(s[start:].strip())
    return sides, signs


def _drop_approx(sides: list[str], signs: list[str]) -> tuple[list[str], list[str]]:
    """Cut a trailing `\\approx ...` remark (`a = b \\approx 0.3` -> `a = b`)."""
    if "\\approx" in signs:
        k = signs.index("\\approx")
        if k > 0 or sides[0]:
            return sides[: k + 1], signs[:k]
    return sides, signs


def is_name(s: str) -> bool:
    """True for what a value can be assigned to: `x`, `a_{1}`, `f(x)`, `AB`, `(p,q)`, `V_1:V_2`."""
    return _NAME.fullmatch(s.replace(" ", "")) is not None and not s.startswith("\\text")


def stated_values(sides: list[str], signs: list[str]) -> list[str] | None:
    """The values a `name = v1 = v2 ...` statement gives; None if `s` is not one."""
    if signs and all(sign == "=" for sign in signs) and is_name(sides[0]):
        values = [v for v in sides[1:] if v]
        return values if len(values) == len(signs) else None
    return None


def compare_relations(gold: str, pred: str, same: Compare) -> Outcome | None:
    """Decide a pair in which either side holds a relation sign (None: neither does).

    `same(a, b)` compares two relation-free items (None: undecided without sympy).
    """
    g_sides, g_signs = split_relation(gold)
    p_sides, p_signs = split_relation(pred)
    if not g_signs and not p_signs:
        return None
    g_sides, g_signs = _drop_approx(g_sides, g_signs)
    p_sides, p_signs = _drop_approx(p_sides, p_signs)
    if not g_signs and not p_signs:
        return same(g_sides[0], p_sides[0])
    g_values = stated_values(g_sides, g_signs)
    p_values = stated_values(p_sides, p_signs)
    if g_values is not None and p_values is not None:
        return _all_same([g_values[-1]] * len(p_values), p_values, same, "stated value")
    if g_values is not None and not p_signs:
        return _all_same([g_values[-1]], p_sides, same, "stated value")
    if p_values is not None and not g_signs:
        return _all_same(g_sides * len(p_values), p_values, same, "stated value")
    if not g_signs or not p_signs:
        return Outcome(False, "mismatch", "a relation for a value (or a value for a relation)")
    if g_signs == p_signs:
        out = _all_same(g_sides, p_sides, same, "relation")
        if out is None or out.correct:
            return out
    if [_MIRROR.get(s) for s in reversed(p_signs)] == g_signs:
        return _all_same(g_sides, p_sides[::-1], same, "mirrored relation")
    return Outcome(False, "mismatch", "relation signs or sides differ")


def _all_same(gold: list[str], pred: list[str], same: Compare, what: str) -> Outcome | None:
    """Match when `gold[k]` equals `pred[k]` for every k (and the lengths agree)."""
    if len(gold) != len(pred) or not all(gold) or not all(pred):
        return Outcome(False, "mismatch", f"{what}: sides differ")
    for a, b in zip(gold, pred, strict=True):
        out = same(a, b)
        if out is None or not out.correct:
            return out if out is None else Outcome(False, out.reason, f"{what}: {out.explanation}")
    return Outcome(True, "match", f"{what} ({len(gold)} sides)")
