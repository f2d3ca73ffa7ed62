"""Docker backend: every session is a locked-down container running the stateful worker.

Transport: the host makes a private directory with three listening Unix sockets (`ctrl`,
`stdout`, `stderr`) and copies of `worker.py` and `docker/launcher.py`, bind-mounts it
read-only into the container and starts the launcher there. The launcher connects back,
puts the output sockets on fds 1 and 2 and runs the worker, so the host wraps the accepted
sockets in the same `WorkerChannel` as the local backend: same protocol, output caps,
timeouts and result schema. No network and no `docker attach` stream are involved.

Killing a session removes its container (`docker rm -f`), which takes every process in it.
One started container is kept in reserve per sandbox so that a new session (or the restart
after a timeout) does not wait for container start-up.
"""

from __future__ import annotations

import atexit
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
from .result import ExecResult

__all__ = ["DockerContainer", "DockerSandbox", "DockerSession", "docker_available"]

_HERE = Path(__file__).resolve().parent
_CODE = {"worker.py": _HERE / "worker.py", "launcher.py": _HERE / "docker" / "launcher.py"}
_STREAMS = ("ctrl", "stdout", "stderr")
_START_TIMEOUT_S = 60.0
_LIVE: weakref.WeakSet[DockerSandbox] = weakref.WeakSet()


def _remove(container: Any) -> None:
    try:
        container.remove(force=True)
    except Exception:  # already gone, or being removed
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
            os.chmod(os.path.join(inner, name), 0o444)
        listeners = {name: _listen(os.path.join(inner, name)) for name in _STREAMS}
        try:
            created = self._client.containers.create(
                **container_options(self.config, self.io_dir, token))
            with self._lock:
                self.container = created
                killed = self._killed
            if killed:
                _remove(created)
                raise WorkerStartError("the container was stopped while starting")
            created.start()
            socks = self._accept(listeners, deadline)
        finally:
            for sock in listeners.values():
                sock.close()
        self.channel = WorkerChannel(socks["ctrl"], socks["stdout"].detach(),
                                     socks["stderr"].detach(), self.config,
                                     kill=self.kill, exit_status=self.exit_status)
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
        """Remove the container with everything running in it; idempotent, never raises."""
        with self._lock:
            if self._killed:
                return
            self._killed = True
            container = self.container
        if container is not None:
            _remove(container)

    def exit_status(self) -> int | None:
        """The worker's exit status once the container stopped (negative = signal)."""
        if self.container is None or self._killed:
            return None
        try:
            code = int(self.container.wait(timeout=2)["StatusCode"])
        except Exception:
            return None
        return -(code - 128) if 128 < code < 160 else code

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer acted in the container (asked after a death)."""
        try:
            self.container.reload()
            return bool(self.container.attrs["State"].get("OOMKilled"))
        except Exception:
            return False

    def close(self) -> None:
        """Kill the container, close the host's sockets and delete the private directory
        (already gone once the worker is up)."""
        self.kill()
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
