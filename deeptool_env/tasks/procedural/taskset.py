"""`ProceduralTaskSet`: a large virtual task set whose items are generated on demand."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import operator
import random
import re
from collections.abc import Sequence
from typing import Any

from ...seeding import derived_rng
from ..errors import UnknownTaskSourceError
from ..task import Task
from ..taskset import TaskSet
from .base import DIFFICULTIES, GENERATOR_VERSION, check_difficulty
from .catalog import FAMILIES

#: Size of a procedural set when none is given.
DEFAULT_SIZE = 10_000

_ID = re.compile(r"procedural-([a-z0-9_]+)-(\d+)-(\d+)(?:-d(\d))?")


def task_rng(family: str, seed: int, index: int, difficulty: int | None) -> random.Random:
    """The generator of one task, derived by sha256 so it is the same on every machine/run."""
    return derived_rng("deeptool-procedural", f"v{GENERATOR_VERSION}", family, seed, index,
                       difficulty or "mixed", sep=":", nbytes=16)


def task_id(family: str, seed: int, index: int, difficulty: int | None = None) -> str:
    """`procedural-<family>-<seed>-<index>`, with `-d<level>` when the level was fixed."""
    suffix = f"-d{difficulty}" if difficulty is not None else ""
    return f"procedural-{family}-{seed}-{index}{suffix}"


def generate(family: str, seed: int, index: int, difficulty: int | None = None) -> Task:
    """Task `index` of `family` under `seed`; a None difficulty draws the level (1-3)."""
    if family not in FAMILIES:
        raise UnknownTaskSourceError(
            f"unknown procedural family {family!r}; families: {', '.join(FAMILIES)}"
        )
    rng = task_rng(family, seed, index, difficulty)
    level = rng.choice(DIFFICULTIES) if difficulty is None else check_difficulty(difficulty)
    task = FAMILIES[family](rng, level)
    meta = {**task.meta, "seed": seed, "index": index}
    return dataclasses.replace(task, id=task_id(family, seed, index, difficulty), meta=meta)


class ProceduralTaskSet(TaskSet):
    """Seeded, generated problems with exact answers; item i is built when asked for.

    Index i uses family `families[i % len(families)]`, so every family is equally
    represented. The set is deterministic in (seed, size, families, difficulty).

    Args:
        seed: non-negative base seed; distinct seeds give disjoint id spaces.
        size: number of items (the set is virtual, so this is cheap).
        families: names of the families to use (default: all, see `FAMILIES`).
        difficulty: fix the level to 1, 2 or 3; None draws it per task.
    """

    def __init__(self, seed: int = 0, size: int = DEFAULT_SIZE,
                 families: Sequence[str] | None = None, difficulty: int | None = None) -> None:
        self.seed = operator.index(seed)
        self.size = operator.index(size)
        if self.seed < 0 or self.size < 1:
            raise ValueError(f"need seed >= 0 and size >= 1, got seed={seed}, size={size}")
        chosen = tuple(FAMILIES) if families is None else tuple(families)
        unknown = [name for name in chosen if name not in FAMILIES]
        if unknown or not chosen:
            raise UnknownTaskSourceError(
                f"unknown procedural families {unknown}; families: {', '.join(FAMILIES)}"
            )
        self.families = chosen
        self.difficulty = None if difficulty is None else check_difficulty(difficulty)
        self.name = "procedural" if families is None else "procedural:" + "+".join(chosen)
        self.content_hash = hashlib.sha256(
            json.dumps(self._config(), sort_keys=True).encode()
        ).hexdigest()

    def _config(self) -> dict[str, Any]:
        return {"generator": "deeptool-procedural", "version": GENERATOR_VERSION,
                "seed": self.seed, "size": self.size, "families": list(self.families),
                "difficulty": self.difficulty}

    def __len__(self) -> int:
        return self.size

    def _get(self, index: int) -> Task:
        family = self.families[index % len(self.families)]
        return generate(family, self.seed, index, self.difficulty)

    def by_id(self, task_id: str) -> Task:
        match = _ID.fullmatch(task_id)
        if match:
            seed, index = int(match.group(2)), int(match.group(3))
            if seed == self.seed and index < self.size:
                task = self._get(index)
                if task.id == task_id:
                    return task
        raise KeyError(f"no task with id {task_id!r} in {self.name} (seed {self.seed}, "
                       f"size {self.size})")

    def close_ids(self, task_id: str, n: int = 3) -> list[str]:
        """Ids at the indices the numbers of `task_id` name (the set is too large to scan)."""
        indices = sorted({int(digits) for digits in re.findall(r"\d{1,9}", task_id)
                          if int(digits) < self.size})
        return difflib.get_close_matches(task_id, [self._get(i).id for i in indices[:50]], n=n)

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), **self._config()}
