"""`TaskSet`: an indexable, hashable-by-content collection of tasks."""

from __future__ import annotations

import difflib
import hashlib
import json
import operator
import random
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .task import Task


class TaskSet(ABC):
    """A finite, ordered set of tasks with stable ids and a content hash.

    Subclasses provide `__len__`, `_get(index)` (a non-negative index) and `by_id`.
    `name` says where the tasks come from; `content_hash` (sha256 hex) identifies the
    exact content so that results can record their provenance.
    """

    name: str
    content_hash: str

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def _get(self, index: int) -> Task: ...

    @abstractmethod
    def by_id(self, task_id: str) -> Task:
        """The task whose id is `task_id`; KeyError if the set has none."""

    def __getitem__(self, index: int) -> Task:
        size = len(self)
        position = operator.index(index)
        if position < 0:
            position += size
        if not 0 <= position < size:
            raise IndexError(f"task index {index} out of range for {self.name} (size {size})")
        return self._get(position)

    def __iter__(self) -> Iterator[Task]:
        for position in range(len(self)):
            yield self._get(position)

    def close_ids(self, task_id: str, n: int = 3) -> list[str]:
        """Up to `n` ids of this set that look like `task_id` (for "did you mean" errors)."""
        return difflib.get_close_matches(task_id, [task.id for task in self], n=n)

    def sample(self, seed: int) -> int:
        """A deterministic index for `seed`: the same seed always picks the same task."""
        if len(self) == 0:
            raise IndexError(f"cannot sample from the empty task set {self.name}")
        return random.Random(operator.index(seed)).randrange(len(self))

    def provenance(self) -> dict[str, Any]:
        """What a result file should record to identify this set."""
        return {"name": self.name, "size": len(self), "content_hash": self.content_hash}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, size={len(self)})"


def hash_tasks(tasks: Iterable[Task]) -> str:
    """sha256 of the canonical JSON of `tasks`, for sets that do not come from one file."""
    digest = hashlib.sha256()
    for task in tasks:
        line = json.dumps(task.to_dict(), sort_keys=True, ensure_ascii=False, default=str)
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()


class ListTaskSet(TaskSet):
    """Tasks held in memory (loaded from a JSONL file or a hub dataset).

    Args:
        name: the set's name (a canonical benchmark name or a file stem).
        tasks: the tasks in order; their ids must be unique.
        content_hash: sha256 of the source file; computed from the tasks when omitted.
        source: where the tasks came from (a path or a hub id), for provenance.
    """

    def __init__(
        self, name: str, tasks: Sequence[Task], *, content_hash: str | None = None,
        source: str | None = None,
    ) -> None:
        self.name = name
        self._tasks = tuple(tasks)
        self._by_id: dict[str, int] = {}
        for position, task in enumerate(self._tasks):
            if task.id in self._by_id:
                raise ValueError(f"duplicate task id {task.id!r} in {name}")
            self._by_id[task.id] = position
        self.content_hash = content_hash or hash_tasks(self._tasks)
        self.source = source
        self.limit: int | None = None

    def __len__(self) -> int:
        return len(self._tasks)

    def _get(self, index: int) -> Task:
        return self._tasks[index]

    def by_id(self, task_id: str) -> Task:
        try:
            return self._tasks[self._by_id[task_id]]
        except KeyError:
            raise KeyError(f"no task with id {task_id!r} in {self.name}") from None

    @property
    def ids(self) -> list[str]:
        """All task ids, in order."""
        return [task.id for task in self._tasks]

    def head(self, limit: int) -> ListTaskSet:
        """The first `limit` tasks; keeps the source's content hash and records the limit."""
        subset = ListTaskSet(
            self.name, self._tasks[:limit], content_hash=self.content_hash, source=self.source
        )
        subset.limit = limit
        return subset

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "source": self.source, "limit": self.limit}
