"""The `subprocess` backend: one plain `python -I` worker per session, rlimits only.

For platforms without Linux namespaces (macOS, containers that forbid `unshare`). It keeps
the same stateful semantics and result schema, but the code runs as the calling user with
the host's file system and network visible; as root, RLIMIT_NPROC does not bind, so a
fork bomb is not contained. Choose it explicitly; it warns.
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

from .base import Sandbox, Session
from .channel import ChannelSession, WorkerChannel
from .config import SandboxConfig
from .local import SANDBOX_ENV, START_TIMEOUT_S

WORKER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")

WEAKER_WARNING = (
    "the 'subprocess' sandbox backend only applies rlimits: the model's code can read the "
    "host's files and use the network, and as root a fork bomb is not contained. Use "
    "backend='local' (Linux) or 'docker' for untrusted code."
)


def _limits(config: SandboxConfig) -> None:
    """Runs in the child before exec: rlimits that apply to the whole worker."""
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

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self._process: subprocess.Popen | None = None
        self._workdir: str | None = None

    def _start(self) -> None:
        self._workdir = tempfile.mkdtemp(prefix="deeptool-session-")
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
                preexec_fn=lambda: _limits(self.config))
        finally:
            worker_ctrl.close()
            os.close(out_w)
            os.close(err_w)
        process = self._process
        self._channel = WorkerChannel(host_ctrl, out_r, err_r, self.config,
                                      kill=lambda: _kill_group(process),
                                      exit_status=lambda: _exit_status(process))
        self._channel.wait_ready(START_TIMEOUT_S)

    def _stop(self) -> None:
        if self._process is not None:
            _kill_group(self._process)
            self._process = None
        super()._stop()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def _kill_group(process: subprocess.Popen) -> None:
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

    def _new_session(self) -> Session:
        return SubprocessSession(self.config)
