"""Env steps per second with perturbations and the process reward on vs off.

Run with `python -m pytest tests/benchmarks/test_env_speed.py --benchmark-only`. The
overhead of perturbations and reward terms should be small next to the sandbox call.
"""

from __future__ import annotations

import gymnasium as gym
import pytest

import deeptool_env  # noqa: F401  (registers the ids)

TURNS = [f"<think>step {i}</think><code>total = {i} * 98765 + 4321\nprint(total)</code>"
         for i in range(6)]


def _episode(env) -> int:
    env.reset(seed=0)
    for action in TURNS:
        env.step(action)
    return len(TURNS)


@pytest.mark.parametrize("perturbation, reward", [("none", "outcome"),
                                                  ("adversarial", "deeptool")])
@pytest.mark.benchmark(group="env steps (6 code turns per episode)")
def test_env_episode(benchmark, perturbation, reward):
    env = gym.make("DeepTool-Math-v0", max_turns=10, perturbation=perturbation, reward=reward)
    try:
        steps = benchmark(_episode, env)
        benchmark.extra_info["steps_per_episode"] = steps
    finally:
        env.close()
