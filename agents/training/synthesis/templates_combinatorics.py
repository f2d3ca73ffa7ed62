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
