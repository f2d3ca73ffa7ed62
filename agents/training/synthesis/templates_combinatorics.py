"""Scripted solutions of the counting families (binomials mod p, derangements, ...)."""

from __future__ import annotations

import random
from typing import Any

from deeptool_env.tasks import Task

from .templates import Solution, say, writer


@writer("binomial_mod")
def binomial_mod(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """C(n, k) mod p: exactly when small, a falling product when p > n, Lucas otherwise."""
    n, k, p = int(params["n"]), int(params["k"]), int(params["p"])
    values = {"n": n, "k": k, "p": p, "answer": task.answer}
    if n < 10**4:
        thought = say(rng, [
            "C({n}, {k}) has only a few hundred digits, so math.comb computes it exactly "
            "and I reduce mod {p}.",
            "n = {n} is small enough for an exact binomial: math.comb({n}, {k}) % {p}.",
        ], **values)
        code = f"import math\nn, k, p = {n}, {k}, {p}\nprint(math.comb(n, k) % p)"
    elif n < p:
        thought = say(rng, [
            "Here p = {p} is larger than n = {n}, so C(n, k) = n(n-1)...(n-k+1) / k! can "
            "be computed mod p with one modular inverse of k!.",
            "The exact C({n}, {k}) is huge, but since {p} is a prime above {n}, k! is "
            "invertible mod p: I multiply the {k} factors of the falling product mod p and "
            "divide by k! with pow(.., -1, p).",
        ], **values)
        code = f"""\
n, k, p = {n}, {k}, {p}
num = den = 1
for i in range(k):
    num = num * (n - i) % p
    den = den * (i + 1) % p
print(num * pow(den, -1, p) % p)"""
    else:
        thought = say(rng, [
            "The prime {p} is small compared with n = {n}, so Lucas' theorem applies: "
            "write n and k in base {p} and multiply the binomials of their digits mod p.",
            "With n = {n} far above p = {p}, I use Lucas: C(n, k) mod p is the product of "
            "C(n_i, k_i) over the base-{p} digits.",
        ], **values)
        code = f"""\
import math
n, k, p = {n}, {k}, {p}
result = 1
while n or k:
    result = result * math.comb(n % p, k % p) % p
    n, k = n // p, k // p
print(result)"""
    conclusion = say(rng, [
        "The tool printed {answer}, so C({n}, {k}) leaves remainder {answer} mod {p}.",
        "So the remainder is {answer}.",
        "That gives {answer} as the binomial coefficient mod {p}.",
    ], **values)
    return Solution(thought, code, conclusion)


_DERANGE = """\
def derangements(n, modulus=None):
    value = 1
    for i in range(1, n + 1):
        value = i * value + (-1) ** i
        if modulus:
            value %= modulus
    return value

print([derangements(i) for i in range(7)])
"""


@writer("derangements")
def derangements(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """!n by the recurrence D(i) = i D(i-1) + (-1)^i (times C(n, k) for k fixed points)."""
    n, k, modulus = int(params["n"]), params.get("k"), params.get("modulus")
    values = {"n": n, "k": k, "modulus": modulus, "answer": task.answer}
    start = say(rng, [
        "Derangements satisfy D(i) = i D(i-1) + (-1)^i with D(0) = 1; I print the first "
        "few (1, 0, 1, 2, 9, 44, 265) as a check.",
        "I will use the recurrence !i = i * !(i-1) + (-1)^i, checking it on small i "
        "against the known 1, 0, 1, 2, 9, 44, 265.",
    ], **values)
    if k is not None:
        plan = say(rng, [
            "Exactly {k} fixed points: choose them in C({n}, {k}) ways, and the other "
            "{rest} items must be deranged.",
            "A permutation with exactly {k} fixed points is a choice of the {k} fixed "
            "items times a derangement of the remaining {rest}.",
        ], rest=n - int(k), **values)
        last = f"import math\nprint(math.comb({n}, {k}) * derangements({n} - {k}))"
    elif modulus is not None:
        plan = say(rng, [
            "D_{n} is enormous, so I run the recurrence mod {modulus}.",
            "I only need D_{n} mod {modulus}, so I reduce at every step of the recurrence.",
        ], **values)
        last = f"print(derangements({n}, {modulus}))"
    else:
        plan = say(rng, [
            "Permutations of {n} items with no fixed point are the derangements D_{n}.",
            "I need the number of derangements of {n} elements.",
        ], **values)
        last = f"print(derangements({n}))"
    conclusion = say(rng, [
        "The small values match, so the count is {answer}.",
        "The recurrence checks out on small n and gives {answer}.",
        "So the answer is {answer}.",
    ], **values)
    return Solution(f"{plan} {start}", _DERANGE + last, conclusion)


@writer("catalan")
def catalan(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """A Catalan number, exactly or mod a prime."""
    if "sides" in params:
        sides = int(params["sides"])
        n, what = sides - 2, f"Triangulations of a convex {sides}-gon are counted by C_{sides - 2}"
    else:
        n, what = int(params["n"]), f"This is the Catalan number C_{params['n']}"
    modulus = params.get("modulus")
    values = {"n": n, "what": what, "modulus": modulus, "answer": task.answer}
    if modulus is None:
        thought = say(rng, [
            "{what} = binom(2n, n) / (n + 1). Python's exact integers handle it; I also "
            "print the first few (1, 1, 2, 5, 14, 42) to be sure of the formula.",
            "{what}, which is C(2n, n) / (n + 1) with n = {n}; math.comb computes it "
            "exactly.",
        ], **values)
        code = (f"import math\ndef catalan(n):\n    return math.comb(2 * n, n) // (n + 1)\n\n"
                f"print([catalan(i) for i in range(6)])\nprint(catalan({n}))")
    else:
        thought = say(rng, [
            "{what}; I need it mod the prime {modulus}. math.comb(2n, n) is exact, and "
            "dividing by n + 1 mod p is multiplying by its inverse.",
            "{what} mod {modulus}: C(2n, n) mod p times the modular inverse of n + 1 "
            "(p is prime, so pow(n + 1, -1, p) exists).",
        ], **values)
        code = (f"import math\nn, p = {n}, {modulus}\n"
                f"print(math.comb(2 * n, n) % p * pow(n + 1, -1, p) % p)")
    conclusion = say(rng, [
        "The tool printed {answer}, so that is the answer.",
        "So the count is {answer}.",
        "That gives {answer}.",
    ], **values)
    return Solution(thought, code, conclusion)
