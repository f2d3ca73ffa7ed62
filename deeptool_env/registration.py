"""Gymnasium ids: `DeepTool-Math-v0` (procedural by default) and one id per benchmark.

`gym.make` wraps every id in `FailedResetGuard` (outermost), so that a reset that raises
leaves the wrappers `gym.make` adds as they were (see its docstring).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import WrapperSpec

from .tasks.names import BENCHMARKS, DISPLAY_NAMES

ENTRY_POINT = "deeptool_env.env:DeepToolMathEnv"

#: Gymnasium id -> benchmark name, one per benchmark (`DeepTool-AIME24-v0`, ...).
BENCHMARK_IDS: dict[str, str] = {
    f"DeepTool-{DISPLAY_NAMES[name].replace('-', '')}-v0": name for name in BENCHMARKS}


class FailedResetGuard(gym.Wrapper[str, str, str, str], gym.utils.RecordConstructorArgs):
    """Restores the state of the wrappers below it (those of `gym.make`) when a reset
    raises, so the next reset and step behave as they would have without the failed one.

    Why: gymnasium's `PassiveEnvChecker` marks its reset check done before the reset runs;
    when that first reset raised (a bad `task_id`), it kept no reset data and the first step
    after a good reset died in the checker ("TypeError: cannot unpack non-iterable
    NoneType"). `OrderEnforcing` likewise counted the failed reset as a reset. The env
    itself changes nothing when a reset raises on its options (`DeepToolMathEnv.reset`).
    """

    def __init__(self, env: gym.Env[str, str]) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)

    def _wrappers_below(self) -> list[gym.Wrapper]:
        layers, layer = [], self.env
        while isinstance(layer, gym.Wrapper):
            layers.append(layer)
            layer = layer.env
        return layers

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        saved = [(layer, dict(vars(layer))) for layer in self._wrappers_below()]
        try:
            return self.env.reset(seed=seed, options=options)
        except BaseException:
            for layer, state in saved:
                vars(layer).clear()
                vars(layer).update(state)
            raise


GUARD_SPEC = WrapperSpec(name="FailedResetGuard",
                         entry_point="deeptool_env.registration:FailedResetGuard", kwargs={})


def register_envs() -> None:
    """Register every id (idempotent: re-importing does not warn)."""
    ids = {"DeepTool-Math-v0": {"tasks": "procedural"}}
    ids.update({env_id: {"tasks": name} for env_id, name in BENCHMARK_IDS.items()})
    for env_id, kwargs in ids.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=ENTRY_POINT, kwargs=kwargs,
                         disable_env_checker=False, additional_wrappers=(GUARD_SPEC,))
