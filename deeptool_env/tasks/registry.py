"""`load_tasks`: one entry point from a spec string to a `TaskSet`.

Specs:
    "aime24", "HMMT25", "math-500", ...   a benchmark (or train set) by name or alias, read
                                          from the data directory (`data_dir` or
                                          $DEEPTOOL_DATA_DIR)
    "path/to/file.jsonl" or a Path         a JSONL file in the benchmark record format
    "procedural"                           the seeded generator, all families (the default)
    "procedural:modpow+crt"                only the named families ("+" or "," separated)
    "hf:math500"                           the benchmark from the Hugging Face Hub
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UnknownTaskSourceError
from .hub import load_hub
from .jsonl import load_benchmark, read_jsonl
from .names import TRAIN_SETS, canonical_name, is_known_name, list_benchmarks
from .procedural import DEFAULT_SIZE, FAMILIES, ProceduralTaskSet
from .taskset import ListTaskSet, TaskSet

#: The spec used when an environment is given no task source.
DEFAULT_SPEC = "procedural"


def load_tasks(
    spec: str | os.PathLike[str] = DEFAULT_SPEC,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    split: str | None = None,
    limit: int | None = None,
    seed: int | None = None,
    difficulty: int | None = None,
    strict: bool = True,
) -> TaskSet:
    """Load the task set that `spec` names (see the module docstring for the forms).

    Args:
        spec: benchmark name/alias, JSONL path, "procedural[:families]" or "hf:<benchmark>".
        data_dir: folder holding `benchmarks/<name>/<name>.jsonl`; default $DEEPTOOL_DATA_DIR.
        split: hub split for "hf:" specs; for local benchmarks only "test" (or "train" for
            train sets) is accepted, as each file holds one split.
        limit: keep only the first `limit` tasks (for "procedural": the set's size).
        seed: base seed of a procedural set (default 0).
        difficulty: fix the procedural level to 1, 2 or 3 (default: drawn per task).
        strict: a benchmark whose count or content hash is not the pinned one is an error
            (`TaskIntegrityError`); with False it only warns.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit}")
    text = os.fspath(spec)
    kind = _kind(spec, text)
    if kind != "procedural" and (seed is not None or difficulty is not None):
        raise ValueError("seed and difficulty apply only to procedural task sets")
    if kind == "procedural":
        _no_split(split, text)
        families = [f.strip() for f in text.partition(":")[2].replace(",", "+").split("+")]
        return ProceduralTaskSet(
            seed=seed or 0, size=limit or DEFAULT_SIZE,
            families=[f for f in families if f] or None, difficulty=difficulty,
        )
    if kind == "hf":
        return _head(load_hub(text[3:], split=split), limit)
    if kind == "path":
        _no_split(split, text)
        return _head(read_jsonl(text), limit)
    name = canonical_name(text)
    allowed = "train" if name in TRAIN_SETS else "test"
    if split not in (None, allowed):
        raise ValueError(f"{name} is a single {allowed!r} split; got split={split!r}")
    return _head(load_benchmark(name, data_dir, strict=strict), limit)


def _kind(spec: str | os.PathLike[str], text: str) -> str:
    lowered = text.strip().lower()
    if isinstance(spec, os.PathLike):
        return "path"
    if lowered == "procedural" or lowered.startswith("procedural:"):
        return "procedural"
    if lowered.startswith("hf:"):
        return "hf"
    if lowered.endswith(".jsonl") or "/" in text or os.sep in text:
        return "path"
    if is_known_name(text):
        return "benchmark"
    if Path(text).is_file():
        return "path"
    raise UnknownTaskSourceError(
        f"unknown task source {text!r}: expected a benchmark ({', '.join(list_benchmarks())}),"
        f" a .jsonl path, 'procedural[:family+...]' (families: {', '.join(FAMILIES)}) or "
        f"'hf:<benchmark>'"
    )


def _no_split(split: str | None, spec: str) -> None:
    if split is not None:
        raise ValueError(f"split={split!r} does not apply to {spec!r}")


def _head(taskset: ListTaskSet, limit: int | None) -> ListTaskSet:
    return taskset if limit is None or limit >= len(taskset) else taskset.head(limit)
