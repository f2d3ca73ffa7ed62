"""Per-session control groups: memory, pids and CPU of every process of a session together,
a freezer so nothing runs between cells, and a kill that reaches every member.

The session's first process joins by writing `0` to the `cgroup.procs` files (opened before
it is chrooted; see `isolation.join_cgroups`); its children inherit the group and cannot
leave it (they are unprivileged). What the machine offers is detected in `cgroup_support.py`
(`CgroupSupport`, `detect` and `support_for` are importable from here too).
"""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import time
from pathlib import Path

from .cgroup_support import CgroupSupport, detect, support_for, try_write
from .cgroup_support import write as _write

__all__ = ["CgroupSupport", "SessionCgroup", "detect", "for_session", "support_for"]

CFS_PERIOD_US = 100_000


class SessionCgroup:
    """The groups of one session (one directory per hierarchy) and what the host does with
    them. Every method but `create` is safe to call in any state and never raises."""

    def __init__(self, support: CgroupSupport, name: str) -> None:
        assert support.version is not None
        self.version = support.version
        self.dirs = {ctl: parent / name for ctl, parent in support.parents.items()}
        self._cpuacct_fd: int | None = None  # read after every cell: kept open

    @classmethod
    def create(cls, support: CgroupSupport, name: str, *, memory_bytes: int, pids: int,
               cpus: float) -> SessionCgroup:
        """Make the session's groups with their limits (removes them again on failure)."""
        group = cls(support, name)
        try:
            for path in group.dirs.values():
                path.mkdir()
            quota = str(max(1000, int(cpus * CFS_PERIOD_US)))
            if group.version == "v2":
                path = group.dirs["unified"]
                _write(path / "memory.max", str(memory_bytes))
                if (path / "memory.swap.max").exists():
                    _write(path / "memory.swap.max", "0")
                _write(path / "pids.max", str(pids))
                _write(path / "cpu.max", f"{quota} {CFS_PERIOD_US}")
            else:
                memory = group.dirs["memory"]
                _write(memory / "memory.limit_in_bytes", str(memory_bytes))
                if (memory / "memory.memsw.limit_in_bytes").exists():
                    _write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))
                _write(group.dirs["pids"] / "pids.max", str(pids))
                _write(group.dirs["cpu"] / "cpu.cfs_period_us", str(CFS_PERIOD_US))
                _write(group.dirs["cpu"] / "cpu.cfs_quota_us", quota)
        except OSError:
            group.remove()
            raise
        return group

    @property
    def procs_files(self) -> list[str]:
        """The `cgroup.procs` files a new member writes `0` to (one per hierarchy)."""
        return [str(path / "cgroup.procs") for path in self.dirs.values()]

    @property
    def thaw_command(self) -> tuple[str, str]:
        """(file, value) that thaws the group: a killed member dies only once thawed, so
        whoever kills the session (the keeper, on the host's death) thaws it too."""
        path, _, thawed = self._freezer()
        return str(path), thawed

    def _freezer(self) -> tuple[Path, str, str]:
        if self.version == "v2":
            return self.dirs["unified"] / "cgroup.freeze", "1", "0"
        return self.dirs["freezer"] / "freezer.state", "FROZEN", "THAWED"

    def freeze(self) -> None:
        """Stop every member (asynchronous: the kernel completes it in the background)."""
        path, frozen, _ = self._freezer()
        try_write(path, frozen)

    def thaw(self) -> None:
        """Let every member run again."""
        path, _, thawed = self._freezer()
        try_write(path, thawed)

    def members(self) -> list[int]:
        """Pids of every process in the session (host PID namespace)."""
        path = self.dirs["unified" if self.version == "v2" else "freezer"] / "cgroup.procs"
        try:
            return [int(pid) for pid in path.read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_all(self, timeout_s: float = 5.0, wait: bool = True) -> bool:
        """SIGKILL every member, with the group frozen so none can fork meanwhile; then
        (unless `wait` is False) wait until the group is empty. True once it is."""
        kill_file = self.dirs.get("unified", Path("/nonexistent")) / "cgroup.kill"
        if kill_file.exists():
            try_write(kill_file, "1")
        else:
            self.freeze()
            for pid in self.members():  # frozen members cannot exit, so no pid is reused
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.thaw()  # killed tasks die once thawed
        if not wait:
            return not self.members()
        deadline = time.monotonic() + timeout_s
        while self.members():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def oom_kills(self) -> int:
        """How many times the kernel's OOM killer acted in the session's memory group."""
        path = (self.dirs["unified"] / "memory.events" if self.version == "v2"
                else self.dirs["memory"] / "memory.oom_control")
        try:
            for line in path.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def cpu_seconds(self) -> float:
        """CPU time used by every member together since the session started."""
        try:
            if self.version == "v2":
                for line in (self.dirs["unified"] / "cpu.stat").read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "usage_usec":
                        return int(value) / 1e6
                return 0.0
            if self._cpuacct_fd is None:
                self._cpuacct_fd = os.open(self.dirs["cpuacct"] / "cpuacct.usage", os.O_RDONLY)
            return int(os.pread(self._cpuacct_fd, 64, 0)) / 1e9
        except (OSError, ValueError, KeyError):
            return 0.0

    def remove(self) -> None:
        """Kill what is left and delete the groups."""
        if self._cpuacct_fd is not None:
            os.close(self._cpuacct_fd)
            self._cpuacct_fd = None
        if self.members():
            self.kill_all()
        for path in self.dirs.values():
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # still busy for a moment after the last member died
                    time.sleep(0.002)


_names = itertools.count()


def for_session(support: CgroupSupport, memory_mb: int, pids: int,
                cpus: float) -> SessionCgroup | None:
    """The groups of a new session (None when `support` has no cgroups)."""
    if support.version is None:
        return None
    name = f"{os.getpid()}-{next(_names)}-{secrets.token_hex(3)}"
    return SessionCgroup.create(support, name, memory_bytes=memory_mb * 2**20, pids=pids,
                                cpus=cpus)
