"""The `subprocess` backend: one plain `python -I` worker per session, rlimits, and (as
root on Linux) its own cgroups and IPC namespace.

For platforms without Linux namespaces (macOS, containers that forbid `unshare`). It keeps
the same stateful semantics and result schema, but the code runs as the calling user with
the host's file system and network visible. With cgroups (root, Linux) every process of
the session is counted, frozen between cells and killed together, daemons included, and
its SysV shared memory dies with its own IPC namespace; without them, a `setsid` daemon
escapes the process-group kill and, as root, a fork bomb is not contained. Choose it
explicitly; it warns.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import warnings

from . import cgroups, isolation
from .base import Sandbox, Session
from .channel import ChannelSession, WorkerChannel
from .config import SandboxConfig
from .idle_freeze import IdleFreezer
from .local import SANDBOX_ENV, START_TIMEOUT_S

WORKER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")

WEAKER_WARNING = (
    "the 'subprocess' sandbox backend does not isolate files or network: the model's code "
    "can read the host's files and use the network (and, without cgroups, a daemon or, as "
    "root, a fork bomb escapes). Use backend='local' (Linux) or 'docker' for untrusted code."
)
# The fresh interpreter's own pages (numpy, sympy imported) count against its cgroup.
INTERPRETER_HEADROOM_MB = 256


def _prepare_child(config: SandboxConfig, procs_files: list[str]) -> None:
    """Runs in the child before exec: its cgroups and IPC namespace, then its rlimits."""
    for path in procs_files:
        with open(path, "w") as handle:
            handle.write("0")
    if procs_files:  # root: SysV segments die with the session's own IPC namespace
        isolation.unshare(isolation.CLONE_NEWIPC)
        isolation.limit_ipc(config.memory_mb * 2**20)
    mb = 2**20
    for limit, value in ((resource.RLIMIT_AS, (config.memory_mb + 512) * mb),
                         (resource.RLIMIT_CPU, config.cpu_s_per_session),
                         (resource.RLIMIT_NPROC, config.max_processes),
                         (resource.RLIMIT_FSIZE, config.max_file_mb * mb),
                         (resource.RLIMIT_NOFILE, config.max_open_files),
                         (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(limit, (value, value))


class SubprocessSession(ChannelSession):
    """A `python -I worker.py` process in its own process group and temporary work dir."""

    def __init__(self, config: SandboxConfig, support: cgroups.CgroupSupport) -> None:
        super().__init__(config)
        self._support = support
        self._process: subprocess.Popen | None = None
        self._workdir: str | None = None
        self._cgroup: cgroups.SessionCgroup | None = None
        self._idle: IdleFreezer | None = None

    def _start(self) -> None:
        self._workdir = tempfile.mkdtemp(prefix="deeptool-session-")
        group = self._cgroup = cgroups.for_session(
            self._support, self.config.memory_mb + INTERPRETER_HEADROOM_MB,
            self.config.max_processes, self.config.cpus)
        procs_files = group.procs_files if group is not None else []
        host_ctrl, worker_ctrl = socket.socketpair()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        command = [self.config.python or sys.executable, "-I", WORKER_SCRIPT,
                   "--ctrl-fd", str(worker_ctrl.fileno()), "--chdir", self._workdir,
                   "--preload", ",".join(self.config.preload)]
        env = dict(SANDBOX_ENV, HOME=self._workdir, TMPDIR=self._workdir)
        try:
            self._process = subprocess.Popen(
                command, env=env, cwd=self._workdir, stdin=subprocess.DEVNULL, stdout=out_w,
                stderr=err_w, pass_fds=[worker_ctrl.fileno()], start_new_session=True,
                preexec_fn=lambda: _prepare_child(self.config, procs_files))
        finally:
            worker_ctrl.close()
            os.close(out_w)
            os.close(err_w)
        process = self._process
        idle = IdleFreezer(group.freeze, group.thaw) if group is not None else None
        self._idle = idle
        self._channel = WorkerChannel(
            host_ctrl, out_r, err_r, self.config, kill=lambda: _kill(group, idle, process),
            exit_status=lambda: _exit_status(process),
            pause=idle.pause if idle is not None else lambda: None,
            resume=idle.resume if idle is not None else lambda: None)
        self._channel.wait_ready(START_TIMEOUT_S)

    def _stop(self) -> None:
        if self._process is not None:
            _kill(self._cgroup, self._idle, self._process)
            self._process = None
        super()._stop()
        group, self._cgroup = self._cgroup, None
        if group is not None:
            group.remove()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def _kill(group: cgroups.SessionCgroup | None, idle: IdleFreezer | None,
          process: subprocess.Popen) -> None:
    """Every process of the session: its cgroup's members (daemons included), else its
    process group; then reap the worker."""
    if idle is not None:
        idle.stop()
    if group is not None:
        group.kill_all()
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _exit_status(process: subprocess.Popen) -> int | None:
    try:
        return process.wait(timeout=1)
    except subprocess.TimeoutExpired:
        return None


class SubprocessSandbox(Sandbox):
    """Sessions as plain subprocesses; see the module docstring for what it does not stop."""

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        warnings.warn(WEAKER_WARNING, RuntimeWarning, stacklevel=3)
        self.cgroups = cgroups.support_for(config.cgroups)

    def _new_session(self) -> Session:
        return SubprocessSession(self.config, self.cgroups)
