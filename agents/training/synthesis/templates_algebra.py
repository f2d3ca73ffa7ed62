"""Scripted solutions of the exact-algebra families: linear systems, interpolation."""

from __future__ import annotations

import random
import re
from typing import Any

from deeptool_env.tasks import Task

from .templates_common import Recipe, Solution, writer

_FRACTION = re.compile(r"^(-?)\\frac\{(\d+)\}\{(\d+)\}$")


def plain(answer: str) -> str:
    """`-\\frac{3}{7}` -> `-3/7` (how sympy prints a rational); integers unchanged."""
    match = _FRACTION.match(answer.strip())
    return f"{match[1]}{match[2]}/{match[3]}" if match else answer


_LINEAR_SYSTEM = Recipe(
    thoughts=(
        "This is a {size}x{size} linear system with integer coefficients. sympy solves it "
        "in exact rationals; I check that the determinant is nonzero and that the solution "
        "satisfies every equation, then evaluate the requested combination.",
        "Elimination by hand on {size} unknowns is error-prone, so I let sympy's exact "
        "LUsolve do it and substitute back to verify.",
        "I will set up A x = b with the coefficients as given, solve over the rationals "
        "(no floating point), and compute the target expression from the solution.",
    ),
    code="""\
import sympy
A = sympy.Matrix({matrix})
b = sympy.Matrix({rhs})
target = {target}
x = A.LUsolve(b)
print(A.det() != 0, A * x == b)
print(sum(c * v for c, v in zip(target, x)))""",
    conclusions=(
        "The system is nonsingular and the solution checks out; the value is {printed}, "
        "i.e. {answer}.",
        "The tool printed {printed}, so the answer is {answer}.",
        "The checks pass (True True), and the requested value is {printed}.",
    ),
)


@writer("linear_system")
def linear_system(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """Solve the system exactly with sympy and evaluate the asked combination."""
    matrix, rhs, target = params["matrix"], params["rhs"], params["target"]
    return _LINEAR_SYSTEM.solve(rng, task, size=len(rhs), printed=plain(task.answer),
                                matrix=[list(row) for row in matrix], rhs=list(rhs),
                                target=list(target))


_INTERPOLATION = Recipe(
    thoughts=(
        "{count} values determine a polynomial of degree at most {degree} uniquely. sympy's "
        "interpolate builds it with exact rationals; I check it hits every point and "
        "evaluate at {t}.",
        "Lagrange interpolation through the {count} given points gives P; I let sympy do "
        "it exactly, verify the data points, and then compute P({t}).",
    ),
    code="""\
import sympy
X = sympy.symbols("X")
points = {points}
P = sympy.expand(sympy.interpolate(points, X))
print(sympy.degree(P, X) <= {degree}, all(P.subs(X, x) == y for x, y in points))
print(P.subs(X, {t}))""",
    conclusions=(
        "P passes through every point, and P({t}) = {printed}, i.e. {answer}.",
        "The checks pass, so P({t}) is {printed}.",
        "The tool printed {printed}, so the answer is {answer}.",
    ),
)


@writer("poly_interpolation")
def poly_interpolation(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """The interpolating polynomial by sympy.interpolate, evaluated at t."""
    points = [(int(x), int(y)) for x, y in params["points"]]
    return _INTERPOLATION.solve(rng, task, degree=int(params["degree"]), t=int(params["t"]),
                                count=len(points), printed=plain(task.answer), points=points)
