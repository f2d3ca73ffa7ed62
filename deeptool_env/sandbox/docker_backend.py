"""Docker backend: every session is a locked-down container running the stateful worker
(see `docker_container.py` for the container, its transport and its freezer).

A restart after a timeout takes a fresh container. One started container is kept in reserve
per sandbox (a `SparePool`) so that a new session, or that restart, does not wait for
container start-up.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from dataclasses import replace

from .base import Sandbox, SandboxClosedError, Session
from .channel import ChannelSession, WorkerStartError
from .config import SandboxConfig
from .docker_container import START_TIMEOUT_S, DockerContainer, seccomp_program
from .docker_image import BUILD_HINT, docker_available, docker_client, remove_containers
from .result import ExecResult
from .spare_pool import SparePool

__all__ = ["DockerContainer", "DockerSandbox", "DockerSession", "docker_available"]

_LIVE: weakref.WeakSet[DockerSandbox] = weakref.WeakSet()


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
        self._launch_lock = threading.Lock()
        self._launching: set[DockerContainer] = set()
        self._spares = SparePool(self._launch_spare, alive=DockerContainer.alive,
                                 discard=DockerContainer.close, closed=lambda: self._closed,
                                 warm=warm, start_timeout_s=START_TIMEOUT_S,
                                 thread_name="docker-warm")
        try:
            seccomp_program()  # fail here, saying how to install pyseccomp, if it is missing
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
        self._spares.refill()

    def _new_session(self) -> Session:
        return DockerSession(self.config, self)

    def _launch(self) -> DockerContainer:
        with self._launch_lock:
            if self._closed:
                raise WorkerStartError("the sandbox was closed")
            container = DockerContainer(self._client, self.config)
            self._launching.add(container)  # `_shutdown` aborts it
        try:
            container.start()
        finally:
            with self._launch_lock:
                self._launching.discard(container)
        return container

    def _launch_spare(self) -> DockerContainer:
        container = self._launch()
        if self._closed:
            container.close()
            raise SandboxClosedError("the sandbox was closed")
        return container

    def keep_warm(self, count: int) -> None:
        self._spares.keep(count)

    def take_container(self) -> DockerContainer:
        """A started container: a warm spare when one is alive, else a new one."""
        return self._spares.take() or self._launch()

    def _shutdown(self) -> None:
        """Close the spares; one still starting is aborted and waited for (briefly), so no
        container of this sandbox outlives `close()`."""
        with self._launch_lock:
            launching = list(self._launching)
        for container in launching:
            container.kill()
        self._spares.close(wait_s=10.0)


@atexit.register
def _close_live_sandboxes() -> None:
    """Sandboxes left open at exit would leave stopped containers behind: remove them."""
    for box in list(_LIVE):
        box.close()
