"""Seeded procedural problems that need real computation, with exact answers.

Each family is a function `(rng, difficulty) -> Task` (see `FAMILIES`); the answer is
computed by the generator with exact integer or rational arithmetic, and the generator's
inputs are kept in `task.meta["params"]`. `ProceduralTaskSet` turns the families into a
deterministic, virtual task set.
"""

from .base import DIFFICULTIES, GENERATOR_VERSION, Family
from .catalog import FAMILIES
from .taskset import DEFAULT_SIZE, ProceduralTaskSet, generate, task_id

__all__ = [
    "DEFAULT_SIZE",
    "DIFFICULTIES",
    "FAMILIES",
    "GENERATOR_VERSION",
    "Family",
    "ProceduralTaskSet",
    "generate",
    "task_id",
]
