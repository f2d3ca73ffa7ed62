"""Typed sandbox configuration shared by every backend."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..settings import POSITIVE, Settings, SettingsError, setting

BACKENDS = ("local", "docker", "subprocess")
CGROUP_MODES = ("auto", "required", "off")


@dataclass(frozen=True)
class SandboxConfig(Settings):
    """Limits and options of a sandbox; every backend honours the same fields."""

    settings_label = "sandbox option"

    backend: str = setting(
        "local", "`local` (Linux namespaces + warm fork-server; the default), `docker` (a "
        "container per session) or `subprocess` (a plain `python -I` per session with "
        "rlimits only; weaker, for platforms without namespaces)")
    timeout_s: float = setting(10.0, "default wall-clock limit of one `run`", rule=POSITIVE)
    memory_mb: int = setting(
        1024, "memory of the session. `local` and `subprocess` (with cgroups): every process "
        "of the session together, tmpfs files, shared memory and memfds included (plus each "
        "process's address space is capped by RLIMIT_AS, so one large allocation is a "
        "MemoryError); `docker`: the container's memory limit", rule=POSITIVE)
    max_output_chars: int = setting(8192, "stdout and stderr are each cut to this many "
                                    "characters (head and tail kept) while the cell runs",
                                    rule=POSITIVE)
    max_processes: int = setting(32, "processes and threads the session may have at once "
                                 "(the cgroup's pids limit, and RLIMIT_NPROC of the "
                                 "session's own uid)", rule=POSITIVE)
    network: bool = setting(False, "give the session a network; False leaves only a down "
                            "loopback")
    preload: tuple[str, ...] = setting(("math", "numpy", "sympy"), "modules imported once in "
                                       "the warm server so cells do not pay their import")
    max_files: int = setting(16384, "files and directories the session may create in each "
                             "of its tmpfs mounts (/tmp, /dev/shm): `nr_inodes`, so kernel "
                             "memory cannot be pinned by millions of empty files (`local`)",
                             rule=POSITIVE)
    cpus: float = setting(1.0, "CPU cores the session may use at once (CFS quota of its "
                          "cgroup / container)", rule=POSITIVE)
    cgroups: str = setting(
        "auto", "per-session cgroups for `local` and `subprocess`: `auto` uses them when this "
        "machine allows (root, v1 or v2; `deeptool-sandbox check` says which) and warns once "
        "when not; `required` refuses to start without them; `off` never uses them (weaker: "
        "memory is then per process, nothing freezes sessions between cells)",
        choices=CGROUP_MODES)
    max_file_mb: int = setting(64, "largest file a cell may write (RLIMIT_FSIZE), and the "
                               "size of its tmpfs", rule=POSITIVE)
    max_open_files: int = setting(256, "RLIMIT_NOFILE of the session", rule=POSITIVE)
    cpu_s_per_session: int = setting(600, "CPU seconds a session may use over its whole life "
                                     "(RLIMIT_CPU); the per-call wall-clock timeout is the "
                                     "main limit, this is a backstop", rule=POSITIVE)
    hard_output_factor: int = setting(128, "a cell printing more than `hard_output_factor * "
                                      "max_output_chars` characters is stopped (status "
                                      "`output_limit`) instead of being drained forever",
                                      rule=POSITIVE)
    python: str | None = setting(None, "interpreter for the sandbox; default the running one")
    docker_image: str = setting("deeptool-sandbox:latest", "image used by the docker backend "
                                "(build it with `deeptool-sandbox build-image`)")

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise SettingsError(f"unknown sandbox backend {self.backend!r}; choose one of "
                                f"{BACKENDS}")
        super().__post_init__()

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> SandboxConfig:
        """Build a config, naming the unknown option (and the valid ones) in the error."""
        return cls.from_dict(kwargs)

    def with_overrides(self, **kwargs: Any) -> SandboxConfig:
        """A copy with some fields changed (validated like the constructor)."""
        return replace(self, **kwargs)
