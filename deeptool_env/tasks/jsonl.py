"""Load tasks from JSONL files in the normalized benchmark record format.

A record is one JSON object per line with at least `id`, `problem` and `answer`
(see the data's SOURCES.md); `benchmark` and `solution` are read when present and every
other key goes to `Task.meta`. Benchmarks are found under a data directory given
explicitly or by the `DEEPTOOL_DATA_DIR` environment variable.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

from .errors import (
    TaskCountWarning,
    TaskDataNotFoundError,
    TaskFormatError,
    TaskHashWarning,
    TaskIntegrityError,
)
from .names import BENCHMARK_SHA256, TRAIN_SETS, canonical_name, expected_count
from .task import CORE_FIELDS, Task
from .taskset import ListTaskSet

#: Environment variable naming the data directory when no `data_dir` is passed.
DATA_DIR_ENV = "DEEPTOOL_DATA_DIR"

_REQUIRED = ("id", "problem", "answer")


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The explicit `data_dir`, else `$DEEPTOOL_DATA_DIR`, else None."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    from_env = os.environ.get(DATA_DIR_ENV)
    return Path(from_env).expanduser() if from_env else None


def candidate_paths(name: str, data_dir: Path) -> list[Path]:
    """Where the file of canonical benchmark `name` may live under `data_dir`, in order."""
    group = "train" if name in TRAIN_SETS else "benchmarks"
    return [
        data_dir / group / name / f"{name}.jsonl",
        data_dir / name / f"{name}.jsonl",
        data_dir / f"{name}.jsonl",
    ]


def find_benchmark_file(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of the JSONL file of benchmark `name` (an alias is fine).

    Raises `TaskDataNotFoundError` naming every path tried and how to set the directory.
    """
    canonical = canonical_name(name)
    root = resolve_data_dir(data_dir)
    if root is None:
        raise TaskDataNotFoundError(
            f"no data directory for benchmark {canonical!r}: pass data_dir=... or set "
            f"{DATA_DIR_ENV}=/path/to/data (the folder holding benchmarks/{canonical}/"
            f"{canonical}.jsonl)"
        )
    tried = candidate_paths(canonical, root)
    for path in tried:
        if path.is_file():
            return path
    listing = "\n  ".join(str(path) for path in tried)
    raise TaskDataNotFoundError(
        f"benchmark file for {canonical!r} not found; tried:\n  {listing}\n"
        f"pass data_dir=... or set {DATA_DIR_ENV} to the folder that holds "
        f"benchmarks/{canonical}/{canonical}.jsonl"
    )


def load_benchmark(name: str, data_dir: str | os.PathLike[str] | None = None, *,
                   strict: bool = True) -> ListTaskSet:
    """Load benchmark (or train set) `name` from the data directory.

    The record count and (for the six benchmarks) the file's sha256 are checked against
    the pinned release: a mismatch raises `TaskIntegrityError`, or only warns
    (`TaskCountWarning` / `TaskHashWarning`) with `strict=False`.
    """
    canonical = canonical_name(name)
    path = find_benchmark_file(canonical, data_dir)
    expected = expected_count(canonical)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TaskCountWarning)
        tasks = read_jsonl(path, name=canonical, expected=expected)
    problems = [str(w.message) for w in caught if issubclass(w.category, TaskCountWarning)]
    pinned = BENCHMARK_SHA256.get(canonical)
    if pinned is not None and tasks.content_hash != pinned:
        problems.append(f"{path}: sha256 {tasks.content_hash[:12]}... is not the pinned "
                        f"{pinned[:12]}... of {canonical}")
    if problems and strict:
        raise TaskIntegrityError("; ".join(problems) + " (pass strict=False, or "
                                 "strict_data=False to gym.make, to load it anyway)")
    for problem in problems:
        category = TaskCountWarning if "records, expected" in problem else TaskHashWarning
        warnings.warn(problem, category, stacklevel=2)
    return tasks


def read_jsonl(
    path: str | os.PathLike[str], *, name: str | None = None, expected: int | None = None
) -> ListTaskSet:
    """Read a JSONL task file into a `ListTaskSet` whose `content_hash` is the file's sha256.

    Args:
        path: the file.
        name: the set's name; defaults to the file's stem.
        expected: expected record count; a different count gives a `TaskCountWarning`.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise TaskDataNotFoundError(f"task file not found: {file}")
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TaskFormatError(file, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    set_name = name or file.stem
    tasks: list[Task] = []
    first_line: dict[str, int] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        task = _parse_line(file, line_no, line, set_name)
        if task.id in first_line:
            raise TaskFormatError(
                file, f"duplicate id {task.id!r} (first seen on line {first_line[task.id]})",
                line=line_no, field="id",
            )
        first_line[task.id] = line_no
        tasks.append(task)
    if expected is not None and len(tasks) != expected:
        warnings.warn(
            f"{file}: {set_name} has {len(tasks)} records, expected {expected}",
            TaskCountWarning, stacklevel=2,
        )
    return ListTaskSet(set_name, tasks, content_hash=hashlib.sha256(raw).hexdigest(),
                       source=str(file))


def _parse_line(file: Path, line_no: int, line: str, default_benchmark: str) -> Task:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TaskFormatError(
            file, f"invalid JSON: {exc.msg} (column {exc.colno})", line=line_no
        ) from None
    if not isinstance(record, dict):
        raise TaskFormatError(
            file, f"expected a JSON object, got {type(record).__name__}", line=line_no
        )
    return task_from_record(record, default_benchmark, file=file, line=line_no)


def task_from_record(
    record: dict[str, Any], default_benchmark: str, *, file: str | os.PathLike[str] = "<record>",
    line: int | None = None,
) -> Task:
    """Build a `Task` from one normalized record, checking the required fields."""
    values: dict[str, str] = {}
    for key in _REQUIRED:
        values[key] = _required_text(record, key, file, line)
    benchmark = record.get("benchmark") or default_benchmark
    solution = record.get("solution")
    if solution is not None and not isinstance(solution, str):
        raise TaskFormatError(file, "field 'solution' must be a string or null",
                              line=line, field="solution")
    meta = {key: value for key, value in record.items() if key not in CORE_FIELDS}
    return Task(id=values["id"], problem=values["problem"], answer=values["answer"],
                benchmark=str(benchmark), solution=solution, meta=meta)


def _required_text(record: dict[str, Any], key: str, file: str | os.PathLike[str],
                   line: int | None) -> str:
    if key not in record or record[key] is None:
        raise TaskFormatError(file, f"record is missing required field {key!r}",
                              line=line, field=key)
    value = record[key]
    if isinstance(value, int) and not isinstance(value, bool) and key != "problem":
        value = str(value)
    if not isinstance(value, str):
        raise TaskFormatError(
            file, f"field {key!r} must be a string, got {type(value).__name__}",
            line=line, field=key,
        )
    if not value.strip():
        raise TaskFormatError(file, f"field {key!r} is empty", line=line, field=key)
    return value
