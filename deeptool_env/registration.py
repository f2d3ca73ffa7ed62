"""Gymnasium ids: `DeepTool-Math-v0` (procedural by default) and one id per benchmark."""

from __future__ import annotations

import gymnasium as gym

from .tasks.names import BENCHMARKS, DISPLAY_NAMES

ENTRY_POINT = "deeptool_env.env:DeepToolMathEnv"

#: Gymnasium id -> benchmark name, one per benchmark (`DeepTool-AIME24-v0`, ...).
BENCHMARK_IDS: dict[str, str] = {
    f"DeepTool-{DISPLAY_NAMES[name].replace('-', '')}-v0": name for name in BENCHMARKS}


def register_envs() -> None:
    """Register every id (idempotent: re-importing does not warn)."""
    ids = {"DeepTool-Math-v0": {"tasks": "procedural"}}
    ids.update({env_id: {"tasks": name} for env_id, name in BENCHMARK_IDS.items()})
    for env_id, kwargs in ids.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=ENTRY_POINT, kwargs=kwargs,
                         disable_env_checker=False)
