"""Scripted solutions of the arithmetic-sum families: totient sums and divisor sums."""

from __future__ import annotations

import random
from typing import Any

from deeptool_env.tasks import Task

from .templates import Solution, say, writer

_TOTIENT_TAIL = {
    "sum": ("total", "the sum of phi(k) for k up to {n}"),
    "fractions": ("total - 1", "the number of reduced fractions p/q in (0, 1) with q <= {n}, "
                  "which is the sum of phi(q) for 2 <= q <= {n}"),
    "visible": ("2 * total - 1", "the number of coprime pairs in [1, {n}]^2: each q > 1 "
                "gives 2 phi(q) pairs with max(x, y) = q, and (1, 1) adds one, so "
                "2 * sum(phi) - 1"),
}


@writer("totient_sum")
def totient_sum(params: dict[str, Any], task: Task, rng: random.Random) -> Solution | None:
    """Sum of phi(k) by a totient sieve, then the variant's count from it."""
    n, variant = int(params["n"]), params["variant"]
    if variant not in _TOTIENT_TAIL:
        return None
    expression, meaning = _TOTIENT_TAIL[variant]
    meaning = meaning.format(n=n)
    thought = say(rng, [
        "This is {meaning}. A totient sieve up to {n} gives every phi(k) at once, and I "
        "spot-check it against sympy.totient.",
        "I need {meaning}. I will sieve Euler's phi up to {n} with numpy (for each prime "
        "p, multiply the multiples of p by 1 - 1/p) and add up.",
    ], meaning=meaning, n=n)
    code = f"""\
import numpy as np
import sympy
n = {n}
is_prime = np.ones(n + 1, dtype=bool)
is_prime[:2] = False
for p in range(2, int(n**0.5) + 1):
    if is_prime[p]:
        is_prime[p * p::p] = False
phi = np.arange(n + 1, dtype=np.int64)
for p in np.flatnonzero(is_prime):
    phi[p::p] -= phi[p::p] // p
print(all(int(phi[k]) == sympy.totient(k) for k in range(1, 200)))
total = int(phi[1:].sum())
print({expression})"""
    conclusion = say(rng, [
        "The sieve agrees with sympy (True), and the count is {answer}.",
        "The check passed; the answer is {answer}.",
        "So the value is {answer}.",
    ], answer=task.answer)
    return Solution(thought, code, conclusion)


_DIVISOR_TASKS = {
    "floor": ("count", "the sum of floor({n}/k)"),
    "divisor_count": ("count", "the sum of d(m) for m up to {n}; counting pairs (m, k) with "
                      "k | m by k instead, it equals the sum of floor({n}/k)"),
    "divisor_sum": ("weighted", "the sum of sigma(m) for m up to {n}; each divisor k is "
                    "counted floor({n}/k) times, so it is the sum of k * floor({n}/k)"),
    "remainder": ("n * n - weighted", "the sum of {n} mod k = {n} - k * floor({n}/k), so it "
                  "is {n}^2 minus the sum of k * floor({n}/k)"),
}


@writer("divisor_sums")
def divisor_sums(params: dict[str, Any], task: Task, rng: random.Random) -> Solution | None:
    """Sums over floor(n/k), taken in blocks where floor(n/k) is constant."""
    n, variant = int(params["n"]), params["variant"]
    if variant not in _DIVISOR_TASKS:
        return None
    expression, meaning = _DIVISOR_TASKS[variant]
    meaning = meaning.format(n=n)
    thought = say(rng, [
        "I need {meaning}. floor(n/k) takes only about 2 sqrt(n) distinct values, so I sum "
        "over blocks of k with the same quotient, and compare with a direct loop on a "
        "small n.",
        "This is {meaning}. With n = {n} a loop over every k is too slow, but grouping the "
        "k that share a quotient q = n // k makes it O(sqrt n).",
    ], meaning=meaning, n=n)
    code = f"""\
def sums(n):
    count = weighted = 0
    k = 1
    while k <= n:
        q = n // k
        last = n // q
        count += q * (last - k + 1)
        weighted += q * (k + last) * (last - k + 1) // 2
        k = last + 1
    return count, weighted

small = 1000
print(sums(small) == (sum(small // k for k in range(1, small + 1)),
                      sum(k * (small // k) for k in range(1, small + 1))))
n = {n}
count, weighted = sums(n)
print({expression})"""
    conclusion = say(rng, [
        "The block sums match the direct loop (True), so the answer is {answer}.",
        "The check passed; the sum is {answer}.",
        "So the value is {answer}.",
    ], answer=task.answer)
    return Solution(thought, code, conclusion)
