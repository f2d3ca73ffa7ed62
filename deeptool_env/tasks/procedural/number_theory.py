"""Families on modular arithmetic, recurrences and arithmetic sums (their exact helpers are
in `exact_arithmetic.py`)."""

from __future__ import annotations

import math
import random

from ..task import Task
from .base import ANSWER_INTEGER, linear_form, log_uniform, make_task, pick
from .exact_arithmetic import random_prime, totient_summatory


def modpow(rng: random.Random, difficulty: int = 2) -> Task:
    """A large modular power a^e mod m; the hardest level is a power tower mod 10^k."""
    if difficulty == 3:
        a, b, c, k = rng.randint(2, 999), rng.randint(2, 50), rng.randint(5, 20), rng.randint(6, 10)
        problem = (f"Find the remainder when ${a}^{{{b}^{{{c}}}}}$ is divided by $10^{{{k}}}$, "
                   f"that is, the number formed by its last ${k}$ digits. {ANSWER_INTEGER}")
        return make_task("modpow", difficulty, problem, pow(a, b**c, 10**k), a=a, b=b, c=c, k=k)
    if difficulty == 1:
        a, e, m = rng.randint(2, 99), rng.randint(10**4, 10**6), random_prime(rng, 10**5, 10**6)
    else:
        a, e, m = rng.randint(2, 10**4), log_uniform(rng, 10**9, 10**15), rng.randint(10**8, 10**9)
    problem = (f"Compute the remainder when ${a}^{{{e}}}$ is divided by ${m}$. {ANSWER_INTEGER}")
    return make_task("modpow", difficulty, problem, pow(a, e, m), a=a, e=e, m=m)


def crt(rng: random.Random, difficulty: int = 2) -> Task:
    """The least positive solution of a system of congruences with coprime moduli."""
    count = pick(difficulty, 3, 4, 5)
    low, high = pick(difficulty, (50, 1000), (1000, 10**4), (10**4, 10**6))
    moduli: list[int] = []
    while len(moduli) < count:
        m = rng.randint(low, high)
        if all(math.gcd(m, other) == 1 for other in moduli):
            moduli.append(m)
    residues = [rng.randrange(m) for m in moduli]
    x, modulus = 0, 1
    for r, m in zip(residues, moduli, strict=True):
        step = (r - x) * pow(modulus, -1, m) % m
        x, modulus = x + modulus * step, modulus * m
    answer = x % modulus or modulus
    congruences = ", ".join(f"$x \\equiv {r} \\pmod{{{m}}}$"
                            for r, m in zip(residues, moduli, strict=True))
    problem = (f"Find the smallest positive integer $x$ that satisfies all of the congruences "
               f"{congruences}. {ANSWER_INTEGER}")
    return make_task("crt", difficulty, problem, answer, moduli=moduli, residues=residues)


def _mat_mul(a: list[list[int]], b: list[list[int]], m: int) -> list[list[int]]:
    return [[sum(x * y for x, y in zip(row, col, strict=True)) % m for col in zip(*b, strict=True)]
            for row in a]


def recurrence_term(coefficients: list[int], initial: list[int], n: int, m: int) -> int:
    """a_n mod m for a_k = sum(c_i * a_{k-i}), by powering the companion matrix."""
    order = len(coefficients)
    if n < order:
        return initial[n] % m
    companion = [[c % m for c in coefficients]]
    companion += [[int(j == i) for j in range(order)] for i in range(order - 1)]
    result = [[int(i == j) for j in range(order)] for i in range(order)]
    power, exponent = companion, n - order + 1
    while exponent:
        if exponent & 1:
            result = _mat_mul(result, power, m)
        power = _mat_mul(power, power, m)
        exponent >>= 1
    state = [[v % m] for v in reversed(initial)]
    return _mat_mul(result, state, m)[0][0]


def _short_period(coefficients: list[int], initial: list[int], m: int, horizon: int = 64) -> bool:
    """Whether the sequence mod m repeats with a period <= 24 (solvable by hand) early on."""
    seq = [v % m for v in initial]
    while len(seq) < horizon:
        seq.append(sum(c * seq[-i] for i, c in enumerate(coefficients, start=1)) % m)
    tail = seq[len(initial):]
    return any(tail[p:] == tail[:-p] for p in range(1, 25))


def linear_recurrence(rng: random.Random, difficulty: int = 2) -> Task:
    """A far term of a linear recurrence with constant coefficients, modulo m."""
    order = pick(difficulty, 2, 3, 4)
    n = log_uniform(rng, *pick(difficulty, (10**4, 10**6), (10**9, 10**12), (10**15, 10**18)))
    m = rng.choice([10**9 + 7, 998244353, 10**9, random_prime(rng, 10**6, 10**7)])
    while True:
        coefficients = [rng.randint(-5, 9) for _ in range(order - 1)]
        coefficients.append(rng.choice([-3, -2, -1, 1, 2, 3]))
        initial = [rng.randint(0, 9) for _ in range(order)]
        if not _short_period(coefficients, initial, m):
            break
    starts = ", ".join(f"$a_{{{i}}} = {v}$" for i, v in enumerate(initial))
    rule = linear_form(coefficients, [f"a_{{n-{i}}}" for i in range(1, order + 1)])
    problem = (f"A sequence is defined by {starts}, and $a_n = {rule}$ for all $n \\ge {order}$. "
               f"Find the remainder when $a_{{{n}}}$ is divided by ${m}$ (a number between $0$ "
               f"and ${m - 1}$). {ANSWER_INTEGER}")
    return make_task("linear_recurrence", difficulty, problem,
                     recurrence_term(coefficients, initial, n, m),
                     n=n, m=m, coefficients=coefficients, initial=initial)


def totient_sum(rng: random.Random, difficulty: int = 2) -> Task:
    """Sums of Euler's totient, asked directly or as a count of reduced fractions."""
    n = log_uniform(rng, *pick(difficulty, (10**3, 10**4), (10**4, 10**5), (10**5, 2 * 10**5)))
    variant = rng.choice(["sum", "fractions", "visible"])
    total = totient_summatory(n)
    if variant == "sum":
        question = (f"Let $\\varphi$ be Euler's totient function. Compute "
                    f"$\\sum_{{k=1}}^{{{n}}} \\varphi(k)$.")
        answer = total
    elif variant == "fractions":
        question = (f"How many fractions $\\frac{{p}}{{q}}$ in lowest terms satisfy "
                    f"$0 < \\frac{{p}}{{q}} < 1$ and $q \\le {n}$?")
        answer = total - 1
    else:
        question = (f"How many ordered pairs $(x, y)$ of integers with $1 \\le x \\le {n}$ and "
                    f"$1 \\le y \\le {n}$ satisfy $\\gcd(x, y) = 1$?")
        answer = 2 * total - 1
    return make_task("totient_sum", difficulty, f"{question} {ANSWER_INTEGER}", answer,
                     n=n, variant=variant)


def divisor_sums(rng: random.Random, difficulty: int = 2) -> Task:
    """Sums of floor(n/k), of divisor counts or sums, or of remainders n mod k."""
    n = log_uniform(rng, *pick(difficulty, (10**4, 10**6), (10**6, 10**8), (10**8, 10**9)))
    s = math.isqrt(n)
    count = 2 * sum(n // k for k in range(1, s + 1)) - s * s
    weighted = (sum(d * (n // d) for d in range(1, s + 1))
                + sum((n // e) * (n // e + 1) // 2 for e in range(1, s + 1)) - s * s * (s + 1) // 2)
    questions = {
        "floor": (f"Compute $\\sum_{{k=1}}^{{{n}}} \\left\\lfloor \\frac{{{n}}}{{k}} "
                  f"\\right\\rfloor$.", count),
        "divisor_count": (f"Let $d(m)$ be the number of positive divisors of $m$. Compute "
                          f"$\\sum_{{m=1}}^{{{n}}} d(m)$.", count),
        "divisor_sum": (f"Let $\\sigma(m)$ be the sum of the positive divisors of $m$. Compute "
                        f"$\\sum_{{m=1}}^{{{n}}} \\sigma(m)$.", weighted),
        "remainder": (f"Compute $\\sum_{{k=1}}^{{{n}}} ({n} \\bmod k)$, the sum of the "
                      f"remainders when ${n}$ is divided by each of $1, 2, \\ldots, {n}$.",
                      n * n - weighted),
    }
    variant = rng.choice(sorted(questions))
    question, answer = questions[variant]
    return make_task("divisor_sums", difficulty, f"{question} {ANSWER_INTEGER}", answer,
                     n=n, variant=variant)


def digit_sum_total(n: int, base: int) -> int:
    """Sum of the base-`base` digit sums of 1..n, one digit position at a time."""
    total, weight = 0, 1
    while weight <= n:
        high, current, low = n // (weight * base), (n // weight) % base, n % weight
        total += high * weight * base * (base - 1) // 2
        total += weight * current * (current - 1) // 2 + current * (low + 1)
        weight *= base
    return total


def digit_sums(rng: random.Random, difficulty: int = 2) -> Task:
    """The total of the digit sums of 1..n, in base 10 or (hardest) a smaller base."""
    base = pick(difficulty, 10, 10, rng.randint(2, 9))
    n = log_uniform(rng, *pick(difficulty, (10**4, 10**6), (10**7, 10**12), (10**12, 10**18)))
    written = "" if base == 10 else f" when $k$ is written in base ${base}$"
    problem = (f"Let $s(k)$ denote the sum of the digits of $k${written}"
               f"{'' if written else ' (in base $10$)'}. Compute "
               f"$\\sum_{{k=1}}^{{{n}}} s(k)$. {ANSWER_INTEGER}")
    return make_task("digit_sums", difficulty, problem, digit_sum_total(n, base), n=n, base=base)
