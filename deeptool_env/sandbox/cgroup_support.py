"""What per-session cgroups this machine offers: the version (v2, v1 or none, and why) and
the parent directories the session groups are made in (`cgroups.py` makes them).

The host (root) creates one group per session below its own group, in every hierarchy it
needs: cgroup v2 (one unified tree) or v1 (one tree per controller: memory, pids, cpu,
cpuacct, freezer), detected at start. Where groups cannot be created, `detect()` says why
and the backend falls back explicitly (see `SandboxConfig.cgroups`).
"""

from __future__ import annotations

import os
import signal
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct", "freezer")
V2_CONTROLLERS = ("memory", "pids", "cpu")
GROUP_PREFIX = "deeptool-sandbox"


def write(path: Path, value: str) -> None:
    """Write `value` to the cgroup file `path` (raises OSError)."""
    with open(path, "w") as handle:
        handle.write(value)


def try_write(path: Path, value: str) -> None:
    """`write`, ignoring a group that is gone or busy."""
    try:
        write(path, value)
    except OSError:
        pass


@dataclass(frozen=True)
class CgroupSupport:
    """What this machine offers: `version` is "v2", "v1" or None (then `reason` says why)."""

    version: str | None
    parents: dict[str, Path] = field(default_factory=dict)  # controller (or "unified") -> dir
    reason: str = ""

    def describe(self) -> str:
        """One line for `deeptool-sandbox check`."""
        if self.version is None:
            return f"per-session cgroups unavailable: {self.reason}"
        where = ", ".join(f"{name}={path}" for name, path in sorted(self.parents.items()))
        return f"per-session cgroups {self.version} ({where})"


def _own_group(controller: str) -> str:
    """This process's group in the v1 hierarchy of `controller` ("" for v2's unified tree)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _num, names, path = line.split(":", 2)
        if controller in names.split(","):
            return path
    raise OSError(f"no {controller or 'unified'} entry in /proc/self/cgroup")


def _writable_parent(base: Path) -> Path:
    """`base/<GROUP_PREFIX>`, created if needed; raises OSError when that is impossible."""
    parent = base / GROUP_PREFIX
    parent.mkdir(exist_ok=True)
    probe = parent / f"probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    probe.rmdir()
    _remove_stale(parent)
    return parent


def _remove_stale(parent: Path) -> None:
    """Delete the groups a dead host left behind (named `<host pid>-...`), killing what is
    still in them: sessions of a host that is gone serve no one. Best effort: a group that
    vanishes or stays busy meanwhile is left to the next detection."""
    for group in parent.iterdir():
        owner = group.name.split("-", 1)[0]
        if not owner.isdigit() or os.path.exists(f"/proc/{owner}"):
            continue
        try:
            for pid in (group / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
            for state, thawed in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
                if (group / state).exists():
                    try_write(group / state, thawed)
            group.rmdir()
        except OSError:
            continue


def detect() -> CgroupSupport:
    """Find the cgroup version and a parent directory for session groups per controller."""
    if os.geteuid() != 0:
        return CgroupSupport(None, reason="creating cgroups needs root")
    try:
        if (ROOT / "cgroup.controllers").exists():
            base = ROOT / _own_group("").lstrip("/")
            parent = _writable_parent(base)
            wanted = " ".join(f"+{name}" for name in V2_CONTROLLERS)
            (parent / "cgroup.subtree_control").write_text(wanted)
            return CgroupSupport("v2", {"unified": parent})
        parents = {}
        for name in V1_CONTROLLERS:
            if not (ROOT / name).is_dir():
                raise OSError(f"the v1 {name} hierarchy is not mounted at {ROOT / name}")
            parents[name] = _writable_parent(ROOT / name / _own_group(name).lstrip("/"))
        return CgroupSupport("v1", parents)
    except OSError as exc:
        return CgroupSupport(None, reason=str(exc))


_warned = threading.Event()


def support_for(mode: str) -> CgroupSupport:
    """Detect cgroups for a sandbox whose `SandboxConfig.cgroups` is `mode`: refuse
    ("required") or warn once ("auto") when they are missing; "off" skips them."""
    if mode == "off":
        return CgroupSupport(None, reason="cgroups='off'")
    support = detect()
    if support.version is None:
        if mode == "required":
            raise RuntimeError("the sandbox needs per-session cgroups (cgroups='required'), "
                               f"but {support.reason}")
        if not _warned.is_set():
            _warned.set()
            warnings.warn(
                f"sandbox: no per-session cgroups ({support.reason}); memory is limited per "
                "process only and sessions are not frozen between cells. Pass "
                "cgroups='required' to refuse, or cgroups='off' to silence this.",
                RuntimeWarning, stacklevel=4)
    return support
