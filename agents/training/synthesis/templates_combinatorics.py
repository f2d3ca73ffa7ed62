"""Scripted solutions of the counting families (binomials mod p, derangements, ...)."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from deeptool_env.tasks import Task

from .templates_common import Recipe, Solution, ints, say, writer

_BINOMIAL_SAID = (
    "The tool printed {answer}, so C({n}, {k}) leaves remainder {answer} mod {p}.",
    "So the remainder is {answer}.",
    "That gives {answer} as the binomial coefficient mod {p}.",
)

_BINOMIAL_EXACT = Recipe(
    thoughts=(
        "C({n}, {k}) has only a few hundred digits, so math.comb computes it exactly "
        "and I reduce mod {p}.",
        "n = {n} is small enough for an exact binomial: math.comb({n}, {k}) % {p}.",
    ),
    code="import math\nn, k, p = {n}, {k}, {p}\nprint(math.comb(n, k) % p)",
    conclusions=_BINOMIAL_SAID,
)

_BINOMIAL_FALLING = Recipe(
    thoughts=(
        "Here p = {p} is larger than n = {n}, so C(n, k) = n(n-1)...(n-k+1) / k! can "
        "be computed mod p with one modular inverse of k!.",
        "The exact C({n}, {k}) is huge, but since {p} is a prime above {n}, k! is "
        "invertible mod p: I multiply the {k} factors of the falling product mod p and "
        "divide by k! with pow(.., -1, p).",
    ),
    code="""\
n, k, p = {n}, {k}, {p}
num = den = 1
for i in range(k):
    num = num * (n - i) % p
    den = den * (i + 1) % p
print(num * pow(den, -1, p) % p)""",
    conclusions=_BINOMIAL_SAID,
)

_BINOMIAL_LUCAS = Recipe(
    thoughts=(
        "The prime {p} is small compared with n = {n}, so Lucas' theorem applies: "
        "write n and k in base {p} and multiply the binomials of their digits mod p.",
        "With n = {n} far above p = {p}, I use Lucas: C(n, k) mod p is the product of "
        "C(n_i, k_i) over the base-{p} digits.",
    ),
    code="""\
import math
n, k, p = {n}, {k}, {p}
result = 1
while n or k:
    result = result * math.comb(n % p, k % p) % p
    n, k = n // p, k // p
print(result)""",
    conclusions=_BINOMIAL_SAID,
)


@writer("binomial_mod")
def binomial_mod(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """C(n, k) mod p: exactly when small, a falling product when p > n, Lucas otherwise."""
    values = ints(params, "n", "k", "p")
    recipe = (_BINOMIAL_EXACT if values["n"] < 10**4 else
              _BINOMIAL_FALLING if values["n"] < values["p"] else _BINOMIAL_LUCAS)
    return recipe.solve(rng, task, **values)


# The recurrence mirrors the generator's own derangement_count.
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

#: How the recurrence is checked: said after the plan, but drawn before it.
_DERANGE_CHECK = (
    "Derangements satisfy D(i) = i D(i-1) + (-1)^i with D(0) = 1; I print the first "
    "few (1, 0, 1, 2, 9, 44, 265) as a check.",
    "I will use the recurrence !i = i * !(i-1) + (-1)^i, checking it on small i "
    "against the known 1, 0, 1, 2, 9, 44, 265.",
)

_DERANGE_SAID = (
    "The small values match, so the count is {answer}.",
    "The recurrence checks out on small n and gives {answer}.",
    "So the answer is {answer}.",
)

_FIXED_POINTS = Recipe(
    thoughts=(
        "Exactly {k} fixed points: choose them in C({n}, {k}) ways, and the other "
        "{rest} items must be deranged.",
        "A permutation with exactly {k} fixed points is a choice of the {k} fixed "
        "items times a derangement of the remaining {rest}.",
    ),
    code=_DERANGE + "import math\nprint(math.comb({n}, {k}) * derangements({n} - {k}))",
    conclusions=_DERANGE_SAID,
)

_DERANGE_MOD = Recipe(
    thoughts=(
        "D_{n} is enormous, so I run the recurrence mod {modulus}.",
        "I only need D_{n} mod {modulus}, so I reduce at every step of the recurrence.",
    ),
    code=_DERANGE + "print(derangements({n}, {modulus}))",
    conclusions=_DERANGE_SAID,
)

_DERANGE_PLAIN = Recipe(
    thoughts=(
        "Permutations of {n} items with no fixed point are the derangements D_{n}.",
        "I need the number of derangements of {n} elements.",
    ),
    code=_DERANGE + "print(derangements({n}))",
    conclusions=_DERANGE_SAID,
)


@writer("derangements")
def derangements(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """!n by the recurrence D(i) = i D(i-1) + (-1)^i (times C(n, k) for k fixed points)."""
    n, k, modulus = int(params["n"]), params.get("k"), params.get("modulus")
    check = say(rng, _DERANGE_CHECK)
    if k is not None:
        solution = _FIXED_POINTS.solve(rng, task, n=n, k=k, rest=n - int(k))
    else:
        recipe = _DERANGE_PLAIN if modulus is None else _DERANGE_MOD
        solution = recipe.solve(rng, task, n=n, modulus=modulus)
    return dataclasses.replace(solution, thought=f"{solution.thought} {check}")


_CATALAN_SAID = (
    "The tool printed {answer}, so that is the answer.",
    "So the count is {answer}.",
    "That gives {answer}.",
)

_CATALAN_EXACT = Recipe(
    thoughts=(
        "{what} = binom(2n, n) / (n + 1). Python's exact integers handle it; I also "
        "print the first few (1, 1, 2, 5, 14, 42) to be sure of the formula.",
        "{what}, which is C(2n, n) / (n + 1) with n = {n}; math.comb computes it "
        "exactly.",
    ),
    code="import math\ndef catalan(n):\n    return math.comb(2 * n, n) // (n + 1)\n\n"
         "print([catalan(i) for i in range(6)])\nprint(catalan({n}))",
    conclusions=_CATALAN_SAID,
)

_CATALAN_MOD = Recipe(
    thoughts=(
        "{what}; I need it mod the prime {modulus}. math.comb(2n, n) is exact, and "
        "dividing by n + 1 mod p is multiplying by its inverse.",
        "{what} mod {modulus}: C(2n, n) mod p times the modular inverse of n + 1 "
        "(p is prime, so pow(n + 1, -1, p) exists).",
    ),
    code="import math\nn, p = {n}, {modulus}\n"
         "print(math.comb(2 * n, n) % p * pow(n + 1, -1, p) % p)",
    conclusions=_CATALAN_SAID,
)


@writer("catalan")
def catalan(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """A Catalan number, exactly or mod a prime."""
    if "sides" in params:
        sides = int(params["sides"])
        n, what = sides - 2, f"Triangulations of a convex {sides}-gon are counted by C_{sides - 2}"
    else:
        n, what = int(params["n"]), f"This is the Catalan number C_{params['n']}"
    modulus = params.get("modulus")
    recipe = _CATALAN_EXACT if modulus is None else _CATALAN_MOD
    return recipe.solve(rng, task, n=n, what=what, modulus=modulus)
