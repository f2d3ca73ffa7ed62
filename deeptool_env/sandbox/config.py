"""Typed sandbox configuration shared by every backend."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

BACKENDS = ("local", "docker", "subprocess")
CGROUP_MODES = ("auto", "required", "off")


@dataclass(frozen=True)
class SandboxConfig:
    """Limits and options of a sandbox; every backend honours the same fields.

    Attributes:
        backend: "local" (Linux namespaces + warm fork-server; the default), "docker"
            (a container per session) or "subprocess" (a plain `python -I` per session with
            rlimits only; weaker, for platforms without namespaces).
        timeout_s: default wall-clock limit of one `run`.
        memory_mb: memory of the session. `local` and `subprocess` (with cgroups): every
            process of the session together, tmpfs files, shared memory and memfds included
            (plus each process's address space is capped by RLIMIT_AS, so one large
            allocation is a MemoryError); `docker`: the container's memory limit.
        max_output_chars: stdout and stderr are each cut to this many characters (head and
            tail kept) while the cell runs.
        max_processes: processes and threads the session may have at once (the cgroup's
            pids limit, and RLIMIT_NPROC of the session's own uid).
        max_files: files and directories the session may create in each of its tmpfs
            mounts (/tmp, /dev/shm): `nr_inodes`, so kernel memory cannot be pinned by
            millions of empty files (`local`).
        cpus: CPU cores the session may use at once (CFS quota of its cgroup / container).
        cgroups: per-session cgroups for `local` and `subprocess`: "auto" (default) uses them
            when this machine allows (root, v1 or v2; `deeptool-sandbox check` says which)
            and warns once when not; "required" refuses to start without them; "off" never
            uses them (weaker: memory is then per process, nothing freezes sessions between
            cells).
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
    max_files: int = 16384
    cpus: float = 1.0
    cgroups: str = "auto"
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
        if self.cgroups not in CGROUP_MODES:
            raise ValueError(f"SandboxConfig.cgroups must be one of {CGROUP_MODES}, "
                             f"got {self.cgroups!r}")
        for name in ("timeout_s", "cpus"):
            value = getattr(self, name)
            if (not isinstance(value, (int, float)) or isinstance(value, bool)
                    or not math.isfinite(value) or value <= 0):
                raise ValueError(f"SandboxConfig.{name} must be a positive finite number, "
                                 f"got {value!r}")
        for name in ("memory_mb", "max_output_chars", "max_processes", "max_files",
                     "max_file_mb", "max_open_files", "cpu_s_per_session",
                     "hard_output_factor"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"SandboxConfig.{name} must be a positive integer, "
                                 f"got {value!r}")
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
