"""The study's problem files: training, validation and held-out procedural problems from
three seeds (disjoint id spaces), written as task JSONL under the work directory.

A row is the task's fields with its generator metadata flattened (`family`, `params`,
...), which the JSONL loader folds back into `Task.meta`, so the templated teacher and
the grader see what a generated task carries. Regenerated on every run (cheap and
deterministic); no problem text may appear in two splits.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from deeptool_env.tasks import ProceduralTaskSet, Task

from .config import StudyConfig

SPLITS = ("train", "validation", "heldout")


def split_tasks(config: StudyConfig, split: str) -> list[Task]:
    seed, size = {"train": (config.train_seed, config.train_problems),
                  "validation": (config.validation_seed, config.validation_problems),
                  "heldout": (config.heldout_seed, config.heldout_problems)}[split]
    tasks = ProceduralTaskSet(seed=seed, size=size, families=config.families,
                              difficulty=config.difficulty)
    return [tasks[i] for i in range(size)]


def task_row(task: Task) -> dict:
    return {**task.meta, "id": task.id, "problem": task.problem, "answer": task.answer,
            "benchmark": task.benchmark}


def write_task_files(config: StudyConfig) -> dict[str, Path]:
    """{split: path} of the three JSONL files, written atomically; raises ValueError when
    two splits share a problem text."""
    folder = Path(config.work_dir) / "tasks"
    folder.mkdir(parents=True, exist_ok=True)
    seen: dict[str, str] = {}
    paths = {}
    for split in SPLITS:
        tasks = split_tasks(config, split)
        for task in tasks:
            other = seen.setdefault(task.problem, split)
            if other != split:
                raise ValueError(f"problem {task.id} of {split} is also in {other}: choose "
                                 "other seeds")
        path = folder / f"{split}.jsonl"
        temporary = path.with_suffix(".jsonl.tmp")
        temporary.write_text("".join(json.dumps(task_row(t)) + "\n" for t in tasks))
        os.replace(temporary, path)
        paths[split] = path
    return paths
