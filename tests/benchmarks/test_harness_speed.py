"""Harness overhead: everything but the agent's own generation, with an instant agent.

Run with `python -m pytest tests/benchmarks/test_harness_speed.py --benchmark-only`.
Each round evaluates 100 episodes (50 nth-prime problems x 2 samples; 2 turns each: one
tool call, one answer), so per-episode overhead = time / 100 and episodes/s = 100 / time.
"""

from __future__ import annotations

import itertools

import pytest

from benchmarks import evaluate

from ..harness_agents import InstantSolver

_round = itertools.count()


@pytest.mark.parametrize("concurrency", [1, 8])
@pytest.mark.benchmark(group="harness: 100 episodes, instant agent")
def test_harness_overhead(benchmark, tmp_path, concurrency):
    def run() -> int:
        out = tmp_path / f"round-{next(_round)}"
        result = evaluate(InstantSolver(), out=str(out), benchmarks=("procedural:nth_prime",),
                          limit=50, k=2, max_turns=3, concurrency=concurrency, progress=False)
        return len(result.records)

    assert benchmark.pedantic(run, rounds=3, warmup_rounds=1) == 100
