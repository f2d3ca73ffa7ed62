"""Scripted solutions of lattice paths with blocked points and integer partitions."""

from __future__ import annotations

import random
from typing import Any

from deeptool_env.tasks import Task

from .templates_common import Recipe, Solution, ints, writer

_LATTICE_PATHS = Recipe(
    thoughts=(
        "The grid is only {width} by {height}, so dynamic programming works: the number of "
        "paths to a point is the sum of those to its left and lower neighbours, and 0 at "
        "the {count} blocked points.",
        "I count the right/up paths to every lattice point in order, forcing the blocked "
        "points to 0. As a check, without blocks the count must be binom(w + h, w).",
    ),
    code="""\
import math
width, height = {width}, {height}
blocked = {listing}

def paths(blocked):
    ways = [[0] * (height + 1) for _ in range(width + 1)]
    for x in range(width + 1):
        for y in range(height + 1):
            if (x, y) in blocked:
                continue
            if x == 0 and y == 0:
                ways[x][y] = 1
            else:
                ways[x][y] = (ways[x - 1][y] if x else 0) + (ways[x][y - 1] if y else 0)
    return ways[width][height]

print(paths(set()) == math.comb(width + height, width))
print(paths(blocked))""",
    conclusions=(
        "The unblocked count matches the binomial (True), so {answer} paths avoid the "
        "points.",
        "The check passed; {answer} paths miss every blocked point.",
        "So the number of paths is {answer}.",
    ),
)


@writer("lattice_paths")
def lattice_paths(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """Paths counted by dynamic programming over the grid, blocked points set to zero."""
    size = ints(params, "width", "height")
    blocked = sorted(tuple(int(v) for v in point) for point in params["blocked"])
    listing = "{" + ", ".join(f"({x}, {y})" for x, y in blocked) + "}"
    return _LATTICE_PATHS.solve(rng, task, count=len(blocked), listing=listing, **size)


#: The coin-change programme; `{loop}` runs the sums up (any number of each part) or
#: down (each part at most once).
_PARTITIONS_CODE = """\
def count(n):
    ways = [1] + [0] * n
    for part in range(1, n + 1):
        {loop}:
            ways[s] += ways[s - part]
    return ways

n = {n}
ways = count(n)
print(ways[:9])
print(ways[n])"""

_PARTITIONS_SAID = (
    "The small values look right, so the count for {n} is {answer}.",
    "The table starts as expected and gives {answer}.",
    "So there are {answer} ways.",
)

_DISTINCT_PARTS = Recipe(
    thoughts=(
        "Partitions of {n} into distinct parts: a 0/1 knapsack over the parts "
        "1..{n}, running the sums downwards so each part is used at most once. q(1..8) "
        "should be 1, 1, 2, 2, 3, 4, 5, 6.",
        "I count subsets of {{1, ..., {n}}} summing to {n} with a DP that adds each "
        "part once (inner loop from high to low).",
    ),
    code=_PARTITIONS_CODE,
    conclusions=_PARTITIONS_SAID,
)

_ANY_PARTS = Recipe(
    thoughts=(
        "The partition number p({n}) comes from the coin-change DP: add parts 1..n "
        "one size at a time, each any number of times. p(4) = 5 is a check.",
        "I count partitions of {n} by dynamic programming over the largest allowed "
        "part; the small values 1, 1, 2, 3, 5, 7, 11 confirm it.",
    ),
    code=_PARTITIONS_CODE,
    conclusions=_PARTITIONS_SAID,
)


@writer("partitions")
def partitions(params: dict[str, Any], task: Task, rng: random.Random) -> Solution:
    """p(n) or q(n) (distinct parts) by the coin-change dynamic programme."""
    n = int(params["n"])
    if params["distinct"]:
        return _DISTINCT_PARTS.solve(rng, task, n=n, loop="for s in range(n, part - 1, -1)")
    return _ANY_PARTS.solve(rng, task, n=n, loop="for s in range(part, n + 1)")
