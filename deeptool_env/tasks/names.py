"""Canonical benchmark names, their expected sizes and the aliases users type for them."""

from __future__ import annotations

import re

from .errors import UnknownTaskSourceError

#: The six evaluation benchmarks and how many problems each has.
BENCHMARKS: dict[str, int] = {
    "aime24": 30,
    "aime25": 30,
    "hmmt_feb_2025": 30,
    "amc23": 40,
    "math500": 500,
    "olympiadbench": 675,
}

#: The name each benchmark has in the paper and on reports (and, without "-", in its
#: Gymnasium id: `DeepTool-AIME24-v0`, ..., `DeepTool-MATH500-v0`).
DISPLAY_NAMES: dict[str, str] = {
    "aime24": "AIME24",
    "aime25": "AIME25",
    "hmmt_feb_2025": "HMMT25",
    "amc23": "AMC23",
    "math500": "MATH-500",
    "olympiadbench": "OlympiadBench",
}

#: sha256 of each benchmark's normalized JSONL file (see shared data SOURCES.md): results
#: can only be compared when they were computed on exactly these files.
BENCHMARK_SHA256: dict[str, str] = {
    "aime24": "0e01209a7059238d89dc54f3fb88f54dbaf8defe2a72c0f1abf4f4cb43d21887",
    "aime25": "b050ba9716956fc2e8775464b2ab6d515bace00ee3699a2fe1bb11b06940c60f",
    "hmmt_feb_2025": "fd6edb79377191699402a07b28c8dc8687032659ac74f62973459c33538aba0e",
    "amc23": "e052b18a4f2990f81cc017a4e2b142f998006683f76850343e1a7f45f2a1070b",
    "math500": "25339493907b55160c78c632e056010735aa2da54ca2fb9a8ddd7902a50536fd",
    "olympiadbench": "e0a29affe8d92fac761faa4381fa2ef791c51c4bf6328602b8c0b6a0702967b9",
}

#: Training sets shipped in the same record format (under `<data_dir>/train/`).
TRAIN_SETS: dict[str, int] = {
    "math_train": 7470,
    "aime_1983_2023": 975,
}

# Keys are squashed (lower case, only letters and digits) so that "MATH-500", "math_500"
# and "Math500" all meet the same entry.
_ALIASES: dict[str, str] = {
    "aime24": "aime24",
    "aime2024": "aime24",
    "aime25": "aime25",
    "aime2025": "aime25",
    "hmmtfeb2025": "hmmt_feb_2025",
    "hmmt25": "hmmt_feb_2025",
    "hmmt2025": "hmmt_feb_2025",
    "hmmtfeb25": "hmmt_feb_2025",
    "hmmt": "hmmt_feb_2025",
    "amc23": "amc23",
    "amc2023": "amc23",
    "math500": "math500",
    "olympiadbench": "olympiadbench",
    "olympiad": "olympiadbench",
    "mathtrain": "math_train",
    "aime19832023": "aime_1983_2023",
}


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def canonical_name(name: str) -> str:
    """Return the canonical benchmark or train-set name for `name` (an alias, any case).

    Raises `UnknownTaskSourceError` listing the known names when `name` is not one.
    """
    found = _ALIASES.get(_squash(name))
    if found is None:
        known = ", ".join([*BENCHMARKS, *TRAIN_SETS])
        raise UnknownTaskSourceError(f"unknown benchmark {name!r}; known: {known}")
    return found


def is_known_name(name: str) -> bool:
    """True when `name` is a benchmark or train-set name or alias."""
    return _squash(name) in _ALIASES


def expected_count(name: str) -> int | None:
    """Expected number of records of a canonical name, None for anything else."""
    return BENCHMARKS.get(name, TRAIN_SETS.get(name))


def list_benchmarks(*, include_train: bool = False) -> list[str]:
    """Canonical names of the evaluation benchmarks (plus the train sets if asked)."""
    names = list(BENCHMARKS)
    if include_train:
        names.extend(TRAIN_SETS)
    return names
