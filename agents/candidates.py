"""Candidate programs for the procedural families: a correct solver and plausible failures.

`DiscreteCandidateWrapper` (see `discrete.py`) offers a classic-RL agent a handful of fixed
actions per problem. The program actions come from here: for a family and its
`task.meta["params"]` (the generator's inputs, which the problem statement spells out), a
correct solver written the way a strong model would write it (sympy where it has the
function), the same solver with a one-input slip (an off-by-one or a misread question), and
a program that crashes. Programs only *compute*; none of them reads the gold answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Params = dict[str, Any]

_MATMUL = ("def mul(X, Y):\n"
           "    return [[sum(a * b for a, b in zip(row, col)) % m for col in zip(*Y)]"
           " for row in X]\n")


def _modpow(p: Params) -> str:
    if "k" in p:
        return f"print(pow({p['a']}, {p['b']} ** {p['c']}, 10 ** {p['k']}))"
    return f"print(pow({p['a']}, {p['e']}, {p['m']}))"


def _crt(p: Params) -> str:
    return ("from sympy.ntheory.modular import crt\n"
            f"x, M = crt({p['moduli']}, {p['residues']})\nprint(x if x > 0 else M)")


def _linear_recurrence(p: Params) -> str:
    return (f"c, a, n, m = {p['coefficients']}, {p['initial']}, {p['n']}, {p['m']}\n"
            + _MATMUL +
            "k = len(c)\n"
            "C = [[v % m for v in c]] + [[int(j == i) for j in range(k)] for i in range(k - 1)]\n"
            "R = [[int(i == j) for j in range(k)] for i in range(k)]\n"
            "e = n - k + 1\n"
            "while e > 0:\n"
            "    if e & 1:\n        R = mul(R, C)\n"
            "    C, e = mul(C, C), e >> 1\n"
            "print(a[n] % m if n < k else mul(R, [[v % m] for v in reversed(a)])[0][0])")


def _totient_sum(p: Params) -> str:
    final = {"sum": "T", "fractions": "T - 1", "visible": "2 * T - 1"}[p["variant"]]
    return (f"import sympy\nT = sum(sympy.sieve.totientrange(1, {p['n']} + 1))\n"
            f"print({final})")


def _divisor_sums(p: Params) -> str:
    final = {"floor": "count", "divisor_count": "count", "divisor_sum": "weighted",
             "remainder": "n * n - weighted"}[p["variant"]]
    return (f"import math\nn = {p['n']}\ns = math.isqrt(n)\n"
            "count = 2 * sum(n // k for k in range(1, s + 1)) - s * s\n"
            "weighted = (sum(d * (n // d) for d in range(1, s + 1))\n"
            "            + sum((n // q) * (n // q + 1) // 2 for q in range(1, s + 1))"
            " - s * s * (s + 1) // 2)\n"
            f"print({final})")


def _digit_sums(p: Params) -> str:
    return (f"n, b = {p['n']}, {p['base']}\ntotal, w = 0, 1\n"
            "while w <= n:\n"
            "    high, cur, low = n // (w * b), (n // w) % b, n % w\n"
            "    total += high * w * b * (b - 1) // 2 + w * cur * (cur - 1) // 2"
            " + cur * (low + 1)\n"
            "    w *= b\nprint(total)")


def _nth_prime(p: Params) -> str:
    return f"import sympy\nprint(sympy.prime({p['n']}))"


def _prime_count(p: Params) -> str:
    return f"import sympy\nprint(sympy.primepi({p['high']}) - sympy.primepi({p['low']} - 1))"


def _prime_sum(p: Params) -> str:
    return f"import sympy\nprint(sum(sympy.sieve.primerange({p['low']}, {p['high']} + 1)))"


def _prime_factors(p: Params) -> str:
    final = {"largest": "max(f)", "distinct_sum": "sum(f)",
             "divisor_count": "sympy.divisor_count(n)"}[p["variant"]]
    return f"import sympy\nn = {p['n']}\nf = sympy.factorint(n)\nprint({final})"


def _binomial_mod(p: Params) -> str:
    return (f"n, k, p = {p['n']}, {p['k']}, {p['p']}\n"
            "def small(a, b):\n"
            "    num = den = 1\n"
            "    for i in range(b):\n"
            "        num, den = num * (a - i) % p, den * (i + 1) % p\n"
            "    return num * pow(den, -1, p) % p\n"
            "r = 1\n"
            "while n or k:\n"
            "    a, b = n % p, k % p\n"
            "    r = 0 if b > a else r * small(a, b) % p\n"
            "    n, k = n // p, k // p\n"
            "print(r)")


def _derangements(p: Params) -> str:
    n, k, modulus = p["n"], p.get("k", 0), p.get("modulus")
    step = "d = i * d + (-1) ** i" + (f"\n    d %= {modulus}" if modulus else "")
    return (f"import math\nd = 1\nfor i in range(1, {n - k} + 1):\n    {step}\n"
            f"print(math.comb({n}, {k}) * d)")


def _catalan(p: Params) -> str:
    if "sides" in p:
        return f"import sympy\nprint(sympy.catalan({p['sides']} - 2))"
    if "modulus" in p:
        return (f"import math\nn = {p['n']}\n"
                f"print(math.comb(2 * n, n) // (n + 1) % {p['modulus']})")
    return f"import sympy\nprint(sympy.catalan({p['n']}))"


def _lattice_paths(p: Params) -> str:
    return (f"W, H = {p['width']}, {p['height']}\n"
            f"blocked = {{tuple(q) for q in {p['blocked']}}}\n"
            "ways = [[0] * (H + 1) for _ in range(W + 1)]\n"
            "for x in range(W + 1):\n"
            "    for y in range(H + 1):\n"
            "        if (x, y) in blocked:\n            continue\n"
            "        ways[x][y] = 1 if x == y == 0 else"
            " (ways[x - 1][y] if x else 0) + (ways[x][y - 1] if y else 0)\n"
            "print(ways[W][H])")


def _partitions(p: Params) -> str:
    if not p["distinct"]:
        return f"import sympy\nprint(sympy.partition({p['n']}))"
    return (f"n = {p['n']}\nq = [1] + [0] * n\n"
            "for part in range(1, n + 1):\n"
            "    for s in range(n, part - 1, -1):\n        q[s] += q[s - part]\n"
            "print(q[n])")


def _linear_system(p: Params) -> str:
    return ("import sympy\n"
            f"x = sympy.Matrix({p['matrix']}).LUsolve(sympy.Matrix({p['rhs']}))\n"
            f"print(sum(c * v for c, v in zip({p['target']}, x)))")


def _poly_interpolation(p: Params) -> str:
    points = [tuple(q) for q in p["points"]]
    return ("from sympy.polys.polyfuncs import interpolate\n"
            f"print(interpolate({points}, {p['t']}))")


def _shift(key: str, delta: int) -> Callable[[Params], Params]:
    """A slip in one input: `key` (or its first element, for a list) moved by `delta`."""
    def slip(p: Params) -> Params:
        value = p[key]
        moved = [value[0] + delta, *value[1:]] if isinstance(value, list) else value + delta
        return {**p, key: moved}
    return slip


def _rotate(key: str, options: tuple[str, ...]) -> Callable[[Params], Params]:
    """A misread question: the next of `options` answered instead of `key`'s."""
    return lambda p: {**p, key: options[(options.index(p[key]) + 1) % len(options)]}


def _modpow_slip(p: Params) -> Params:
    return _shift("a" if "k" in p else "e", 1)(p)


def _catalan_slip(p: Params) -> Params:
    return _shift("sides" if "sides" in p else "n", 1)(p)


#: family -> (solver source from params, the slip that makes the buggy variant).
SOLVERS: dict[str, tuple[Callable[[Params], str], Callable[[Params], Params]]] = {
    "modpow": (_modpow, _modpow_slip),
    "crt": (_crt, _shift("residues", 1)),
    "linear_recurrence": (_linear_recurrence, _shift("n", 1)),
    "totient_sum": (_totient_sum, _shift("n", -1)),
    "divisor_sums": (_divisor_sums, _shift("n", -1)),
    "digit_sums": (_digit_sums, _shift("n", -1)),
    "nth_prime": (_nth_prime, _shift("n", 1)),
    "prime_count": (_prime_count, _shift("high", 500)),
    "prime_sum": (_prime_sum, _shift("high", 500)),
    "prime_factors": (_prime_factors,
                      _rotate("variant", ("largest", "distinct_sum", "divisor_count"))),
    "binomial_mod": (_binomial_mod, _shift("k", 1)),
    "derangements": (_derangements, _shift("n", 1)),
    "catalan": (_catalan, _catalan_slip),
    "lattice_paths": (_lattice_paths, _shift("width", 1)),
    "partitions": (_partitions, _shift("n", 1)),
    "linear_system": (_linear_system, _shift("rhs", 1)),
    "poly_interpolation": (_poly_interpolation, _shift("t", 1)),
}

#: The program kinds, in slot order.
PROGRAM_KINDS = ("solve", "buggy", "crash")


def program(family: str, params: Params, kind: str) -> str:
    """Source of the `kind` program ("solve", "buggy" or "crash") for one problem."""
    if family not in SOLVERS:
        raise KeyError(f"no candidate programs for family {family!r}; known: "
                       f"{', '.join(SOLVERS)}")
    solve, slip = SOLVERS[family]
    if kind == "solve":
        return solve(params)
    if kind == "buggy":
        return solve(slip(params))
    if kind == "crash":
        return f"params = {params!r}\nprint(params['answer'])"
    raise ValueError(f"unknown program kind {kind!r}; choose one of {PROGRAM_KINDS}")
