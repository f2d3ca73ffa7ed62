"""Grading throughput on the MATH-500 golds: our grader (cold, cached) vs math-verify direct.

Each run grades 1000 items: every gold against `\\boxed{gold}` and against a shuffled other
gold (mostly wrong, which sends many items to the worker pool). Run with
`pytest tests/benchmarks/test_grading_speed.py --benchmark-only`; items/s is in `extra_info`.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from math_verify import parse, verify

from deeptool_env.grading import clear_cache, grade_many, shutdown_pool
from deeptool_env.grading.shared import default_workers

ROUNDS = 3


def _math500() -> list[dict[str, Any]]:
    env = os.environ.get("DEEPTOOL_DATA_DIR")
    root = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    path = root / "benchmarks" / "math500" / "math500.jsonl"
    if not path.is_file():
        pytest.skip(f"MATH-500 not found at {path}; set DEEPTOOL_DATA_DIR")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def items() -> list[tuple[str, str, str, dict[str, Any]]]:
    rows = _math500()
    others = [r["answer"] for r in rows]
    random.Random(0).shuffle(others)
    right = [("\\boxed{" + r["answer"] + "}", r["answer"], "math500", r) for r in rows]
    wrong = [
        ("\\boxed{" + o + "}", r["answer"], "math500", r) for o, r in zip(others, rows, strict=True)
    ]
    return right + wrong


def _fresh_pool() -> None:
    """Empty cache, new workers, all started (start-up is not part of the timing)."""
    clear_cache()
    shutdown_pool()
    warm = [(f"\\boxed{{{i} + w}}", f"w + {i}", "warm-up") for i in range(4 * default_workers())]
    grade_many(warm)
    clear_cache()


def _record(benchmark: Any, n: int) -> None:
    benchmark.extra_info["items"] = n
    benchmark.extra_info["items_per_s"] = round(n / benchmark.stats.stats.mean, 1)
    benchmark.extra_info["workers"] = default_workers()


def test_speed_grader_cold(benchmark, items) -> None:
    def setup() -> tuple[tuple, dict]:
        _fresh_pool()
        return (), {}

    verdicts = benchmark.pedantic(lambda: grade_many(items), setup=setup, rounds=ROUNDS)
    assert sum(v.correct for v in verdicts[:500]) == 500
    _record(benchmark, len(items))


def test_speed_grader_cached(benchmark, items) -> None:
    _fresh_pool()
    grade_many(items)
    verdicts = benchmark.pedantic(lambda: grade_many(items), rounds=ROUNDS)
    assert all(v.cached for v in verdicts)
    _record(benchmark, len(items))


def test_speed_math_verify_direct(benchmark, items) -> None:
    """Plain math-verify (parse both, verify), in this process's main thread, no cache."""

    def run() -> list[bool]:
        return [verify(parse("\\boxed{" + gold + "}"), parse(resp)) for resp, gold, _, _ in items]

    results = benchmark.pedantic(run, rounds=ROUNDS)
    assert sum(results[:500]) == 500
    _record(benchmark, len(items))
