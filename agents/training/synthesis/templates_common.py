"""What every scripted writer shares: the `Solution` record, the registry, and `Recipe`.

A family's solution is one `Recipe`: the thoughts to pick from before the code, a code
template, and the conclusions to pick from after it. A writer only turns the task's
params into the values the recipe is filled with, so the phrasing and the code of a
family are data next to it rather than another copy of the same function.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deeptool_env.tasks import Task


@dataclass(frozen=True)
class Solution:
    """One family's solution of a task: the plan, the code, and the thought after it."""

    thought: str  # before the code: what to compute and how
    code: str  # prints the answer (last line of output)
    conclusion: str  # before the answer: what the output means


#: A family's writer: (params, task, rng) -> Solution, or None for an unknown variant.
Writer = Callable[[dict[str, Any], Task, random.Random], Solution | None]

#: Family name -> writer, filled by the `templates_<topic>` modules on import.
WRITERS: dict[str, Writer] = {}


def writer(family: str) -> Callable[[Writer], Writer]:
    """Register the decorated function as the writer of `family`."""
    def register(function: Writer) -> Writer:
        WRITERS[family] = function
        return function
    return register


def say(rng: random.Random, options: Sequence[str], **values: Any) -> str:
    """One of `options`, picked by `rng`, with `values` filled in."""
    return rng.choice(options).format(**values)


@dataclass(frozen=True)
class Recipe:
    """How a family (or one of its variants) is solved and said.

    `thoughts`, `code` and `conclusions` are `str.format` templates over one set of
    values (plus `answer`, the task's gold answer); `rng` picks the thought, then the
    conclusion, which is the order the templates-v2 data was drawn in.
    """

    thoughts: tuple[str, ...]
    code: str
    conclusions: tuple[str, ...]

    def solve(self, rng: random.Random, task: Task, **values: Any) -> Solution:
        """The solution of `task` with this recipe filled in from `values`."""
        values = {"answer": task.answer, **values}
        thought = say(rng, self.thoughts, **values)
        conclusion = say(rng, self.conclusions, **values)
        return Solution(thought, self.code.format(**values), conclusion)


def ints(params: Mapping[str, Any], *keys: str) -> dict[str, int]:
    """`params[key]` as an int for each of `keys` (a ValueError or KeyError means the
    params come from another generator version)."""
    return {key: int(params[key]) for key in keys}


def variant_writer(family: str, recipe: Recipe,
                   table: Mapping[str, tuple[str, str]]) -> Writer:
    """Register the writer of a family whose variants differ only by a row of `table`:
    variant -> (code expression, meaning), filled into `recipe` as `{expression}` and
    `{meaning}` along with `{n}`. The writer returns None for a variant without a row."""
    def write(params: dict[str, Any], task: Task, rng: random.Random) -> Solution | None:
        n, variant = int(params["n"]), params["variant"]
        if variant not in table:
            return None
        expression, meaning = table[variant]
        # str.format does not expand a value's own placeholders, so fill in n here.
        return recipe.solve(rng, task, n=n, expression=expression, meaning=meaning.format(n=n))
    return writer(family)(write)
