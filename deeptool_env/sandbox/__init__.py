"""Sandboxed, stateful Python execution for the model's code (see `create`)."""

from __future__ import annotations

from typing import Any

from .base import Sandbox, SandboxClosedError, Session
from .config import BACKENDS, SandboxConfig
from .result import STATUSES, ExecResult

__all__ = [
    "BACKENDS",
    "STATUSES",
    "ExecResult",
    "Sandbox",
    "SandboxClosedError",
    "SandboxConfig",
    "Session",
    "create",
]


def create(
    backend: str = "local",
    *,
    timeout_s: float = 10.0,
    memory_mb: int = 1024,
    max_output_chars: int = 8192,
    max_processes: int = 32,
    network: bool = False,
    preload: tuple[str, ...] = ("math", "numpy", "sympy"),
    **options: Any,
) -> Sandbox:
    """Start a sandbox. `backend` is "local" (default), "docker" or "subprocess".

    Extra `options` are the other fields of `SandboxConfig` (e.g. `max_file_mb`). You may
    also pass `config=SandboxConfig(...)` instead of the keywords.
    """
    config = options.pop("config", None)
    if config is None:
        config = SandboxConfig.from_kwargs(
            backend=backend, timeout_s=timeout_s, memory_mb=memory_mb,
            max_output_chars=max_output_chars, max_processes=max_processes,
            network=network, preload=tuple(preload), **options,
        )
    elif options:
        raise TypeError("pass either config=... or keyword options, not both")
    return from_config(config)


def from_config(config: SandboxConfig) -> Sandbox:
    """Start the sandbox that `config.backend` names (backends are imported lazily)."""
    if config.backend == "local":
        from .local import LocalSandbox

        return LocalSandbox(config)
    if config.backend == "subprocess":
        from .subprocess_backend import SubprocessSandbox

        return SubprocessSandbox(config)
    from .docker_backend import DockerSandbox

    return DockerSandbox(config)
