"""The study's problem files: training, validation and held-out procedural problems from
three seeds (disjoint id spaces), written as task JSONL under the work directory.

A row is the task's fields with its generator metadata flattened (`family`, `params`,
...), which the JSONL loader folds back into `Task.meta`, so the templated teacher and
the grader see what a generated task carries. Regenerated on every run (cheap and
deterministic); no problem text appears in two splits.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from deeptool_env.tasks import ProceduralTaskSet, Task

from .config import StudyConfig

SEED_OF = {"train": "train_seed", "validation": "validation_seed", "heldout": "heldout_seed"}
SIZE_OF = {"train": "train_problems", "validation": "validation_problems",
           "heldout": "heldout_problems"}


def split_tasks(config: StudyConfig, split: str, taken: set[str] | None = None) -> list[Task]:
    """The split's problems: its seed's generated tasks in order, skipping any problem text
    already `taken` (by the splits made before it) or seen earlier in the split, until
    the split has its size."""
    seed, size = getattr(config, SEED_OF[split]), getattr(config, SIZE_OF[split])
    tasks = ProceduralTaskSet(seed=seed, size=100 * size, families=config.families,
                              difficulty=config.difficulty)
    taken = set() if taken is None else taken
    chosen: list[Task] = []
    for index in range(len(tasks)):
        task = tasks[index]
        if task.problem not in taken:
            taken.add(task.problem)
            chosen.append(task)
            if len(chosen) == size:
                return chosen
    raise ValueError(f"{split}: only {len(chosen)} distinct problems of {config.families} "
                     f"at difficulty {config.difficulty}; ask for fewer")


def task_row(task: Task) -> dict:
    return {**task.meta, "id": task.id, "problem": task.problem, "answer": task.answer,
            "benchmark": task.benchmark}


def write_task_files(config: StudyConfig) -> dict[str, Path]:
    """{split: path} of the three JSONL files, written atomically. The held-out split is
    made first, then validation and training without any of its problem texts, so no
    problem is in two splits (small families repeat problems across seeds)."""
    folder = Path(config.work_dir) / "tasks"
    folder.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    paths = {}
    for split in ("heldout", "validation", "train"):
        tasks = split_tasks(config, split, taken)
        path = folder / f"{split}.jsonl"
        temporary = path.with_suffix(".jsonl.tmp")
        temporary.write_text("".join(json.dumps(task_row(t)) + "\n" for t in tasks))
        os.replace(temporary, path)
        paths[split] = path
    return paths
