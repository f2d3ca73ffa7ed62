"""Sympy / math-verify comparison of one gold item with one answer item.

Runs only inside grading worker processes (`worker.py`), on their main thread: math-verify's
`parse`/`verify` use `signal.alarm` for their own timeouts (`MV_TIMEOUT_S`), and the pool's hard
kill covers what an alarm cannot interrupt (C code such as a huge integer power).

What is added on top of math-verify: when both sides evaluate to exact rationals (integers,
fractions, powers with integer exponents, factorials, binomials) they are compared exactly,
so `\\frac{1}{2^{99}}` is not `\\frac{1}{2^{98}}` and `\\frac{1}{2004!}` is not `\\frac{1}{2006!}`
(math-verify rounds both to 0 and says equal). Results too large to build (over `MAX_BITS`) are
left to math-verify and its timeout. A per-problem tolerance is applied to numeric values.
Exact answers that math-verify equates after its 6-decimal rounding are checked at 60 digits
(`_differs_exactly`), so `\\pi + 10^{-20}` is not `\\pi`.
"""

from __future__ import annotations

import logging
import math
from fractions import Fraction
from functools import lru_cache
from typing import Any

import sympy
from math_verify import LatexExtractionConfig, parse, verify
from math_verify.errors import TimeoutException
from math_verify.utils import timeout

from .compare import compare_fractions
from .options import GradeOptions
from .verdict import Outcome

MV_TIMEOUT_S = 3
MAX_BITS = 1 << 22  # about 1.26 million decimal digits
MAX_FACTORIAL = 50_000
MAX_BINOMIAL = 1_000_000
_CONFIG = (LatexExtractionConfig(boxed_match_priority=0),)


class _TooBig(Exception):
    """An exact value would exceed `MAX_BITS`."""


class _TimeoutProbe(logging.Handler):
    """Notices math-verify's "Timeout during ..." warnings (it returns [] / False on timeout)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.fired = False

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Timeout during"):
            self.fired = True


_probe = _TimeoutProbe()


def install_timeout_probe() -> None:
    """Route math-verify's warnings to the probe instead of stderr (call once per worker)."""
    for name in ("math_verify", "latex2sympy2_extended"):
        log = logging.getLogger(name)
        log.addHandler(_probe)
        log.propagate = False
        log.setLevel(logging.WARNING)


@lru_cache(maxsize=8192)
def parse_answer(latex: str, mv_timeout: int | None = MV_TIMEOUT_S) -> tuple[Any, ...]:
    """math-verify's parse of one answer item (wrapped in `\\boxed{}`), memoised."""
    return tuple(
        parse("\\boxed{" + latex + "}", extraction_config=_CONFIG, parsing_timeout=mv_timeout)
    )


def exact_value(expr: Any) -> Fraction | None:
    """The exact rational value of a sympy expression, or None if it is not (or too big)."""
    try:
        return _exact(expr)
    except (_TooBig, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None


def _exact(e: Any) -> Fraction | None:
    if isinstance(e, sympy.Rational):
        return Fraction(int(e.p), int(e.q))
    if isinstance(e, (sympy.Add, sympy.Mul)):
        total = Fraction(0 if isinstance(e, sympy.Add) else 1)
        for arg in e.args:
            v = _exact(arg)
            if v is None:
                return None
            total = total + v if isinstance(e, sympy.Add) else total * v
            _check_size(total)
        return total
    if isinstance(e, sympy.Pow):
        base, exp = _exact(e.base), _exact(e.exp)
        if base is None or exp is None or exp.denominator != 1:
            return None
        n = exp.numerator
        bits = max(base.numerator.bit_length(), base.denominator.bit_length(), 1)
        if bits * abs(n) > MAX_BITS:
            raise _TooBig
        return base**n
    if isinstance(e, sympy.factorial):
        n = _exact(e.args[0])
        if n is None or n.denominator != 1 or n < 0:
            return None
        if n > MAX_FACTORIAL:
            raise _TooBig
        return Fraction(math.factorial(int(n)))
    if isinstance(e, sympy.binomial):
        n, k = _exact(e.args[0]), _exact(e.args[1])
        if n is None or k is None or n.denominator != 1 or k.denominator != 1 or n < 0:
            return None
        if n > MAX_BINOMIAL:
            raise _TooBig
        return Fraction(math.comb(int(n), int(k)) if 0 <= k <= n else 0)
    return None


def _check_size(v: Fraction) -> None:
    if max(v.numerator.bit_length(), v.denominator.bit_length()) > MAX_BITS:
        raise _TooBig


def _first_expr(parsed: tuple[Any, ...]) -> Any:
    """The first sympy object of a parse result (math-verify appends the raw string)."""
    return next((x for x in parsed if isinstance(x, (sympy.Basic, sympy.MatrixBase))), None)


def _within_tolerance(g: Any, p: Any, tol: float, mv_timeout: int | None) -> bool | None:
    """|g - p| <= tol for two numeric sympy values; None if either is not a finite number."""

    @timeout(timeout_seconds=mv_timeout)
    def numeric() -> bool | None:
        if g.free_symbols or p.free_symbols:
            return None
        a, b = complex(sympy.N(g, 30)), complex(sympy.N(p, 30))
        if not all(map(math.isfinite, (a.real, a.imag, b.real, b.imag))):
            return None
        return abs(a - b) <= tol

    try:
        return numeric()
    except (TimeoutException, TypeError, ValueError, AttributeError):
        return None


def _differs_exactly(g: Any, p: Any, mv_timeout: int | None) -> bool:
    """True when two exact expressions math-verify called equal differ at 60 digits.

    math-verify rounds numbers to 6 decimals, so `\\sqrt{2}+10^{-20}` equals `\\sqrt{2}`. An
    answer written without decimals is exact, so its difference from the gold is evaluated at
    60 significant digits with the free symbols set to fixed rationals; a difference above
    1e-40 (relative) is a mismatch. Decimal answers (`1.41421356`) keep math-verify's rounding.
    """
    if not (isinstance(g, sympy.Expr) and isinstance(p, sympy.Expr)):
        return False
    if g.atoms(sympy.Float) or p.atoms(sympy.Float):
        return False

    @timeout(timeout_seconds=mv_timeout)
    def differs() -> bool:
        names = sorted(g.free_symbols | p.free_symbols, key=str)
        point = {x: sympy.Rational(7 + 3 * k, 5 + 2 * k) for k, x in enumerate(names)}
        diff = complex(sympy.N((g - p).subs(point), 60))
        size = complex(sympy.N(g.subs(point), 60))
        if not all(map(math.isfinite, (diff.real, diff.imag, size.real, size.imag))):
            return False
        return abs(diff) > 1e-40 * max(1.0, abs(size))

    try:
        return bool(differs())
    except (TimeoutException, TypeError, ValueError, AttributeError, ZeroDivisionError):
        return False


def deep_compare(
    gold: str, pred: str, opts: GradeOptions, *, mv_timeout: int | None = MV_TIMEOUT_S
) -> Outcome:
    """Compare two normalized items with sympy: exact rationals first, then math-verify."""
    _probe.fired = False
    gold_parsed = parse_answer(gold, mv_timeout)
    pred_parsed = parse_answer(pred, mv_timeout)
    if _probe.fired:
        return Outcome(False, "timeout", f"math-verify parse timeout ({mv_timeout} s)")
    if not pred_parsed:
        return Outcome(False, "parse_error", "math-verify found no expression in the answer")
    g, p = _first_expr(gold_parsed), _first_expr(pred_parsed)
    if isinstance(g, sympy.Basic) and isinstance(p, sympy.Basic):
        gv, pv = exact_value(g), exact_value(p)
        if gv is not None and pv is not None:
            return compare_fractions(gv, pv, opts, pred_decimals=None, pred_text=pred)
        if opts.tolerance is not None:
            close = _within_tolerance(g, p, opts.tolerance, mv_timeout)
            if close is not None:
                ok = close
                return Outcome(
                    ok, "match" if ok else "mismatch", f"numeric tolerance {opts.tolerance:g}"
                )
    ok = verify(list(gold_parsed), list(pred_parsed), timeout_seconds=mv_timeout)
    if ok and _differs_exactly(g, p, mv_timeout):
        return Outcome(False, "mismatch", "math-verify equal after rounding, exactly different")
    if ok:
        return Outcome(True, "match", "math-verify")
    if _probe.fired:
        return Outcome(False, "timeout", f"math-verify comparison timeout ({mv_timeout} s)")
    if p is None and g is not None:
        return Outcome(False, "parse_error", "the answer did not parse as mathematics")
    return Outcome(False, "mismatch", "math-verify")
