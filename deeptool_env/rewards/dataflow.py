"""Which tool calls an answer was derived from: the data flow the reward settles on.

A call leads to the answer when a value it computed is in the answer, or is a number a
later contributing call typed in, or when it binds a name a later contributing call reads.
Each use is credited to the latest call that could have supplied it, so re-computing a
value the agent already has adds no contributing call.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from .values import canonical_values, informative

PARSE_FAILURES = (SyntaxError, RecursionError, MemoryError, ValueError)


@dataclass(frozen=True)
class Call:
    """What one code turn did, as the data flow needs it."""

    index: int  # the turn of the episode (0-based)
    ran: bool  # the real sandbox status was "ok"
    computed: frozenset[str]  # values printed that the code did not spell out
    typed: frozenset[str]  # informative numbers written in the code
    literals: frozenset[str]  # every number written in the code
    binds: frozenset[str]  # names the code assigns, defines or imports
    reads: frozenset[str]  # names the code reads that it did not bind itself
    candidates: bool  # printed more informative values than `max_printed_values`


def parse(code: str) -> ast.Module | None:
    """The AST of `code`, or None when it does not parse (or is too deep to)."""
    try:
        return ast.parse(code)
    except PARSE_FAILURES:
        return None


def _names(tree: ast.Module | None) -> tuple[frozenset[str], frozenset[str]]:
    binds: set[str] = set()
    reads: set[str] = set()
    if tree is None:
        return frozenset(), frozenset()
    try:
        nodes = list(ast.walk(tree))
    except RecursionError:
        return frozenset(), frozenset()
    for node in nodes:
        if isinstance(node, ast.Name):
            (reads if isinstance(node.ctx, ast.Load) else binds).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            binds.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            binds |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return frozenset(binds), frozenset(reads - binds)


def make_call(index: int, code: str, status: str | None, stdout: str,
              max_printed_values: int) -> Call:
    """The data-flow facts of one code turn (`stdout` is the real, clean output)."""
    literals = frozenset(canonical_values(code))
    computed = frozenset(canonical_values(stdout)) - literals
    binds, reads = _names(parse(code))
    return Call(index=index, ran=status == "ok", computed=computed,
                typed=frozenset(informative(set(literals))), literals=literals,
                binds=binds, reads=reads,
                candidates=len(informative(set(computed))) > max_printed_values)


def contributing(calls: Iterable[Call], answer_values: set[str]) -> list[int]:
    """Indices of the calls the answer was derived from, latest first."""
    want_values, want_names = set(answer_values), set()
    used = []
    for call in sorted(calls, key=lambda c: c.index, reverse=True):
        if not call.ran:
            continue
        values = set() if call.candidates else call.computed & want_values
        names = call.binds & want_names
        if values or names:
            used.append(call.index)
            want_values = (want_values - values) | call.typed
            want_names = (want_names - names) | call.reads
    return used


def answer_is_computed(calls: Iterable[Call], answer_values: set[str]) -> bool:
    """Every number of the answer was computed by a call that ran (not one among many
    printed candidates)."""
    computed: set[str] = set()
    for call in calls:
        if call.ran and not call.candidates:
            computed |= call.computed
    return bool(answer_values) and answer_values <= computed


def _parts(values: set[str]) -> set[str]:
    """`values` with their absolute values and the numerators and denominators of fractions
    (`\\frac{3}{8}` is written `Fraction(3, 8)`; a minus may be a subtraction)."""
    out = set(values)
    for value in values:
        out |= set(value.lstrip("-").split("/")) | {value.lstrip("-")}
    return out


def relates_to_problem(calls: Iterable[Call], used: Iterable[int],
                       problem_values: set[str]) -> bool:
    """The contributing calls write a number of the problem statement: one of its
    informative integers or their neighbours (`range(1, n + 1)`) when it has any, else any
    of its numbers; always true for a problem without numbers."""
    if not problem_values:
        return True
    chosen = set(used)
    written: set[str] = set()
    for call in calls:
        if call.index in chosen:
            written |= call.literals
    numbers = _parts(problem_values)
    strong = {str(int(v) + d) for v in informative(numbers) if v.isdigit() for d in (-1, 0, 1)}
    return bool(written & (strong or numbers))
