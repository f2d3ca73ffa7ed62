"""Exact integer arithmetic the generators compute answers with: a prime sieve and its prefix
sums, primality, totient sums, partition counts (pure Python, cached tables).

The families themselves live in the topic modules (`number_theory.py`, `primes.py`, ...).
"""

from __future__ import annotations

import bisect
import itertools
import random
from functools import cache

#: Primes up to this bound are tabulated once (about 20 ms) on first use.
SIEVE_LIMIT = 2_000_000

_MR_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)


@cache
def primes() -> tuple[int, ...]:
    """All primes up to `SIEVE_LIMIT`, ascending."""
    flags = bytearray([1]) * (SIEVE_LIMIT + 1)
    flags[0:2] = b"\x00\x00"
    for p in range(2, int(SIEVE_LIMIT**0.5) + 1):
        if flags[p]:
            flags[p * p :: p] = bytes(len(range(p * p, SIEVE_LIMIT + 1, p)))
    return tuple(itertools.compress(range(SIEVE_LIMIT + 1), flags))


@cache
def prime_prefix_sums() -> tuple[int, ...]:
    """`sums[i]` is the sum of the first i primes (sums[0] == 0)."""
    return tuple(itertools.accumulate(primes(), initial=0))


def prime_pi(n: int) -> int:
    """Number of primes <= n, for n <= SIEVE_LIMIT."""
    if n > SIEVE_LIMIT:
        raise ValueError(f"prime_pi only tabulated up to {SIEVE_LIMIT}")
    return bisect.bisect_right(primes(), n)


def is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin, exact for n < 3.3 * 10**24."""
    if n < 2:
        return False
    for p in _MR_BASES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for base in _MR_BASES:
        x = pow(base, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def random_prime(rng: random.Random, low: int, high: int) -> int:
    """The first prime at or after a random start in [low, high]."""
    start = rng.randint(low, high)
    candidate = start | 1 if start > 2 else 2
    while not is_prime(candidate):
        candidate += 2
    return candidate


def totient_summatory(n: int) -> int:
    """Sum of Euler's phi(k) for k = 1..n, by the recursion over floor(n / d) values."""
    memo: dict[int, int] = {}

    def phi_sum(m: int) -> int:
        if m in memo:
            return memo[m]
        total = m * (m + 1) // 2
        d = 2
        while d <= m:
            q = m // d
            last = m // q
            total -= (last - d + 1) * phi_sum(q)
            d = last + 1
        memo[m] = total
        return total

    return phi_sum(n)


@cache
def partition_table(limit: int = 1000) -> tuple[int, ...]:
    """p(0..limit), the partition numbers, by Euler's pentagonal-number recurrence."""
    table = [1] + [0] * limit
    for n in range(1, limit + 1):
        total, k = 0, 1
        while True:
            g1 = k * (3 * k - 1) // 2
            if g1 > n:
                break
            sign = 1 if k % 2 else -1
            total += sign * table[n - g1]
            g2 = k * (3 * k + 1) // 2
            if g2 <= n:
                total += sign * table[n - g2]
            k += 1
        table[n] = total
    return tuple(table)


def distinct_partitions(n: int) -> int:
    """q(n), partitions into distinct parts: prod(1 - x^{2k}) times the partition series."""
    table = partition_table()
    total, k = table[n], 1
    while True:
        g1 = k * (3 * k - 1)
        if g1 > n:
            break
        sign = -1 if k % 2 else 1
        total += sign * table[n - g1]
        g2 = k * (3 * k + 1)
        if g2 <= n:
            total += sign * table[n - g2]
        k += 1
    return total
