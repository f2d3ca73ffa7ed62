"""Per-step overhead of `deeptool-env serve` over in-process `env.step`, one trivial code
turn, measured back to back in one run (the same machine load for both).

Run with `python -m pytest tests/benchmarks/test_openenv_speed.py --benchmark-only -s`.
OpenEnv's own coding env publishes about 0.10 s per step; the aim is an overhead (server
step minus in-process step: WebSocket round trip, pydantic, the session's thread) at least
10x below that, i.e. under 10 ms.
"""

from __future__ import annotations

import statistics
import time

import gymnasium as gym
import pytest

import deeptool_env  # noqa: F401  (registers the ids)
from deeptool_env.serving import DeepToolAction, DeepToolEnvClient
from tests.openenv_server import running_server

TURN = "<code>\n1\n</code>"
OPTIONS = {"max_turns": 100000, "max_episode_tokens": 10**9}
STEPS_PER_ROUND = 20
ROUNDS = 15


def _per_step_s(step) -> float:
    start = time.perf_counter()
    for _ in range(STEPS_PER_ROUND):
        step()
    return (time.perf_counter() - start) / STEPS_PER_ROUND


@pytest.mark.benchmark(group="openenv server step vs in-process step (trivial code turn)")
def test_openenv_step_overhead(benchmark):
    args = [arg for key, value in OPTIONS.items() for arg in ("--option", f"{key}={value}")]
    local = gym.make("DeepTool-Math-v0", **OPTIONS)
    local.reset(seed=0)
    with running_server(*args) as server, \
            DeepToolEnvClient(base_url=server.url, message_timeout_s=120).sync() as remote:
        remote.reset(seed=0)
        action = DeepToolAction(content=TURN)
        local_times, remote_times = [], []
        for _ in range(ROUNDS):  # interleaved, so load changes hit both alike
            local_times.append(_per_step_s(lambda: local.step(TURN)))
            remote_times.append(_per_step_s(lambda: remote.step(action)))
        benchmark.pedantic(remote.step, args=(action,), rounds=50, iterations=1)
    local.close()
    local_ms = statistics.median(local_times) * 1000
    remote_ms = statistics.median(remote_times) * 1000
    overhead_ms = remote_ms - local_ms
    benchmark.extra_info.update(in_process_ms=local_ms, server_ms=remote_ms,
                                overhead_ms=overhead_ms)
    print(f"\nin-process env.step {local_ms:.2f} ms, server step {remote_ms:.2f} ms, "
          f"overhead {overhead_ms:.2f} ms per step (median of {ROUNDS} rounds of "
          f"{STEPS_PER_ROUND}); OpenEnv's coding env: ~100 ms per step")
