"""Families on prime numbers: n-th prime, prime counts and sums, prime factorisations."""

from __future__ import annotations

import math
import random

from ..task import Task
from .base import ANSWER_INTEGER, make_task, pick
from .exact_arithmetic import SIEVE_LIMIT, prime_pi, prime_prefix_sums, primes, random_prime


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}\\text{{{suffix}}}"


def nth_prime(rng: random.Random, difficulty: int = 2) -> Task:
    """The n-th prime for n in the thousands to about 1.5 * 10^5."""
    n = rng.randint(*pick(difficulty, (10**3, 10**4), (10**4, 5 * 10**4),
                          (5 * 10**4, prime_pi(SIEVE_LIMIT))))
    problem = (f"Let $p_k$ denote the $k$-th prime number, so that $p_1 = 2$, $p_2 = 3$ and "
               f"$p_3 = 5$. Find $p_{{{n}}}$, the ${_ordinal(n)}$ prime. {ANSWER_INTEGER}")
    return make_task("nth_prime", difficulty, problem, primes()[n - 1], n=n)


def _range(rng: random.Random, difficulty: int) -> tuple[int, int]:
    high = rng.randint(*pick(difficulty, (10**4, 10**5), (10**5, 10**6), (10**6, SIEVE_LIMIT)))
    low = rng.choice([2, rng.randint(high // 10, high // 2)])
    return low, high


def prime_count(rng: random.Random, difficulty: int = 2) -> Task:
    """How many primes lie in an interval [low, high] with high up to 2 * 10^6."""
    low, high = _range(rng, difficulty)
    answer = prime_pi(high) - prime_pi(low - 1)
    problem = (f"How many prime numbers $p$ satisfy ${low} \\le p \\le {high}$? {ANSWER_INTEGER}")
    return make_task("prime_count", difficulty, problem, answer, low=low, high=high)


def prime_sum(rng: random.Random, difficulty: int = 2) -> Task:
    """The sum of the primes in an interval [low, high] with high up to 2 * 10^6."""
    low, high = _range(rng, difficulty)
    sums = prime_prefix_sums()
    answer = sums[prime_pi(high)] - sums[prime_pi(low - 1)]
    problem = (f"Find the sum of all prime numbers $p$ with ${low} \\le p \\le {high}$. "
               f"{ANSWER_INTEGER}")
    return make_task("prime_sum", difficulty, problem, answer, low=low, high=high)


def prime_factors(rng: random.Random, difficulty: int = 2) -> Task:
    """Facts about the factorisation of a number built from known primes."""
    table = primes()
    (fewest, most), bound = pick(difficulty, ((3, 4), 1000), ((3, 5), 10**5), ((2, 4), 10**4))
    chosen = rng.sample(table[: prime_pi(bound)], rng.randint(fewest, most))
    if difficulty == 3:
        chosen.append(random_prime(rng, 10**9, 10**12))
    exponents = [rng.randint(1, pick(difficulty, 2, 3, 2)) for _ in chosen]
    n = math.prod(p**e for p, e in zip(chosen, exponents, strict=True))
    variant = rng.choice(["largest", "distinct_sum", "divisor_count"])
    if variant == "largest":
        question, answer = f"What is the largest prime factor of ${n}$?", max(chosen)
    elif variant == "distinct_sum":
        question, answer = f"Find the sum of the distinct prime factors of ${n}$.", sum(chosen)
    else:
        question = f"How many positive divisors does ${n}$ have?"
        answer = math.prod(e + 1 for e in exponents)
    return make_task("prime_factors", difficulty, f"{question} {ANSWER_INTEGER}", answer,
                     n=n, variant=variant)
