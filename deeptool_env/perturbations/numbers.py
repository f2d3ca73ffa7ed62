"""Finding numbers in text and changing one number plausibly (the numeric corruption modes).

A number is an integer, a decimal, a number in scientific notation or a fraction `a/b`,
with a unary minus, as it appears in the text: `numbers_in("x = -3, y = 7/18, 2.5e-3")` is
`["-3", "7/18", "2.5e-3"]`. Digits inside identifiers (`x2`, `log10`) are not numbers.
"""

from __future__ import annotations

import random
import re
from decimal import Decimal

NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>-?)(?P<int>\d+)(?:\.(?P<frac>\d+))?(?P<exp>[eE][-+]?\d+)?"
    r"(?:/(?P<den>\d+))?(?!\w)")

NUMERIC_MODES: tuple[str, ...] = ("off_by_k", "digit_swap", "sign_flip", "wrong_magnitude")


def numbers_in(text: str) -> list[str]:
    """The numbers in `text`, in order, spelled as they appear."""
    return [match.group() for match in NUMBER.finditer(text)]


def number_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, number) for every number in `text`."""
    return [(match.start(), match.end(), match.group()) for match in NUMBER.finditer(text)]


def _format_units(units: int, scale: int) -> str:
    """The decimal with integer `units` of 10**-scale, e.g. (314, 2) -> "3.14"."""
    digits = str(abs(units)).rjust(scale + 1, "0")
    body = digits if scale == 0 else f"{digits[:-scale]}.{digits[-scale:]}"
    return ("-" if units < 0 else "") + body


def _format_exponent(exponent: int, like: str) -> str:
    """An exponent suffix in the style of `like` (Python pads to two digits)."""
    sign = "-" if exponent < 0 else ("+" if "+" in like else "")
    return f"{like[0]}{sign}{abs(exponent):02d}"


def _off_by_k(m: re.Match[str], rng: random.Random, severity: float,
              allow_negative: bool) -> str:
    frac = m["frac"] or ""
    units = int(f"{m['sign']}{m['int']}{frac}")
    k = rng.randint(1, 1 + round(severity * 9))
    step = k if rng.random() < 0.5 else -k
    if (units + step < 0 and not allow_negative) or (m["den"] and units + step == 0):
        step = k
    new = _format_units(units + step, len(frac))
    return f"{new}{m['exp'] or ''}{'/' + m['den'] if m['den'] else ''}"


def _digit_swap(m: re.Match[str], rng: random.Random) -> str | None:
    int_part, frac = m["int"], m["frac"] or ""
    digits = int_part + frac
    options = [i for i in range(len(digits) - 1) if digits[i] != digits[i + 1]
               and not (i == 0 and digits[1] == "0" and len(int_part) > 1)]
    if not options:
        return None
    i = rng.choice(options)
    swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2:]
    body = swapped[:len(int_part)] + ("." + swapped[len(int_part):] if frac else "")
    return f"{m['sign']}{body}{m['exp'] or ''}{'/' + m['den'] if m['den'] else ''}"


def _sign_flip(m: re.Match[str]) -> str | None:
    if not any(c in "123456789" for c in m["int"] + (m["frac"] or "")):
        return None
    token = m.group()
    return token[1:] if token.startswith("-") else "-" + token


def _wrong_magnitude(m: re.Match[str], rng: random.Random, severity: float) -> str | None:
    if not any(c in "123456789" for c in m["int"] + (m["frac"] or "")):
        return None
    power = rng.randint(1, 1 + round(severity * 2)) * (1 if rng.random() < 0.5 else -1)
    mantissa = f"{m['sign']}{m['int']}{'.' + m['frac'] if m['frac'] else ''}"
    den = f"/{m['den']}" if m["den"] else ""
    if m["exp"]:
        return mantissa + _format_exponent(int(m["exp"][1:]) + power, m["exp"]) + den
    if den and power < 0:
        return f"{mantissa}/{int(m['den']) * 10**-power}"
    if not m["frac"] and (power > 0 or int(mantissa) % 10**-power == 0):
        value = int(mantissa)
        return str(value * 10**power if power > 0 else value // 10**-power) + den
    return format(Decimal(mantissa).scaleb(power), "f") + den


def mutate_number(token: str, mode: str, rng: random.Random, severity: float = 0.5, *,
                  allow_negative: bool = True) -> str | None:
    """`token` changed by `mode` (one of NUMERIC_MODES), or None if the mode cannot apply.

    off_by_k adds +-k units of the last digit (k grows with severity), digit_swap swaps two
    adjacent different digits, sign_flip toggles the minus, wrong_magnitude multiplies by
    10**+-m (m in 1..3 with severity). The result always differs from `token`.
    """
    match = NUMBER.fullmatch(token)
    if match is None:
        raise ValueError(f"not a number: {token!r}")
    if mode == "off_by_k":
        new = _off_by_k(match, rng, severity, allow_negative)
    elif mode == "digit_swap":
        new = _digit_swap(match, rng)
    elif mode == "sign_flip":
        new = _sign_flip(match) if allow_negative else None
    elif mode == "wrong_magnitude":
        new = _wrong_magnitude(match, rng, severity)
    else:
        raise ValueError(f"unknown numeric mode {mode!r}; valid: {', '.join(NUMERIC_MODES)}")
    return None if new is None or new == token else new
