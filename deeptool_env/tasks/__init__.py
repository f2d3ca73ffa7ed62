"""Task sources of DeepTool-Math: benchmark JSONL files, the Hugging Face Hub, and a
seeded procedural generator, all behind `load_tasks(spec) -> TaskSet`.

`datasets` is never imported here; `load_hub` imports it when called.
"""

from .errors import (
    MissingDependencyError,
    TaskCountWarning,
    TaskDataNotFoundError,
    TaskFormatError,
    TaskHashWarning,
    TaskIntegrityError,
    TaskSourceError,
    UnknownTaskSourceError,
)
from .hub import HUB_SOURCES, HubSource, load_hub, map_rows, taskset_from_rows
from .jsonl import DATA_DIR_ENV, find_benchmark_file, load_benchmark, read_jsonl
from .names import (
    BENCHMARK_SHA256,
    BENCHMARKS,
    DISPLAY_NAMES,
    TRAIN_SETS,
    canonical_name,
    list_benchmarks,
)
from .procedural import FAMILIES, ProceduralTaskSet
from .registry import DEFAULT_SPEC, load_tasks
from .task import Task
from .taskset import ListTaskSet, TaskSet

#: Alias: a task source is any `TaskSet`.
TaskSource = TaskSet

__all__ = [
    "BENCHMARKS",
    "BENCHMARK_SHA256",
    "DATA_DIR_ENV",
    "DEFAULT_SPEC",
    "DISPLAY_NAMES",
    "FAMILIES",
    "HUB_SOURCES",
    "HubSource",
    "ListTaskSet",
    "MissingDependencyError",
    "ProceduralTaskSet",
    "TRAIN_SETS",
    "Task",
    "TaskCountWarning",
    "TaskDataNotFoundError",
    "TaskFormatError",
    "TaskHashWarning",
    "TaskIntegrityError",
    "TaskSet",
    "TaskSource",
    "TaskSourceError",
    "UnknownTaskSourceError",
    "canonical_name",
    "find_benchmark_file",
    "list_benchmarks",
    "load_benchmark",
    "load_hub",
    "load_tasks",
    "map_rows",
    "read_jsonl",
    "taskset_from_rows",
]
