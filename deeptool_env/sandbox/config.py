"""Typed sandbox configuration shared by every backend."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

BACKENDS = ("local", "docker", "subprocess")


@dataclass(frozen=True)
class SandboxConfig:
    """Limits and options of a sandbox; every backend honours the same fields.

    Attributes:
        backend: "local" (Linux namespaces + warm fork-server; the default), "docker"
            (a container per session) or "subprocess" (a plain `python -I` per session with
            rlimits only; weaker, for platforms without namespaces).
        timeout_s: default wall-clock limit of one `run`.
        memory_mb: address-space limit of the session's interpreter (RLIMIT_AS / container).
        max_output_chars: stdout and stderr are each cut to this many characters (head and
            tail kept) while the cell runs.
        max_processes: processes the session may have at once (RLIMIT_NPROC / pids limit).
        network: give the session a network. False (default) leaves only a down loopback.
        preload: modules imported once in the warm server so cells do not pay their import.
        max_file_mb: largest file a cell may write (RLIMIT_FSIZE), and the size of its tmpfs.
        max_open_files: RLIMIT_NOFILE of the session.
        cpu_s_per_session: CPU seconds a session may use over its whole life (RLIMIT_CPU);
            the per-call wall-clock timeout is the main limit, this is a backstop.
        hard_output_factor: a cell printing more than `hard_output_factor * max_output_chars`
            characters is stopped (status `output_limit`) instead of being drained forever.
        python: interpreter for the sandbox; default the running one.
        docker_image: image used by the docker backend (build it with
            `deeptool-sandbox build-image`).
    """

    backend: str = "local"
    timeout_s: float = 10.0
    memory_mb: int = 1024
    max_output_chars: int = 8192
    max_processes: int = 32
    network: bool = False
    preload: tuple[str, ...] = ("math", "numpy", "sympy")
    max_file_mb: int = 64
    max_open_files: int = 256
    cpu_s_per_session: int = 600
    hard_output_factor: int = 128
    python: str | None = None
    docker_image: str = "deeptool-sandbox:latest"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(
                f"unknown sandbox backend {self.backend!r}; choose one of {BACKENDS}"
            )
        for name in ("timeout_s", "memory_mb", "max_output_chars", "max_processes",
                     "max_file_mb", "max_open_files", "cpu_s_per_session",
                     "hard_output_factor"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"SandboxConfig.{name} must be a positive number, got {value!r}")
        if isinstance(self.preload, str):
            object.__setattr__(self, "preload", (self.preload,))
        object.__setattr__(self, "preload", tuple(self.preload))

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> SandboxConfig:
        """Build a config, naming the unknown option (and the valid ones) in the error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(
                f"unknown sandbox option(s) {unknown}; valid options are {sorted(known)}"
            )
        return cls(**kwargs)

    def with_overrides(self, **kwargs: Any) -> SandboxConfig:
        """A copy with some fields changed (validated like the constructor)."""
        return replace(self, **kwargs)
