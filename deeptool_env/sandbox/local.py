"""The `local` backend: a warm fork-server plus Linux namespaces (see `forkserver.py`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import warnings

from .base import Sandbox, SandboxClosedError, Session
from .channel import ChannelSession, WorkerChannel, WorkerStartError
from .config import SandboxConfig

SERVER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forkserver.py")

# The whole environment a sandboxed interpreter sees: nothing of the host's.
SANDBOX_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

START_TIMEOUT_S = 60.0


def local_backend_available() -> tuple[bool, str]:
    """Whether this machine can run the local backend, and why not."""
    if not sys.platform.startswith("linux"):
        return False, "the local backend needs Linux namespaces; use backend='docker'"
    if os.geteuid() != 0:
        return False, ("the local backend needs root to create namespaces and per-session "
                       "uids; run as root, or use backend='docker' (or 'subprocess', weaker)")
    return True, ""


def _kill(pid: int | None) -> None:
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class ForkServer:
    """Starts and talks to the fork-server process."""

    def __init__(self, config: SandboxConfig) -> None:
        ok, reason = local_backend_available()
        if not ok:
            raise RuntimeError(reason)
        self.config = config
        self._lock = threading.Lock()
        self._sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._log = tempfile.TemporaryFile()
        settings = {
            "preload": list(config.preload), "network": config.network,
            "memory_mb": config.memory_mb, "max_processes": config.max_processes,
            "max_file_mb": config.max_file_mb, "max_open_files": config.max_open_files,
            "cpu_s_per_session": config.cpu_s_per_session, "env": SANDBOX_ENV,
        }
        command = [config.python or sys.executable, "-I", SERVER_SCRIPT, str(child.fileno()),
                   json.dumps(settings)]
        self.process = subprocess.Popen(command, env=SANDBOX_ENV, pass_fds=[child.fileno()],
                                        stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=self._log, cwd="/")
        child.close()
        hello = self._receive(START_TIMEOUT_S)
        if hello.get("preload_errors"):
            warnings.warn(f"sandbox preload failed: {hello['preload_errors']}", stacklevel=3)

    def _receive(self, timeout_s: float) -> dict:
        self._sock.settimeout(timeout_s)
        try:
            data = self._sock.recv(1 << 16)
        except (TimeoutError, OSError) as exc:
            raise WorkerStartError(f"fork-server did not answer: {exc}{self._tail()}") from None
        if not data:
            raise WorkerStartError(f"fork-server exited{self._tail()}")
        return json.loads(data)

    def _tail(self) -> str:
        self._log.seek(0)
        text = self._log.read()[-2000:].decode("utf-8", "replace").strip()
        return f"; its log ends with:\n{text}" if text else ""

    def spawn(self) -> tuple[WorkerChannel, int]:
        """Start one isolated session; returns its channel and its keeper's pid."""
        host_ctrl, worker_ctrl = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            with self._lock:
                if self.process.poll() is not None:
                    raise SandboxClosedError("the sandbox's fork-server is not running")
                socket.send_fds(self._sock, [b'{"op": "spawn"}'],
                                [worker_ctrl.fileno(), out_w, err_w])
                reply = self._receive(START_TIMEOUT_S)
        except BaseException:
            for fd in (out_r, err_r):
                os.close(fd)
            host_ctrl.close()
            raise
        finally:
            worker_ctrl.close()
            os.close(out_w)
            os.close(err_w)
        if reply.get("op") != "spawned":
            raise WorkerStartError(reply.get("message", "fork-server refused the session"))
        keeper = int(reply["pid"])
        channel = WorkerChannel(host_ctrl, out_r, err_r, self.config,
                                kill=lambda: (_kill(channel.session_pid), _kill(keeper)))
        return channel, keeper

    def close(self) -> None:
        """Stop the server; its sessions die with it (parent-death signals)."""
        _kill(self.process.pid)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._sock.close()
        self._log.close()


class LocalSession(ChannelSession):
    """One isolated interpreter forked from the sandbox's warm server."""

    def __init__(self, sandbox: LocalSandbox) -> None:
        super().__init__(sandbox.config)
        self._sandbox = sandbox

    def _start(self) -> None:
        channel, _keeper = self._sandbox._server.spawn()
        self._channel = channel
        try:
            channel.wait_ready(START_TIMEOUT_S)
        except BaseException:
            self._stop()
            raise


class LocalSandbox(Sandbox):
    """Sessions forked from one warm, preloaded server; see the module docstring."""

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self._server = ForkServer(config)

    def _new_session(self) -> Session:
        return LocalSession(self)

    def _shutdown(self) -> None:
        self._server.close()
