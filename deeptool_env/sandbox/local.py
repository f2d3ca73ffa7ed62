"""The `local` backend: a warm fork-server plus Linux namespaces (see `forkserver.py`),
per-session cgroups (`cgroups.py`), a seccomp filter (`seccomp_filter.py`) and uids leased
from a host-owned pool (`uidpool.py`).

Local sandboxes still open when the interpreter exits are closed by `atexit`, while the
interpreter still works: their warm spares, sessions, cgroups and fork-server go with it.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from . import cgroups
from .base import Sandbox, SandboxClosedError, Session
from .channel import ChannelSession, WorkerStartError
from .config import SandboxConfig
from .keeper import Keeper
from .local_interpreter import START_TIMEOUT_S, Interpreter, start_interpreter
from .result import ExecResult
from .seccomp_filter import compile_filter
from .spare_pool import SparePool

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


def local_backend_available() -> tuple[bool, str]:
    """Whether this machine can run the local backend, and why not."""
    if not sys.platform.startswith("linux"):
        return False, "the local backend needs Linux namespaces; use backend='docker'"
    if os.geteuid() != 0:
        return False, ("the local backend needs root to create namespaces and per-session "
                       "uids; run as root, or use backend='docker' (or 'subprocess', weaker)")
    return True, ""


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
            "max_files": config.max_files, "seccomp": compile_filter().hex(),
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

    def spawn(self, uid: int, cgroup: cgroups.SessionCgroup | None
              ) -> tuple[socket.socket, int, int, socket.socket]:
        """Start one isolated session: its control socket, stdout and stderr read ends, and
        the socket of its keeper (which the session never holds)."""
        host_ctrl, worker_ctrl = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        host_keeper, keeper_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        request = {"op": "spawn", "uid": uid,
                   "cgroup_procs": cgroup.procs_files if cgroup is not None else [],
                   "thaw": cgroup.thaw_command if cgroup is not None else None}
        try:
            with self._lock:
                if self.process.poll() is not None:
                    raise SandboxClosedError("the sandbox's fork-server is not running")
                socket.send_fds(self._sock, [json.dumps(request).encode()],
                                [worker_ctrl.fileno(), out_w, err_w, keeper_end.fileno()])
                reply = self._receive(START_TIMEOUT_S)
            if reply.get("op") != "spawned":
                raise WorkerStartError(reply.get("message", "fork-server refused the session"))
        except BaseException:
            for fd in (out_r, err_r):
                os.close(fd)
            host_ctrl.close()
            host_keeper.close()
            raise
        finally:
            worker_ctrl.close()
            keeper_end.close()
            os.close(out_w)
            os.close(err_w)
        return host_ctrl, out_r, err_r, host_keeper

    def close(self) -> None:
        """Stop the server (sessions are closed first by `Sandbox.close`; a keeper also ends
        its session when the host's end of its socket closes)."""
        self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._sock.close()
        self._log.close()


class LocalSession(ChannelSession):
    """One isolated interpreter forked from the sandbox's warm server, in its own cgroups
    (when available), frozen between cells."""

    def __init__(self, sandbox: LocalSandbox) -> None:
        super().__init__(sandbox.config)
        self._sandbox = sandbox
        self._interpreter: Interpreter | None = None

    @property
    def uid(self) -> int | None:
        """The unprivileged uid the running interpreter has (leased from the pool)."""
        return None if self._interpreter is None else self._interpreter.lease.uid

    @property
    def _cgroup(self) -> cgroups.SessionCgroup | None:
        return None if self._interpreter is None else self._interpreter.group

    @property
    def _keeper(self) -> Keeper | None:
        return None if self._interpreter is None else self._interpreter.keeper

    def _start(self) -> None:
        self._interpreter = self._sandbox.take_interpreter()
        self._channel = self._interpreter.channel

    def _execute(self, code: str, timeout_s: float) -> ExecResult:
        group = self._cgroup
        result = super()._execute(code, timeout_s)
        if group is None or self.closed:
            return result
        if result.status == "killed" and group.oom_kills():
            return replace(result, stderr=result.stderr + (
                f"[sandbox] the session ran out of memory ({self.config.memory_mb} MB for "
                "all its processes, files and shared memory).\n"))
        if not result.state_lost and group.cpu_seconds() > self.config.cpu_s_per_session:
            self._channel.kill()
            return replace(result, status="timeout", exit_code=None, stderr=result.stderr + (
                "[sandbox] the session used up its CPU-time budget of "
                f"{self.config.cpu_s_per_session} s (all its processes together); the "
                "interpreter was stopped.\n"))
        return result

    def _stop(self) -> None:
        super()._stop()  # SIGKILLs the session (cgroup members, keeper), closes the channel
        interpreter, self._interpreter = self._interpreter, None
        if interpreter is not None:
            self._sandbox.reap(interpreter)


# Open local sandboxes of this process, closed at exit (see `_close_at_exit`).
_open: weakref.WeakSet[LocalSandbox] = weakref.WeakSet()
_open_lock = threading.Lock()


def _close_at_exit() -> None:
    """Close this process's open local sandboxes (a forked child's copies of its parent's
    are left alone). By now `threading` has joined the spare-starting threads, so every
    spare is started, and discarding it still works; during teardown it would not."""
    with _open_lock:
        boxes = [box for box in _open if box.owner_pid == os.getpid()]
    for box in boxes:
        box.close()


atexit.register(_close_at_exit)


class LocalSandbox(Sandbox):
    """Sessions forked from one warm, preloaded server; see the module docstring.

    `warm` is how many started interpreters are kept ready (0: start each on demand), so a
    new session (or the restart after a timeout) does not wait for fork, namespaces and
    cgroups; they are started in a background thread and frozen while they wait.
    """

    def __init__(self, config: SandboxConfig, warm: int = 1) -> None:
        super().__init__(config)
        self.owner_pid = os.getpid()
        self.cgroups = cgroups.support_for(config.cgroups)
        self._server = ForkServer(config)
        self._reaper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-reaper")
        self._spares = SparePool(self._start_interpreter, alive=Interpreter.alive,
                                 discard=self._discard, closed=lambda: self._closed, warm=warm,
                                 start_timeout_s=START_TIMEOUT_S, thread_name="sandbox-warm")
        with _open_lock:
            _open.add(self)
        self._spares.refill()

    def _start_interpreter(self) -> Interpreter:
        return start_interpreter(self._server, self.config, self.cgroups)

    def keep_warm(self, count: int) -> None:
        self._spares.keep(count)

    def take_interpreter(self) -> Interpreter:
        """A started interpreter: a live spare when there is one, else a new one."""
        interpreter = self._spares.take()
        if interpreter is not None:
            return interpreter
        if self._closed:
            raise SandboxClosedError("this sandbox is closed; create a new one")
        return self._start_interpreter()

    def _discard(self, interpreter: Interpreter) -> None:
        interpreter.kill()
        interpreter.channel.close()
        self.reap(interpreter)

    def reap(self, interpreter: Interpreter) -> None:
        """Finish a killed interpreter's clean-up in the background (`close()` waits)."""
        try:
            self._reaper.submit(interpreter.finish)
        except RuntimeError:  # after shutdown (e.g. a session closed by the collector)
            interpreter.finish()

    def _new_session(self) -> Session:
        return LocalSession(self)

    def _shutdown(self) -> None:
        with _open_lock:
            _open.discard(self)
        self._spares.close()
        self._reaper.shutdown(wait=True)
        self._server.close()
