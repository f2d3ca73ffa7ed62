"""Decide whether a normalized answer equals a normalized gold, exactly where possible.

Order of checks for one answer (`compare_items`):

1. identical strings (whitespace ignored);
2. text golds (`\\text{Evelyn}`, `\\text{(C)}`): case-insensitive letters and digits only,
   never math-verify (which would read `even` as the product e*v*e*n); the answer may not add
   operators (`-\\left(\\text{Evelyn}\\right)` is not `\\text{Evelyn}`);
3. an answer with prose in `\\text{}` (`5 \\text{ is not the answer; it is 6}`) never matches a
   gold without prose;
4. equations and inequalities (`relations`): `x = 5` states 5, any other relation never equals
   a value, relations compare side by side;
5. tuples and intervals written with brackets on both sides: same brackets (`[1,2]` is not
   `(1,2)`), same length, elements compared in order; an expression of tuples (`2(1,2)`,
   `-(1,2)`, `(1,2)^2`) never matches a tuple gold;
6. integer literals as Python ints, number literals (decimals, `\\frac{a}{b}`, `a/b`, mixed
   numbers) as exact fractions. A decimal answer for a gold without a finite decimal expansion
   counts if it has at least 6 significant digits and is the gold rounded or truncated to its
   places (`0.388889` or `0.388888` for `\\frac{7}{18}`; not `0.333334` for `\\frac13`). A
   per-problem `tolerance` replaces exactness when the data has one;
7. everything else goes to `deep` (sympy + math-verify, run in a worker process).

Lists (`compare`): a gold with top-level commas, a `\\{...\\}` set, a `\\pm`, or a problem flagged
as multi-answer is an unordered multiset; the answer must have the same number of items and
the items must pair up one to one (duplicates count when the gold repeats an item; an item
the answer writes twice is otherwise counted once). Sets may be written in bare braces
(`{2, 3, 5}`). Tuples inside stay ordered. A plain `1,000` (no space) is a thousands separator
only when the gold is a single answer, and `1,22` a decimal comma only when the gold is a
decimal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction

from .literals import (
    decimal_comma,
    decimal_places,
    drop_thousands,
    expand_pm,
    is_int,
    outer_brackets,
    rational,
    set_braces,
    significant_digits,
    split_top_level,
    squash,
    terminates,
)
from .normalize import plain_key, prose_text, text_key
from .options import GradeOptions
from .relations import compare_relations
from .verdict import Outcome

_TUPLE_INSIDE = re.compile(r"[(\[][^()\[\]]*,")
Deep = Callable[[str, str, GradeOptions], Outcome]
MIN_APPROX_DIGITS = 6


def answer_items(s: str, *, as_list: bool, min_unwrap: int = 3) -> list[str]:
    """The items of an answer: set braces unwrapped, split at top-level commas, `\\pm` expanded.

    With `as_list` False a bracketed answer stays one item; with `as_list` True a whole-answer
    `(...)`/`[...]` holding at least `min_unwrap` items is unwrapped too (a list written as a
    tuple), since a 2-item bracket could be a point or an interval.
    """
    inside = set_braces(s)
    if inside is not None:
        s = inside
    elif as_list and (br := outer_brackets(s)) is not None:
        parts = split_top_level(br[1])
        if len(parts) >= min_unwrap:
            s = br[1]
    items = split_top_level(s)
    return [x for item in items for x in expand_pm(item)]


def compare(gold: str, pred: str, opts: GradeOptions, deep: Deep | None) -> Outcome | None:
    """Compare normalized `pred` to normalized `gold`; None if only `deep` could decide."""
    if squash(gold) == squash(pred):
        return Outcome(True, "match", "identical after normalization")
    if not opts.multiple:
        gold = drop_thousands(gold)
    gold_items = answer_items(gold, as_list=False)
    is_list = opts.multiple or len(gold_items) > 1 or set_braces(gold) is not None
    if not is_list:
        if decimal_places(gold) is not None:  # a decimal gold: `1,22` is a decimal comma
            pred = decimal_comma(pred)
        pred_items = answer_items(drop_thousands(pred), as_list=False)
        if len(pred_items) != 1:
            return Outcome(False, "mismatch", f"{len(pred_items)} answers for a single gold")
        return compare_items(gold_items[0], pred_items[0], opts, deep)
    pred_items = answer_items(pred, as_list=True, min_unwrap=max(3, len(gold_items)))
    pred_items = _drop_repeats(gold_items, pred_items)
    if len(pred_items) != len(gold_items):
        return Outcome(
            False,
            "mismatch",
            f"unordered list: {len(pred_items)} items, gold has {len(gold_items)}",
        )
    return _match_lists(gold_items, pred_items, opts, deep)


def _drop_repeats(gold: list[str], pred: list[str]) -> list[str]:
    """`pred` without items written twice, when the gold repeats none (a set listed twice)."""
    if len({squash(g) for g in gold}) < len(gold):
        return pred  # the gold is a multiset (`-2, -2`): multiplicities count
    seen: set[str] = set()
    return [p for p in pred if not (squash(p) in seen or seen.add(squash(p)))]


def _match_lists(
    gold: list[str], pred: list[str], opts: GradeOptions, deep: Deep | None
) -> Outcome | None:
    """One-to-one matching of gold items to answer items (Kuhn's augmenting paths)."""
    cache: dict[tuple[int, int], Outcome | None] = {}
    undecided = False
    timed_out = False

    def edge(i: int, j: int) -> bool:
        nonlocal undecided, timed_out
        if (i, j) not in cache:
            cache[(i, j)] = compare_items(gold[i], pred[j], opts, deep)
        out = cache[(i, j)]
        if out is None:
            undecided = True
            return False
        timed_out |= out.reason == "timeout"
        return out.correct

    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in range(len(pred)):
            if j not in seen and edge(i, j):
                seen.add(j)
                if j not in owner or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    matched = sum(augment(i, set()) for i in range(len(gold)))
    n = len(gold)
    if matched == n:
        return Outcome(True, "match", f"unordered list ({n} items)")
    if undecided:
        return None
    reason = "timeout" if timed_out else "mismatch"
    return Outcome(False, reason, f"unordered list: {matched} of {n} items matched")


def compare_items(gold: str, pred: str, opts: GradeOptions, deep: Deep | None) -> Outcome | None:
    """Compare one gold item with one answer item (see the module docstring for the order)."""
    if squash(gold) == squash(pred):
        return Outcome(True, "match", "identical after normalization")
    key = text_key(gold)
    if key is not None:
        ok = plain_key(pred) == key and _symbols(pred) <= _symbols(gold) | set("()[].")
        return Outcome(ok, "match" if ok else "mismatch", "text (case-insensitive)")
    if prose_text(pred) and not prose_text(gold):
        return Outcome(False, "mismatch", "prose in the answer")
    relation = compare_relations(gold, pred, lambda a, b: compare_items(a, b, opts, deep))
    if relation is not None:
        return relation
    if _is_tuple(gold) and not _is_tuple(pred) and _TUPLE_INSIDE.search(pred):
        return Outcome(False, "mismatch", "a tuple gold; the answer is an expression of tuples")
    tuples = _compare_brackets(gold, pred, opts, deep)
    if tuples is not None:
        return tuples
    exact = compare_numbers(gold, pred, opts)
    if exact is not None:
        return exact
    return deep(gold, pred, opts) if deep is not None else None


def _symbols(s: str) -> set[str]:
    """The characters of `s` other than letters, digits, spaces and text-macro syntax."""
    return set(re.sub(r"\\[A-Za-z]+|[{}\sA-Za-z0-9]", "", s))


def _is_tuple(s: str) -> bool:
    """True for a bracketed sequence of at least two items (`(1, 2)`, `[0, 1)`)."""
    br = outer_brackets(s)
    return br is not None and len(split_top_level(br[1], ",")) > 1


def _compare_brackets(
    gold: str, pred: str, opts: GradeOptions, deep: Deep | None
) -> Outcome | None:
    """Ordered element-wise comparison of two bracketed sequences (tuples, intervals)."""
    g, p = outer_brackets(gold), outer_brackets(pred)
    if g is None or p is None:
        return None
    g_items, p_items = split_top_level(g[1], ","), split_top_level(p[1], ",")
    if len(g_items) < 2 or len(p_items) < 2:
        return None
    if (g[0], g[2]) != (p[0], p[2]):
        return Outcome(False, "mismatch", f"brackets differ: {g[0]}..{g[2]} vs {p[0]}..{p[2]}")
    if len(g_items) != len(p_items):
        return Outcome(False, "mismatch", f"tuple length {len(p_items)}, gold {len(g_items)}")
    for k, (a, b) in enumerate(zip(g_items, p_items, strict=True), start=1):
        out = compare_items(a, b, opts, deep)
        if out is None:
            return None
        if not out.correct:
            return Outcome(
                False, out.reason, f"ordered tuple: item {k} differs ({out.explanation})"
            )
    return Outcome(True, "match", f"ordered tuple ({len(g_items)} items)")


def compare_numbers(gold: str, pred: str, opts: GradeOptions) -> Outcome | None:
    """Exact comparison of two number literals; None if either side is not a literal."""
    if is_int(squash(gold)) and is_int(squash(pred)) and opts.tolerance is None:
        ok = int(squash(gold)) == int(squash(pred))
        return Outcome(ok, "match" if ok else "mismatch", "integer equality")
    g, p = rational(gold), rational(pred)
    if g is None or p is None:
        return None
    return compare_fractions(g, p, opts, pred_decimals=decimal_places(pred), pred_text=pred)


def _roundings(value: Fraction, places: int) -> set[Fraction]:
    """`value` rounded half-up and truncated to `places` decimals (`7/18` -> 0.388889, 0.388888)."""
    scale = 10**places
    scaled = abs(value) * scale
    sign = -1 if value < 0 else 1
    rounded = int(scaled + Fraction(1, 2))
    return {Fraction(sign * rounded, scale), Fraction(sign * int(scaled), scale)}


def compare_fractions(
    g: Fraction, p: Fraction, opts: GradeOptions, *, pred_decimals: int | None, pred_text: str
) -> Outcome:
    """Exact rational equality, a stated tolerance, or the decimal-approximation rule."""
    if opts.tolerance is not None:
        ok = abs(g - p) <= Fraction(opts.tolerance)
        return Outcome(ok, "match" if ok else "mismatch", f"numeric tolerance {opts.tolerance:g}")
    if g == p:
        return Outcome(True, "match", "exact rational")
    if (
        pred_decimals is not None
        and not terminates(g)
        and significant_digits(pred_text) >= MIN_APPROX_DIGITS
        and p in _roundings(g, pred_decimals)
    ):
        return Outcome(True, "match", "decimal approximation of a rational")
    return Outcome(False, "mismatch", "exact rational")
