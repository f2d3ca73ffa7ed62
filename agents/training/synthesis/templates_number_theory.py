"""Scripted solutions of the number-theory families (modular powers, digit sums, ...)."""

from __future__ import annotations

import random
from typing import Any

from deeptool_env.tasks import Task

from .templates_common import Recipe, Solution, ints, writer

_TOWER = Recipe(
    thoughts=(
        "I need the last {k} digits of {a}^({b}^{c}), i.e. the power mod 10^{k}. The "
        "exponent {b}^{c} is big but Python integers hold it exactly, and three-argument "
        "pow does the modular exponentiation.",
        "The last {k} digits of a number are its remainder mod 10^{k}. I will compute "
        "the exponent {b}^{c} exactly and let pow({a}, exponent, 10**{k}) do the rest.",
        "This is {a}^({b}^{c}) mod 10^{k}. Square-and-multiply needs only about "
        "log2 of the exponent steps, so pow with a modulus is instant here.",
    ),
    code="a, b, c, k = {a}, {b}, {c}, {k}\nexponent = b**c\nprint(pow(a, exponent, 10**k))",
    conclusions=(
        "The tool printed {answer}; those are the last {k} digits.",
        "pow gives {answer}, the remainder mod 10^{k}, so that is the answer.",
        "So the number formed by the last {k} digits is {answer}.",
    ),
)

_MODPOW = Recipe(
    thoughts=(
        "I need {a}^{e} mod {m}; Python's three-argument pow does modular exponentiation.",
        "Computing {a}^{e} in full is pointless; pow({a}, {e}, {m}) reduces mod {m} at "
        "every squaring.",
        "The remainder of {a}^{e} on division by {m} is a modular power, which fast "
        "exponentiation gets in a few dozen multiplications.",
    ),
    code="a, e, m = {a}, {e}, {m}\nprint(pow(a, e, m))",
    conclusions=(
        "The tool printed {answer}, so that is the remainder.",
        "pow returned {answer}; that is {a}^{e} mod {m}.",
        "So the remainder is {answer}.",
    ),
)


@writer("modpow")
def modpow(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """a^e mod m by three-argument pow; the tower a^(b^c) mod 10^k the same way."""
    if "k" in params:
        return _TOWER.solve(rng, task, **ints(params, "a", "b", "c", "k"))
    return _MODPOW.solve(rng, task, **ints(params, "a", "e", "m"))


# `total` mirrors the generator's digit_sum_total: both count one position at a time.
_DIGIT_SUMS = Recipe(
    thoughts=(
        "I need the sum of the digit sums{where} of 1..{n}. Looping to {n} is too slow in "
        "general, so I count position by position: at each place value, how often each "
        "digit appears among 1..n. I will check that count against a brute-force loop on "
        "small n first.",
        "Summing digits{where} for every k up to {n} one by one would take too long, but "
        "each digit position cycles through 0..{top} regularly, so a per-position count "
        "works. A direct digit-sum loop on small n checks it.",
        "For each place value w, the digit in that position of k runs through 0..{top} in "
        "blocks of w; summing the full cycles and the partial last one gives the total{where}. "
        "I will compare with a plain loop for small n before using it on {n}.",
    ),
    code="""\
def digit_sum(k, base):
    s = 0
    while k:
        s += k % base
        k //= base
    return s

def total(n, base):
    result, w = 0, 1
    while w <= n:
        high, digit, low = n // (w * base), (n // w) % base, n % w
        result += high * w * base * (base - 1) // 2
        result += w * digit * (digit - 1) // 2 + digit * (low + 1)
        w *= base
    return result

base, n = {base}, {n}
print(all(total(m, base) == sum(digit_sum(k, base) for k in range(1, m + 1))
          for m in range(1, 300)))
print(total(n, base))""",
    conclusions=(
        "The formula matches brute force (True) and gives {answer} for n = {n}.",
        "The check printed True, so the position count is right; the total is {answer}.",
        "The per-position count agrees with the loop on small n, and for {n} it is "
        "{answer}.",
    ),
)


@writer("digit_sums")
def digit_sums(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """The total digit sum of 1..n, one digit position at a time, checked by brute force."""
    values = ints(params, "n", "base")
    where = "" if values["base"] == 10 else f" in base {values['base']}"
    return _DIGIT_SUMS.solve(rng, task, where=where, top=values["base"] - 1, **values)


_CRT = Recipe(
    thoughts=(
        "The moduli {moduli} are pairwise coprime, so by the Chinese remainder theorem "
        "there is one solution mod their product. sympy's crt finds it; I will check every "
        "congruence and take the least positive representative.",
        "I combine the {count} congruences with the Chinese remainder theorem "
        "(sympy.ntheory.modular.crt), then verify x against each modulus.",
        "Solving x = r_i mod m_i for coprime m_i is a CRT problem. Let the tool do it and "
        "confirm the residues.",
    ),
    code="""\
from sympy.ntheory.modular import crt
moduli = {moduli}
residues = {residues}
x, modulus = crt(moduli, residues)
x = int(x) % int(modulus) or int(modulus)
print(all(x % m == r for m, r in zip(moduli, residues)), x)""",
    conclusions=(
        "All congruences hold (True), and the smallest positive solution is {answer}.",
        "The check passed, so x = {answer}.",
        "So the least positive x is {answer}.",
    ),
)


@writer("crt")
def crt(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """The Chinese remainder theorem by sympy's crt, with every congruence checked."""
    moduli, residues = [int(m) for m in params["moduli"]], [int(r) for r in params["residues"]]
    return _CRT.solve(rng, task, moduli=moduli, residues=residues, count=len(moduli))


_RECURRENCE = Recipe(
    thoughts=(
        "Iterating to n = {n} is out of the question, but a linear recurrence of order "
        "{order} is a {order}x{order} companion matrix, so a_n mod {m} comes from a matrix "
        "power by repeated squaring. I will check it against plain iteration for small n.",
        "I need a_{n} mod {m}. The state (a_k, ..., a_(k-{last})) advances by a fixed "
        "matrix, so fast matrix exponentiation mod {m} takes about log2(n) steps; a direct "
        "loop on small n confirms the setup.",
    ),
    code="""\
coeffs = {coefficients}
initial = {initial}
m = {m}
order = len(coeffs)

def mul(a, b):
    return [[sum(x * y for x, y in zip(row, col)) % m for col in zip(*b)] for row in a]

def term(n):
    if n < order:
        return initial[n] % m
    companion = [[c % m for c in coeffs]] + [[int(j == i) for j in range(order)]
                                             for i in range(order - 1)]
    result = [[int(i == j) for j in range(order)] for i in range(order)]
    power, e = companion, n - order + 1
    while e:
        if e & 1:
            result = mul(result, power)
        power = mul(power, power)
        e >>= 1
    state = [[v % m] for v in reversed(initial)]
    return mul(result, state)[0][0]

seq = list(initial)
while len(seq) < 40:
    seq.append(sum(c * seq[-i] for i, c in enumerate(coeffs, start=1)))
print(all(term(k) == seq[k] % m for k in range(40)))
print(term({n}))""",
    conclusions=(
        "The matrix power matches direct iteration (True), and a_{n} mod {m} is {answer}.",
        "The check passed, so the remainder is {answer}.",
        "So a_{n} leaves remainder {answer} mod {m}.",
    ),
)


@writer("linear_recurrence")
def linear_recurrence(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """A far term by powering the companion matrix mod m, checked against iteration."""
    values = ints(params, "n", "m")
    coefficients, initial = list(params["coefficients"]), list(params["initial"])
    return _RECURRENCE.solve(rng, task, coefficients=coefficients, initial=initial,
                             order=len(coefficients), last=len(coefficients) - 1, **values)
