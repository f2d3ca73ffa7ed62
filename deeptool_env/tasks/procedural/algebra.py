"""Families of exact rational algebra: linear systems and polynomial interpolation."""

from __future__ import annotations

import random
from fractions import Fraction

from ..task import Task
from .base import ANSWER_FRACTION, linear_form, make_task, pick


def solve_exact(matrix: list[list[int]], rhs: list[int]) -> list[Fraction] | None:
    """The unique solution of matrix @ x = rhs over the rationals, None if singular."""
    size = len(matrix)
    rows = [[Fraction(v) for v in row] + [Fraction(b)] for row, b in zip(matrix, rhs, strict=True)]
    for col in range(size):
        pivot = next((r for r in range(col, size) if rows[r][col] != 0), None)
        if pivot is None:
            return None
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(size):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [rows[i][size] / rows[i][i] for i in range(size)]


def linear_system(rng: random.Random, difficulty: int = 2) -> Task:
    """A square integer linear system with a unique rational solution; asks for one value."""
    size = pick(difficulty, 3, 4, 5)
    bound, rhs_bound = pick(difficulty, (9, 30), (15, 60), (20, 99))
    names = [f"x_{{{i}}}" for i in range(1, size + 1)]
    while True:
        matrix = [[rng.randint(-bound, bound) for _ in range(size)] for _ in range(size)]
        rhs = [rng.randint(-rhs_bound, rhs_bound) for _ in range(size)]
        solution = solve_exact(matrix, rhs)
        if solution is not None:
            break
    kind = rng.choice(["variable", "sum", "combination"])
    if kind == "variable":
        target = [0] * size
        target[rng.randrange(size)] = 1
    elif kind == "sum":
        target = [1] * size
    else:
        target = [rng.choice([-3, -2, -1, 1, 2, 3]) for _ in range(size)]
    answer = sum((c * x for c, x in zip(target, solution, strict=True)), Fraction(0))
    equations = ", ".join(f"${linear_form(row, names)} = {b}$"
                          for row, b in zip(matrix, rhs, strict=True))
    problem = (f"The real numbers ${', '.join(names)}$ satisfy the system of equations "
               f"{equations}. Find the value of ${linear_form(target, names)}$. "
               f"{ANSWER_FRACTION}")
    return make_task("linear_system", difficulty, problem, answer,
                     matrix=matrix, rhs=rhs, target=target)


def interpolate_at(points: list[tuple[int, int]], t: int) -> Fraction:
    """Value at t of the polynomial of least degree through `points` (Lagrange's formula)."""
    total = Fraction(0)
    for i, (xi, yi) in enumerate(points):
        term = Fraction(yi)
        for j, (xj, _) in enumerate(points):
            if j != i:
                term *= Fraction(t - xj, xi - xj)
        total += term
    return total


def poly_interpolation(rng: random.Random, difficulty: int = 2) -> Task:
    """The value at a new point of the polynomial through given integer points."""
    degree = pick(difficulty, 3, 4, 6)
    y_bound = pick(difficulty, 50, 100, 200)
    xs = sorted(rng.sample(range(-10, 11), degree + 1))
    points = [(x, rng.randint(-y_bound, y_bound)) for x in xs]
    t = rng.choice([-1, 1]) * rng.randint(11, 40)
    listing = ", ".join(f"$P({x}) = {y}$" for x, y in points)
    problem = (f"Let $P$ be the polynomial of degree at most ${degree}$ with real coefficients "
               f"such that {listing}. Find $P({t})$. {ANSWER_FRACTION}")
    return make_task("poly_interpolation", difficulty, problem, interpolate_at(points, t),
                     degree=degree, t=t, points=[list(p) for p in points])
