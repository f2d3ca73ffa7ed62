"""Load the six benchmarks from the Hugging Face Hub (extra `deeptool-gym[hub]`).

`datasets` is imported only inside `load_hub`, never when `deeptool_env` is imported.
Rows are mapped to `Task`s by `map_rows`, which works on any iterable of mappings (a
`datasets.Dataset` or plain dicts), so the mapping is testable offline.

=============  ===========================  ===================  =====  =====================
benchmark      hub id                       config               split  fields used
=============  ===========================  ===================  =====  =====================
aime24         HuggingFaceH4/aime_2024      -                    train  id, problem, answer,
                                                                        solution, url, year
aime25         MathArena/aime_2025          -                    train  problem_idx, problem,
                                                                        answer
hmmt_feb_2025  MathArena/hmmt_feb_2025      -                    train  problem_idx, problem,
                                                                        answer
amc23          math-ai/amc23                -                    test   id, question, answer,
                                                                        url
math500        HuggingFaceH4/MATH-500       -                    test   unique_id, problem,
                                                                        answer, solution,
                                                                        subject, level
olympiadbench  Hothan/OlympiadBench         OE_TO_maths_en_COMP  train  id, question,
                                                                        final_answer[0],
                                                                        solution[0], subfield
=============  ===========================  ===================  =====  =====================

Answers are normalized like the local files: integers lose leading zeros and a trailing
".0" (the source value is kept in `meta["extra"]["answer_original"]`); OlympiadBench
answers lose their `$` signs and a trailing full stop. Ids follow the local files' scheme
where the row allows it (MATH-500 `unique_id`, HMMT `problem_idx`, AIME24/AMC23 AoPS url,
OlympiadBench `id`), else `<benchmark>-<source id>`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import MissingDependencyError, TaskCountWarning, UnknownTaskSourceError
from .names import canonical_name, expected_count
from .task import Task
from .taskset import ListTaskSet


@dataclass(frozen=True)
class HubSource:
    """Where a benchmark lives on the hub and how its rows map to tasks."""

    hub_id: str
    split: str
    mapper: Callable[[Mapping[str, Any], int], dict[str, Any]]
    config: str | None = None


def _canonical_answer(value: Any) -> str:
    """Integers (also "073" or 27.0) as plain digits; anything else as stripped text."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return str(int(text))
    return text


def _fields(task_id: str, problem: Any, raw_answer: Any, *, original: Any = None,
            extra: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    """The task fields of one row; `original` overrides the recorded source answer."""
    answer = _canonical_answer(raw_answer)
    source_answer = raw_answer if original is None else original
    return {"id": task_id, "problem": problem, "answer": answer,
            "answer_is_integer": bool(re.fullmatch(r"-?\d+", answer)),
            "extra": {"answer_original": source_answer, **(extra or {})}, **meta}


def _aops_id(url: Any, prefix: str, pattern: str) -> str | None:
    match = re.search(pattern, str(url or ""))
    return f"{prefix}-{match.group(1)}-{int(match.group(2)):02d}" if match else None


def _aime24(row: Mapping[str, Any], index: int) -> dict[str, Any]:
    task_id = _aops_id(row.get("url"), "aime24", r"AIME_(I+)_Problems/Problem_(\d+)")
    return _fields(task_id or f"aime24-{row.get('id', index)}", row["problem"], row["answer"],
                   solution=row.get("solution"), url=row.get("url"), year=row.get("year"))


def _matharena(benchmark: str, year: int) -> Callable[[Mapping[str, Any], int], dict[str, Any]]:
    def mapper(row: Mapping[str, Any], index: int) -> dict[str, Any]:
        number = int(row.get("problem_idx", index + 1))
        return _fields(f"{benchmark}-{number:02d}", row["problem"], row["answer"], year=year,
                       extra={"problem_number": number})

    return mapper


def _amc23(row: Mapping[str, Any], index: int) -> dict[str, Any]:
    task_id = _aops_id(row.get("url"), "amc23", r"AMC_(12[AB])_Problems/Problem_(\d+)")
    return _fields(task_id or f"amc23-{row.get('id', index)}", row["question"], row["answer"],
                   url=row.get("url"), year=2023)


def _math500(row: Mapping[str, Any], index: int) -> dict[str, Any]:
    unique_id = str(row.get("unique_id", index))
    slug = re.sub(r"^test/|\.json$", "", unique_id).replace("/", "-")
    return _fields(f"math500-{slug}", row["problem"], row["answer"],
                   solution=row.get("solution"), subject=row.get("subject"),
                   level=row.get("level"), extra={"unique_id": unique_id})


def _first(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def _olympiadbench(row: Mapping[str, Any], index: int) -> dict[str, Any]:
    final = _first(row.get("final_answer"))
    if final is None:
        raise ValueError(f"OlympiadBench row {index} has no final_answer")
    answer = str(final).replace("$", "").strip().removesuffix(".").strip()
    keys = ("answer_type", "is_multiple_answer", "unit", "error")
    return _fields(f"olympiadbench-{row.get('id', index)}", row["question"], answer,
                   original=final, solution=_first(row.get("solution")),
                   subject=row.get("subfield"), extra={key: row.get(key) for key in keys})


#: The hub source of every benchmark (see the module docstring for the table).
HUB_SOURCES: dict[str, HubSource] = {
    "aime24": HubSource("HuggingFaceH4/aime_2024", "train", _aime24),
    "aime25": HubSource("MathArena/aime_2025", "train", _matharena("aime25", 2025)),
    "hmmt_feb_2025": HubSource("MathArena/hmmt_feb_2025", "train",
                               _matharena("hmmt_feb_2025", 2025)),
    "amc23": HubSource("math-ai/amc23", "test", _amc23),
    "math500": HubSource("HuggingFaceH4/MATH-500", "test", _math500),
    "olympiadbench": HubSource("Hothan/OlympiadBench", "train", _olympiadbench,
                               config="OE_TO_maths_en_COMP"),
}


def map_rows(benchmark: str, rows: Iterable[Mapping[str, Any]]) -> list[Task]:
    """Map hub rows (a `datasets.Dataset` or dicts) of `benchmark` to tasks."""
    name = canonical_name(benchmark)
    source = _source(name)
    tasks = []
    for index, row in enumerate(rows):
        fields = source.mapper(row, index)
        tasks.append(Task(
            id=fields.pop("id"), problem=str(fields.pop("problem")), answer=fields.pop("answer"),
            benchmark=name, solution=fields.pop("solution", None),
            meta={"source": f"hf:{source.hub_id}", **fields},
        ))
    return tasks


def taskset_from_rows(benchmark: str, rows: Iterable[Mapping[str, Any]],
                      *, source: str | None = None) -> ListTaskSet:
    """A `ListTaskSet` of mapped rows; its content hash is computed from the tasks."""
    name = canonical_name(benchmark)
    return ListTaskSet(name, map_rows(name, rows), source=source or f"hf:{_source(name).hub_id}")


def load_hub(benchmark: str, split: str | None = None, **load_kwargs: Any) -> ListTaskSet:
    """Download `benchmark` with `datasets.load_dataset` and map it to tasks.

    Args:
        benchmark: a benchmark name or alias.
        split: the hub split; defaults to the table's.
        load_kwargs: passed on to `datasets.load_dataset` (e.g. `revision`, `cache_dir`).
    """
    name = canonical_name(benchmark)
    source = _source(name)
    try:
        import datasets
    except ImportError:
        raise MissingDependencyError(
            "loading benchmarks from the Hugging Face Hub needs the `datasets` package: "
            "pip install 'deeptool-gym[hub]'"
        ) from None
    chosen = split or source.split
    rows = datasets.load_dataset(source.hub_id, source.config, split=chosen, **load_kwargs)
    taskset = taskset_from_rows(name, rows, source=f"hf:{source.hub_id}:{chosen}")
    expected = expected_count(name)
    if expected is not None and len(taskset) != expected:
        warnings.warn(f"hf:{source.hub_id} ({chosen}) has {len(taskset)} rows, expected "
                      f"{expected}", TaskCountWarning, stacklevel=2)
    return taskset


def _source(name: str) -> HubSource:
    try:
        return HUB_SOURCES[name]
    except KeyError:
        raise UnknownTaskSourceError(f"no hub source for {name!r}; hub benchmarks: "
                         f"{', '.join(HUB_SOURCES)}") from None
