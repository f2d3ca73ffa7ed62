"""Gymnasium ids: `DeepTool-Math-v0` (procedural by default) and one id per benchmark."""

from __future__ import annotations

import gymnasium as gym

ENTRY_POINT = "deeptool_env.env:DeepToolMathEnv"

BENCHMARK_IDS: dict[str, str] = {
    "DeepTool-AIME24-v0": "aime24",
    "DeepTool-AIME25-v0": "aime25",
    "DeepTool-HMMT25-v0": "hmmt_feb_2025",
    "DeepTool-AMC23-v0": "amc23",
    "DeepTool-MATH500-v0": "math500",
    "DeepTool-OlympiadBench-v0": "olympiadbench",
}


def register_envs() -> None:
    """Register every id (idempotent: re-importing does not warn)."""
    ids = {"DeepTool-Math-v0": {"tasks": "procedural"}}
    ids.update({env_id: {"tasks": name} for env_id, name in BENCHMARK_IDS.items()})
    for env_id, kwargs in ids.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=ENTRY_POINT, kwargs=kwargs,
                         disable_env_checker=False)
