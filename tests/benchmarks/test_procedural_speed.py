"""Generating one procedural task, per family: the target is a median under 5 ms, so a task
set of thousands is cheap to draw from.

Run with `python -m pytest tests/benchmarks/test_procedural_speed.py --benchmark-only`
(moved here from a timed assert in tests/test_procedural.py, which failed on a loaded
machine).
"""

from __future__ import annotations

import itertools

import pytest

from deeptool_env.tasks.procedural import FAMILIES
from deeptool_env.tasks.procedural.taskset import generate

TARGET_S = 0.005


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.benchmark(group="procedural: one task")
def test_generate_one_task(benchmark, family):
    generate(family, 0, 0)  # the cached tables are built once, not per task
    indices = itertools.count()
    benchmark.pedantic(lambda: generate(family, 1, next(indices)), rounds=30, iterations=1)
    assert benchmark.stats.stats.median < TARGET_S, f"{family}: median above {TARGET_S} s"
