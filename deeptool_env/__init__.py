"""DeepTool Gym: a Gymnasium environment for tool-integrated math reasoning.

`import deeptool_env` registers `DeepTool-Math-v0` and one id per benchmark
(`DeepTool-AIME24-v0`, ...); then `gym.make("DeepTool-Math-v0", **options)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .registration import BENCHMARK_IDS, register_envs

__version__ = "0.1.0"
__all__ = ["BENCHMARK_IDS", "DeepToolMathEnv", "EnvConfig", "__version__"]

register_envs()

if TYPE_CHECKING:
    from .env import DeepToolMathEnv
    from .env_config import EnvConfig


def __getattr__(name: str):
    # The env module imports the task loaders; keep `import deeptool_env` light.
    if name == "DeepToolMathEnv":
        from .env import DeepToolMathEnv

        return DeepToolMathEnv
    if name == "EnvConfig":
        from .env_config import EnvConfig

        return EnvConfig
    raise AttributeError(f"module 'deeptool_env' has no attribute {name!r}")
