"""Scripted solutions of the arithmetic-sum families: totient sums and divisor sums."""

from __future__ import annotations

from .templates_common import Recipe, variant_writer

#: Variant -> (the code's last expression over `total`, what it counts).
_TOTIENT_TAIL = {
    "sum": ("total", "the sum of phi(k) for k up to {n}"),
    "fractions": ("total - 1", "the number of reduced fractions p/q in (0, 1) with q <= {n}, "
                  "which is the sum of phi(q) for 2 <= q <= {n}"),
    "visible": ("2 * total - 1", "the number of coprime pairs in [1, {n}]^2: each q > 1 "
                "gives 2 phi(q) pairs with max(x, y) = q, and (1, 1) adds one, so "
                "2 * sum(phi) - 1"),
}

_TOTIENT = Recipe(
    thoughts=(
        "This is {meaning}. A totient sieve up to {n} gives every phi(k) at once, and I "
        "spot-check it against sympy.totient.",
        "I need {meaning}. I will sieve Euler's phi up to {n} with numpy (for each prime "
        "p, multiply the multiples of p by 1 - 1/p) and add up.",
    ),
    code="""\
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
print({expression})""",
    conclusions=(
        "The sieve agrees with sympy (True), and the count is {answer}.",
        "The check passed; the answer is {answer}.",
        "So the value is {answer}.",
    ),
)


# Sum of phi(k) by a totient sieve, then the variant's count from it.
variant_writer("totient_sum", _TOTIENT, _TOTIENT_TAIL)


#: Variant -> (the code's last expression over `count`, `weighted`, what it sums).
_DIVISOR_TASKS = {
    "floor": ("count", "the sum of floor({n}/k)"),
    "divisor_count": ("count", "the sum of d(m) for m up to {n}; counting pairs (m, k) with "
                      "k | m by k instead, it equals the sum of floor({n}/k)"),
    "divisor_sum": ("weighted", "the sum of sigma(m) for m up to {n}; each divisor k is "
                    "counted floor({n}/k) times, so it is the sum of k * floor({n}/k)"),
    "remainder": ("n * n - weighted", "the sum of {n} mod k = {n} - k * floor({n}/k), so it "
                  "is {n}^2 minus the sum of k * floor({n}/k)"),
}

# The block sums mirror the generator's own computation (and the tests' reference).
_DIVISORS = Recipe(
    thoughts=(
        "I need {meaning}. floor(n/k) takes only about 2 sqrt(n) distinct values, so I sum "
        "over blocks of k with the same quotient, and compare with a direct loop on a "
        "small n.",
        "This is {meaning}. With n = {n} a loop over every k is too slow, but grouping the "
        "k that share a quotient q = n // k makes it O(sqrt n).",
    ),
    code="""\
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
print({expression})""",
    conclusions=(
        "The block sums match the direct loop (True), so the answer is {answer}.",
        "The check passed; the sum is {answer}.",
        "So the value is {answer}.",
    ),
)


# Sums over floor(n/k), taken in blocks where floor(n/k) is constant.
variant_writer("divisor_sums", _DIVISORS, _DIVISOR_TASKS)
