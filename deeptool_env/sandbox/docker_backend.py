"""Docker backend: every session is a locked-down container running the stateful worker.

Transport: the host makes a private directory with three listening Unix sockets (`ctrl`,
`stdout`, `stderr`), copies of `worker.py`, `seccomp_filter.py` and `docker/launcher.py` and
the seccomp program, bind-mounts it read-only into the container and starts the launcher
there. The launcher connects back,
puts the output sockets on fds 1 and 2 and runs the worker, so the host wraps the accepted
sockets in the same `WorkerChannel` as the local backend: same protocol, output caps,
timeouts and result schema. No network and no `docker attach` stream are involved.

Killing a session removes its container (`docker rm -f`), which takes every process in it.
Each container runs as a uid leased from `uidpool` (shared with the local backend), given
back only once the container is gone, so no two live sessions share RLIMIT_NPROC. Between
cells the container is frozen through its cgroup freezer (written directly: `docker pause`
costs an API round trip per cell), so no thread or timer of a cell runs between cells;
where the host cannot write the container's cgroup (not root) it is not frozen.
One started container is kept in reserve per sandbox so that a new session (or the restart
after a timeout) does not wait for container start-up.
"""

from __future__ import annotations

import atexit
import functools
import os
import secrets
import select
import shutil
import socket
import tempfile
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Any

from .base import Sandbox, SandboxClosedError, Session
from .channel import ChannelSession, WorkerChannel, WorkerStartError
from .config import SandboxConfig
from .docker_image import (
    BUILD_HINT,
    container_options,
    docker_available,
    docker_client,
    remove_containers,
)
from .idle_freeze import IdleFreezer
from .result import ExecResult
from .seccomp_filter import compile_filter
from .uidpool import UidLease, lease_uid

__all__ = ["DockerContainer", "DockerSandbox", "DockerSession", "docker_available"]

_HERE = Path(__file__).resolve().parent
_CODE = {"worker.py": _HERE / "worker.py", "seccomp_filter.py": _HERE / "seccomp_filter.py",
         "launcher.py": _HERE / "docker" / "launcher.py"}
_STREAMS = ("ctrl", "stdout", "stderr")
_START_TIMEOUT_S = 60.0
_LIVE: weakref.WeakSet[DockerSandbox] = weakref.WeakSet()
# The seccomp program, compiled once per host process (the launcher installs it).
_seccomp_program = functools.cache(compile_filter)


def _remove(container: Any) -> bool:
    """Remove the container and its processes; False if it may still be running."""
    from docker.errors import NotFound

    try:
        container.remove(force=True)
    except NotFound:
        return True
    except Exception:  # the daemon failed or another removal is under way
        return False
    return True


def _freezer_of(pid: int) -> tuple[Path, str, str] | None:
    """The freezer file of the cgroup of host process `pid` and its frozen/thawed values
    (v1 or v2), or None when this process cannot write it."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, group = line.split(":", 2)
        if "freezer" in controllers.split(","):
            found = (Path("/sys/fs/cgroup/freezer", group.lstrip("/"), "freezer.state"),
                     "FROZEN", "THAWED")
            break
        if controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            found = (Path("/sys/fs/cgroup", group.lstrip("/"), "cgroup.freeze"), "1", "0")
            break
    else:
        return None
    return found if os.access(found[0], os.W_OK) else None


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError:  # the container is already gone
        pass


def _listen(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o666)  # the container's uid connects; the secret directory guards it
    sock.listen(1)
    return sock


class DockerContainer:
    """One container running a worker, and the host end of its sockets."""

    def __init__(self, client: Any, config: SandboxConfig) -> None:
        self._client, self.config = client, config
        self._lock = threading.Lock()
        self._killed = False
        self.container: Any = None
        self.channel: WorkerChannel | None = None
        self._uid: UidLease | None = None
        self._exit_code: int | None = None  # recorded by `kill` when the worker had died
        self._oom_killed = False
        self._freezer: tuple[Path, str, str] | None = None
        self._idle = IdleFreezer(self.freeze, self.thaw)
        self.io_dir = tempfile.mkdtemp(prefix="deeptool-docker-")

    def start(self) -> None:
        """Create and start the container and wait for its worker; cleans up on failure."""
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        token = secrets.token_hex(16)
        inner = os.path.join(self.io_dir, token)  # unguessable: io_dir is not listable
        os.mkdir(inner)
        for path in (self.io_dir, inner):
            os.chmod(path, 0o711)
        for name, source in _CODE.items():
            shutil.copyfile(source, os.path.join(inner, name))
        with open(os.path.join(inner, "seccomp.bpf"), "wb") as handle:
            handle.write(_seccomp_program())
        for name in (*_CODE, "seccomp.bpf"):
            os.chmod(os.path.join(inner, name), 0o444)
        self._uid = lease_uid()
        listeners = {name: _listen(os.path.join(inner, name)) for name in _STREAMS}
        try:
            created = self._client.containers.create(
                **container_options(self.config, self.io_dir, token, self._uid.uid))
            with self._lock:
                self.container = created
                killed = self._killed
            if killed:
                if _remove(created):
                    self._uid.release()
                raise WorkerStartError("the container was stopped while starting")
            created.start()
            socks = self._accept(listeners, deadline)
        finally:
            for sock in listeners.values():
                sock.close()
        self.container.reload()
        self._freezer = _freezer_of(int(self.container.attrs["State"]["Pid"]))
        self.channel = WorkerChannel(socks["ctrl"], socks["stdout"].detach(),
                                     socks["stderr"].detach(), self.config,
                                     kill=self.kill, exit_status=self.exit_status,
                                     pause=self._idle.pause, resume=self._idle.resume)
        self.channel.wait_ready(max(1.0, deadline - time.monotonic()))
        shutil.rmtree(self.io_dir, ignore_errors=True)  # the container keeps its mount

    def _accept(self, listeners: dict[str, socket.socket],
                deadline: float) -> dict[str, socket.socket]:
        accepted: dict[str, socket.socket] = {}
        waiting = {sock: name for name, sock in listeners.items()}
        while waiting:
            if self._killed:
                raise WorkerStartError("the container was stopped while starting")
            if time.monotonic() > deadline:
                raise WorkerStartError(f"the container did not connect within "
                                       f"{_START_TIMEOUT_S:.0f} s")
            ready, _, _ = select.select(list(waiting), [], [], 0.25)
            for sock in ready:
                accepted[waiting.pop(sock)] = sock.accept()[0]
            if not ready:
                self.container.reload()
                if self.container.status not in ("created", "running"):
                    logs = self.container.logs(tail=20).decode("utf-8", "replace")
                    raise WorkerStartError(f"the container exited while starting: {logs}")
        return accepted

    def alive(self) -> bool:
        """True while the worker is idle and connected (a dead one makes ctrl readable)."""
        if self._killed or self.channel is None:
            return False
        readable, _, _ = select.select([self.channel.ctrl], [], [], 0)
        return not readable

    def kill(self) -> None:
        """Remove the container with everything running in it; idempotent, never raises.

        Its uid returns to the pool once the container is gone (if the daemon failed to
        remove it, the uid stays leased until this process exits).
        """
        with self._lock:
            if self._killed:
                return
            self._killed = True
            container = self.container
        if container is None:
            return
        self.thaw()  # a frozen process would not die of `docker rm -f`'s SIGKILL
        if self._worker_gone():
            self._record_death(container)
        if _remove(container) and self._uid is not None:
            self._uid.release()

    def freeze(self) -> None:
        """Stop every process of the container until `thaw` (not once it is killed)."""
        with self._lock:
            if self._freezer is not None and not self._killed:
                _write(self._freezer[0], self._freezer[1])

    def thaw(self) -> None:
        """Let the container's processes run again."""
        if self._freezer is not None:
            _write(self._freezer[0], self._freezer[2])

    def _worker_gone(self) -> bool:
        """True once the worker's end of the control socket is closed (it died)."""
        if self.channel is None:
            return False
        try:
            return self.channel.ctrl.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True

    def _record_death(self, container: Any) -> None:
        """Keep the exit status and the OOM flag of a dead worker before the container
        is removed (waits at most 2 s: the worker closed its socket, so it is exiting)."""
        try:
            code = int(container.wait(timeout=2)["StatusCode"])
            container.reload()
        except Exception:
            return
        self._exit_code = -(code - 128) if 128 < code < 160 else code
        self._oom_killed = bool(container.attrs["State"].get("OOMKilled"))

    def exit_status(self) -> int | None:
        """The dead worker's exit status (negative = signal), known once `kill` removed
        its container; None while it runs or when it was killed alive."""
        return self._exit_code

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer ended the worker (known after `kill`)."""
        return self._oom_killed

    def close(self) -> None:
        """Kill the container, close the host's sockets and delete the private directory
        (already gone once the worker is up)."""
        self.kill()
        if self.container is None and self._uid is not None:  # never created
            self._uid.release()
        if self.channel is not None:
            self.channel.close()
        shutil.rmtree(self.io_dir, ignore_errors=True)


class DockerSession(ChannelSession):
    """A session whose interpreter is a container; a restart takes a fresh container."""

    def __init__(self, config: SandboxConfig, sandbox: DockerSandbox) -> None:
        super().__init__(config)
        self._sandbox = sandbox
        self._container: DockerContainer | None = None
        self._state = threading.Lock()  # `close()` from another thread vs. `_start`

    @property
    def container_id(self) -> str | None:
        """Id of the container now running this session's interpreter, if any."""
        container = self._container
        return None if container is None or container.container is None else container.container.id

    def _start(self) -> None:
        container: DockerContainer | None = self._sandbox.take_container()
        with self._state:
            if not self.closed:
                self._container, self._channel = container, container.channel
                container = None
        if container is not None:
            container.close()
            raise WorkerStartError("the session was closed while its container started")

    def _execute(self, code: str, timeout_s: float) -> ExecResult:
        container = self._container
        result = super()._execute(code, timeout_s)
        if (result.status == "killed" and not self.closed and container is not None
                and container.oom_killed()):
            result = replace(result, stderr=result.stderr + (
                f"[sandbox] the container ran out of memory ({self.config.memory_mb} MB).\n"))
        return result

    def _stop(self) -> None:
        with self._state:
            self._container = None
            super()._stop()  # the channel's kill removes the container


class DockerSandbox(Sandbox):
    """Sessions in containers of `config.docker_image`, with warm spares in reserve.

    `warm` is how many started containers are kept ready (0: start each on demand).
    """

    def __init__(self, config: SandboxConfig, warm: int = 1) -> None:
        super().__init__(config)
        self._warm = warm
        self._pool_lock = threading.Lock()
        self._spares: list[Future[DockerContainer]] = []
        self._launching: set[DockerContainer] = set()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="docker-warm")
        try:
            _seccomp_program()  # fail here, saying how to install pyseccomp, if it is missing
        except RuntimeError:
            self._closed = True
            raise
        self._client = docker_client()
        try:
            self._client.images.get(config.docker_image)
        except Exception as exc:
            self._closed = True
            raise RuntimeError(f"the sandbox image {config.docker_image!r} is missing; "
                               f"{BUILD_HINT}") from exc
        remove_containers(orphans_only=True)
        _LIVE.add(self)
        self._refill()

    def _new_session(self) -> Session:
        return DockerSession(self.config, self)

    def _launch(self) -> DockerContainer:
        with self._pool_lock:
            if self._closed:
                raise WorkerStartError("the sandbox was closed")
            container = DockerContainer(self._client, self.config)
            self._launching.add(container)  # `_shutdown` aborts it
        try:
            container.start()
        finally:
            with self._pool_lock:
                self._launching.discard(container)
        return container

    def _launch_spare(self) -> DockerContainer:
        container = self._launch()
        if self._closed:
            container.close()
            raise SandboxClosedError("the sandbox was closed")
        return container

    def keep_warm(self, count: int) -> None:
        self._warm = max(0, int(count))
        self._refill()

    def _refill(self) -> None:
        with self._pool_lock:
            while not self._closed and len(self._spares) < self._warm:
                self._spares.append(self._executor.submit(self._launch_spare))

    def take_container(self) -> DockerContainer:
        """A started container: a warm spare when one is alive, else a new one."""
        with self._pool_lock:
            spare = self._spares.pop(0) if self._spares else None
        self._refill()
        if spare is not None:
            try:
                container = spare.result(timeout=_START_TIMEOUT_S)
            except Exception:
                container = None
            if container is not None and container.alive():
                return container
            if container is not None:
                container.close()
        return self._launch()

    def _shutdown(self) -> None:
        """Close the spares; one still starting is aborted and waited for (briefly), so no
        container of this sandbox outlives `close()`."""
        with self._pool_lock:
            spares, self._spares = self._spares, []
            launching = list(self._launching)
        for container in launching:
            container.kill()
        self._executor.shutdown(wait=False, cancel_futures=True)
        wait(spares, timeout=10.0)
        for spare in spares:
            spare.add_done_callback(_close_spare)


@atexit.register
def _close_live_sandboxes() -> None:
    """Sandboxes left open at exit would leave stopped containers behind: remove them."""
    for box in list(_LIVE):
        box.close()


def _close_spare(future: Future[DockerContainer]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()
