"""Scripted solutions of the prime families: n-th prime, prime counts and sums, factors."""

from __future__ import annotations

import random
from typing import Any

from deeptool_env.tasks import Task

from .templates_common import Recipe, Solution, ints, variant_writer, writer

_NTH_PRIME = Recipe(
    thoughts=(
        "I need the {n}-th prime. sympy.prime(n) returns it directly; as a check, "
        "primepi of the result should be {n} again.",
        "Listing primes by hand up to the {n}-th is hopeless, but sympy.prime finds it "
        "quickly. I will confirm with primepi that exactly {n} primes are at most it.",
        "sympy knows the primes: sympy.prime({n}) is p_{n}, and sympy.primepi gives a "
        "cross-check.",
    ),
    code="import sympy\nn = {n}\np = sympy.prime(n)\nprint(sympy.primepi(p) == n, p)",
    conclusions=(
        "primepi confirms it (True), so p_{n} = {answer}.",
        "The check passed and the {n}-th prime is {answer}.",
        "So the {n}-th prime is {answer}.",
    ),
)


@writer("nth_prime")
def nth_prime(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """sympy.prime(n), checked against the prime count at the result."""
    return _NTH_PRIME.solve(rng, task, **ints(params, "n"))


_PRIME_COUNT = Recipe(
    thoughts=(
        "The primes in [{low}, {high}] number pi({high}) - pi({low_1}); sympy.primepi "
        "computes the prime-counting function.",
        "I count the primes between {low} and {high} inclusive as primepi({high}) minus "
        "primepi({low_1}).",
        "Counting primes up to {high} and subtracting those below {low} gives the count "
        "in the interval; sympy.primepi does both quickly.",
    ),
    code="import sympy\nlow, high = {low}, {high}\n"
         "print(sympy.primepi(high) - sympy.primepi(low - 1))",
    conclusions=(
        "The tool printed {answer}, so {answer} primes lie in the interval.",
        "There are {answer} primes p with {low} <= p <= {high}.",
        "So the count is {answer}.",
    ),
)


@writer("prime_count")
def prime_count(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """pi(high) - pi(low - 1) with sympy.primepi."""
    values = ints(params, "low", "high")
    return _PRIME_COUNT.solve(rng, task, low_1=values["low"] - 1, **values)


_SIEVE = """\
def prime_flags(limit):
    flags = bytearray([1]) * (limit + 1)
    flags[0:2] = b"\\x00\\x00"
    for p in range(2, int(limit**0.5) + 1):
        if flags[p]:
            flags[p * p::p] = bytes(len(range(p * p, limit + 1, p)))
    return flags
"""

_PRIME_SUM = Recipe(
    thoughts=(
        "I need the sum of the primes from {low} to {high}. A sieve of Eratosthenes up "
        "to {high} is fast with a bytearray; then I add the primes in range.",
        "Summing primes up to about {high} is quick with a sieve: mark composites in a "
        "bytearray, then add the indices from {low} on that stay marked prime.",
        "I will sieve up to {high}, print how many primes fall in [{low}, {high}] as a "
        "sanity check, and their sum.",
    ),
    code=_SIEVE + "\nlow, high = {low}, {high}\nflags = prime_flags(high)\n"
                  "in_range = [p for p in range(low, high + 1) if flags[p]]\n"
                  "print(len(in_range), sum(in_range))",
    conclusions=(
        "The second number printed is the sum: {answer}.",
        "The sieve gives the primes in range and their sum, {answer}.",
        "So the primes between {low} and {high} add up to {answer}.",
    ),
)


@writer("prime_sum")
def prime_sum(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """The sum of the primes in [low, high] from a bytearray sieve."""
    return _PRIME_SUM.solve(rng, task, **ints(params, "low", "high"))


#: Variant -> (the code's expression over f = factorint(n), what it computes).
_FACTOR_ASKS = {
    "largest": ("max(f)", "the largest prime factor"),
    "distinct_sum": ("sum(f)", "the sum of the distinct prime factors"),
    "divisor_count": ("math.prod(e + 1 for e in f.values())",
                      "the number of divisors, the product of (exponent + 1)"),
}

_PRIME_FACTORS = Recipe(
    thoughts=(
        "I need {meaning} of {n}. sympy.factorint factors it; I will print the "
        "factorisation and check that it multiplies back to n.",
        "Everything follows from the prime factorisation of {n}, so I let sympy.factorint "
        "find it and then compute {meaning}.",
        "Factoring by hand is hopeless at this size; sympy.factorint gives the primes and "
        "exponents, from which {meaning} is immediate.",
    ),
    code="import math\nimport sympy\nn = {n}\nf = sympy.factorint(n)\n"
         "print(f, math.prod(p**e for p, e in f.items()) == n)\nprint({expression})",
    conclusions=(
        "The factorisation multiplies back to n (True), and the answer is {answer}.",
        "From the factorisation, {meaning} is {answer}.",
        "So the answer is {answer}.",
    ),
)


# Factor n with sympy.factorint, then read off what the variant asks.
variant_writer("prime_factors", _PRIME_FACTORS, _FACTOR_ASKS)
