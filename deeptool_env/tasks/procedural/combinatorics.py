"""Families of exact counting: binomials mod p, derangements, Catalan numbers, paths, partitions."""

from __future__ import annotations

import math
import random

from ..task import Task
from .base import ANSWER_INTEGER, log_uniform, make_task, pick
from .exact_arithmetic import distinct_partitions, partition_table, random_prime

_P = 10**9 + 7


def _falling_mod(n: int, k: int, p: int) -> int:
    """C(n, k) mod a prime p > n, as n(n-1)...(n-k+1) / k! with one modular inverse."""
    numerator = denominator = 1
    for i in range(k):
        numerator = numerator * (n - i) % p
        denominator = denominator * (i + 1) % p
    return numerator * pow(denominator, -1, p) % p


def binomial_mod(rng: random.Random, difficulty: int = 2) -> Task:
    """A binomial coefficient modulo a prime; the hardest level needs Lucas' theorem."""
    if difficulty == 1:
        n, p = rng.randint(200, 3000), _P
        k = rng.randint(2, n - 2)
        answer = math.comb(n, k) % p
    elif difficulty == 2:
        p = rng.choice([_P, 998244353])
        n, k = log_uniform(rng, 10**6, 10**9), rng.randint(500, 5000)
        answer = _falling_mod(n, k, p)
    else:
        p, n = random_prime(rng, 100, 3000), log_uniform(rng, 10**12, 10**18)
        digits, rest = [], n
        while rest:
            digits.append(rest % p)
            rest //= p
        chosen = [rng.randint(0, d) for d in digits[:-1]] + [rng.randint(1, digits[-1])]
        k = sum(c * p**i for i, c in enumerate(chosen))
        answer = math.prod(math.comb(d, c) for d, c in zip(digits, chosen, strict=True)) % p
    problem = (f"Find the remainder when $\\binom{{{n}}}{{{k}}}$ is divided by the prime "
               f"${p}$. {ANSWER_INTEGER}")
    return make_task("binomial_mod", difficulty, problem, answer, n=n, k=k, p=p)


def derangement_count(n: int, modulus: int | None = None) -> int:
    """!n, the permutations of n items without fixed points (optionally mod `modulus`)."""
    value = 1
    for i in range(1, n + 1):
        value = i * value + (-1) ** i
        if modulus:
            value %= modulus
    return value


def derangements(rng: random.Random, difficulty: int = 2) -> Task:
    """Permutations with no (or exactly k) fixed points."""
    if difficulty == 1:
        n = rng.randint(12, 25)
        question = (f"How many permutations $\\pi$ of $\\{{1, 2, \\ldots, {n}\\}}$ satisfy "
                    f"$\\pi(i) \\ne i$ for every $i$?")
        answer, params = derangement_count(n), {"n": n}
    elif difficulty == 2:
        n, k = rng.randint(20, 40), rng.randint(2, 6)
        question = (f"How many permutations of $\\{{1, 2, \\ldots, {n}\\}}$ have exactly ${k}$ "
                    f"fixed points?")
        answer, params = math.comb(n, k) * derangement_count(n - k), {"n": n, "k": k}
    else:
        n = rng.randint(2000, 10**4)
        question = (f"Let $D_n$ be the number of permutations of $\\{{1, \\ldots, n\\}}$ with no "
                    f"fixed point. Find the remainder when $D_{{{n}}}$ is divided by ${_P}$.")
        answer, params = derangement_count(n, _P), {"n": n, "modulus": _P}
    return make_task("derangements", difficulty, f"{question} {ANSWER_INTEGER}", answer,
                     **params)


def catalan(rng: random.Random, difficulty: int = 2) -> Task:
    """Catalan numbers as bracket sequences, triangulations, or modulo a prime."""
    if difficulty == 1:
        n = rng.randint(25, 60)
        question = (f"How many strings of ${n}$ opening and ${n}$ closing parentheses are "
                    f"balanced (every prefix has at least as many opening as closing ones)?")
        answer, params = math.comb(2 * n, n) // (n + 1), {"n": n}
    elif difficulty == 2:
        sides = rng.randint(30, 80)
        question = (f"In how many ways can a convex polygon with ${sides}$ sides be cut into "
                    f"triangles by non-crossing diagonals?")
        answer, params = math.comb(2 * sides - 4, sides - 2) // (sides - 1), {"sides": sides}
    else:
        n = rng.randint(10**3, 10**4)
        question = (f"Let $C_n = \\frac{{1}}{{n+1}}\\binom{{2n}}{{n}}$ be the $n$-th Catalan "
                    f"number. Find the remainder when $C_{{{n}}}$ is divided by ${_P}$.")
        answer = _falling_mod(2 * n, n, _P) * pow(n + 1, -1, _P) % _P
        params = {"n": n, "modulus": _P}
    return make_task("catalan", difficulty, f"{question} {ANSWER_INTEGER}", answer, **params)


def avoiding_paths(width: int, height: int, blocked: list[tuple[int, int]]) -> int:
    """Up/right lattice paths (0,0) -> (width,height) avoiding `blocked`, by inclusion-exclusion."""
    points = sorted(blocked) + [(width, height)]

    def paths(a: tuple[int, int], b: tuple[int, int]) -> int:
        dx, dy = b[0] - a[0], b[1] - a[1]
        return math.comb(dx + dy, dx) if dx >= 0 and dy >= 0 else 0

    first_hit: list[int] = []
    for point in points:
        count = paths((0, 0), point)
        count -= sum(f * paths(q, point) for q, f in zip(points, first_hit, strict=False))
        first_hit.append(count)
    return first_hit[-1]


def lattice_paths(rng: random.Random, difficulty: int = 2) -> Task:
    """Monotone lattice paths in a grid that avoid a set of blocked points."""
    low, high = pick(difficulty, (6, 12), (12, 25), (25, 50))
    width, height = rng.randint(low, high), rng.randint(low, high)
    count = rng.randint(*pick(difficulty, (2, 3), (4, 6), (6, 10)))
    blocked: set[tuple[int, int]] = set()
    while len(blocked) < count:
        point = (rng.randint(0, width), rng.randint(0, height))
        if point not in ((0, 0), (width, height)):
            blocked.add(point)
    ordered = sorted(blocked)
    listing = ", ".join(f"$({x}, {y})$" for x, y in ordered)
    problem = (f"A lattice path from $(0, 0)$ to $({width}, {height})$ moves one unit right or "
               f"one unit up at each step. How many such paths pass through none of the points "
               f"{listing}? {ANSWER_INTEGER}")
    return make_task("lattice_paths", difficulty, problem,
                     avoiding_paths(width, height, ordered),
                     width=width, height=height, blocked=[list(p) for p in ordered])


def partitions(rng: random.Random, difficulty: int = 2) -> Task:
    """Integer partitions p(n), or partitions into distinct parts at the hardest level."""
    n = rng.randint(*pick(difficulty, (60, 200), (200, 600), (300, 1000)))
    distinct = difficulty == 3 and rng.random() < 0.5
    if distinct:
        question = (f"In how many ways can ${n}$ be written as a sum of distinct positive "
                    f"integers, if the order of the summands does not matter (the sum with the "
                    f"single summand ${n}$ counts)?")
        answer = distinct_partitions(n)
    else:
        question = (f"In how many ways can ${n}$ be written as a sum of positive integers, if the "
                    f"order of the summands does not matter? (For example, $4$ can be written in "
                    f"$5$ ways: $4$, $3+1$, $2+2$, $2+1+1$ and $1+1+1+1$.)")
        answer = partition_table()[n]
    return make_task("partitions", difficulty, f"{question} {ANSWER_INTEGER}", answer,
                     n=n, distinct=distinct)
