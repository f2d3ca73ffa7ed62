"""Intrinsic generation anomalies: the agent's code is changed before it runs.

These simulate the model writing slightly wrong code (for trajectory synthesis / SFT data):
unlike the other families they DO change what runs, and so the session state (a wrong
constant assigned to a variable stays wrong in later turns). Re-running the agent's
original code reveals the truth. Each function takes the code, a seeded `random.Random` and
the `Context`, and returns (code to run, params) or None when it cannot apply.
"""

from __future__ import annotations

import io
import random
import re
import tokenize
import warnings
from typing import Any

from .base import Context, Kind
from .numbers import mutate_number

Applied = tuple[str, dict[str, Any]] | None

_BLOCK_HEADER = re.compile(
    r"^\s*(for|if|elif|else|while|def|class|with|try|except|finally)\b.*?(:)\s*(#.*)?$")
_PLAIN_LITERAL = re.compile(r"\d+(\.\d+)?([eE][-+]?\d+)?")
_MAX_TRIES = 20


def compiles(code: str) -> bool:
    """Whether `code` is valid Python (as the sandbox compiles a cell). Code nested too deep
    for the parser or the compiler (RecursionError, MemoryError) does not compile either."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(code, "<cell>", "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    return True


def _missing_colon(line: str) -> str | None:
    match = _BLOCK_HEADER.match(line)
    return None if match is None else line[:match.start(2)] + line[match.end(2):]


def _unclosed_paren(line: str) -> str | None:
    cut = line.rfind(")")
    return None if cut < 0 else line[:cut] + line[cut + 1:]


def _extra_paren(line: str) -> str | None:
    return line.rstrip() + ")" if line.strip() and not line.strip().startswith("#") else None


def _bad_indent(line: str) -> str | None:
    return " " + line if line.strip() and not line[0].isspace() else None


_STRATEGIES = {"missing_colon": _missing_colon, "unclosed_paren": _unclosed_paren,
               "extra_paren": _extra_paren, "bad_indent": _bad_indent}


def syntax_error(code: str, rng: random.Random, ctx: Context) -> Applied:
    """Break one line so the cell no longer compiles (missing colon, unbalanced parenthesis,
    unexpected indent). Cannot apply to code that already fails to compile."""
    if not compiles(code):
        return None
    lines = code.split("\n")
    strategies = list(_STRATEGIES)
    rng.shuffle(strategies)
    for strategy in strategies:
        order = rng.sample(range(len(lines)), len(lines))
        tries = 0
        for index in order:
            new_line = _STRATEGIES[strategy](lines[index])
            if new_line is None or (strategy == "bad_indent" and index == 0):
                continue
            candidate = "\n".join(lines[:index] + [new_line] + lines[index + 1:])
            if not compiles(candidate):
                return candidate, {"strategy": strategy, "line": index + 1,
                                   "original_line": lines[index], "new_line": new_line,
                                   "injected": []}
            tries += 1
            if tries >= _MAX_TRIES:
                break
    return None


def _number_tokens(code: str) -> list[tokenize.TokenInfo] | None:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    return [tok for tok in tokens
            if tok.type == tokenize.NUMBER and _PLAIN_LITERAL.fullmatch(tok.string)]


def wrong_constant(code: str, rng: random.Random, ctx: Context) -> Applied:
    """Change exactly one numeric literal of the code (off_by_k, digit_swap or
    wrong_magnitude; an int stays a non-negative int). params: line, col, old, new, mode."""
    candidates = _number_tokens(code)
    if not candidates:
        return None
    valid_before = compiles(code)
    starts = [0]
    for line in code.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    for token in rng.sample(candidates, min(len(candidates), _MAX_TRIES)):
        modes = ["off_by_k", "digit_swap", "wrong_magnitude"]
        rng.shuffle(modes)
        for mode in modes:
            new = mutate_number(token.string, mode, rng, ctx.severity, allow_negative=False)
            if new is None or (token.string.isdigit() and not new.isdigit()):
                continue
            row, col = token.start
            offset = starts[row - 1] + col
            candidate = code[:offset] + new + code[offset + len(token.string):]
            if valid_before and not compiles(candidate):
                continue
            return candidate, {"line": row, "col": col, "old": token.string, "new": new,
                               "mode": mode, "injected": [new]}
    return None


INTRINSIC: tuple[Kind, ...] = (
    Kind("syntax_error", "intrinsic", "code", syntax_error,
         "one line of the code broken so it raises SyntaxError"),
    Kind("wrong_constant", "intrinsic", "code", wrong_constant,
         "one numeric literal of the code changed before it runs"),
)
