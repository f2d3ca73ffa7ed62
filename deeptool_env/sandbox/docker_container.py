"""One sandbox container: created locked down, connected to over Unix sockets, frozen
between cells, removed with everything in it.

Transport: the host makes a private directory with three listening Unix sockets (`ctrl`,
`stdout`, `stderr`), copies of `worker.py`, `seccomp_filter.py` and `docker/launcher.py` and
the seccomp program, bind-mounts it read-only into the container and starts the launcher
there. The launcher connects back, puts the output sockets on fds 1 and 2 and runs the
worker, so the host wraps the accepted sockets in the same `WorkerChannel` as the local
backend: same protocol, output caps, timeouts and result schema. No network and no
`docker attach` stream are involved.

Killing a container (`docker rm -f`) takes every process in it. Each container runs as a
uid leased from `uidpool` (shared with the local backend), given back only once the
container is gone, so no two live sessions share RLIMIT_NPROC. Between cells the container
is frozen through its cgroup freezer (written directly: `docker pause` costs an API round
trip per cell), so no thread or timer of a cell runs between cells; where the host cannot
write the container's cgroup (not root) it is not frozen.
"""

from __future__ import annotations

import functools
import os
import secrets
import select
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .channel import WorkerChannel, WorkerStartError
from .config import SandboxConfig
from .docker_image import container_options
from .idle_freeze import IdleFreezer
from .seccomp_filter import compile_filter
from .uidpool import UidLease, lease_uid

__all__ = ["START_TIMEOUT_S", "DockerContainer", "seccomp_program"]

_HERE = Path(__file__).resolve().parent
_CODE = {"worker.py": _HERE / "worker.py", "seccomp_filter.py": _HERE / "seccomp_filter.py",
         "launcher.py": _HERE / "docker" / "launcher.py"}
_STREAMS = ("ctrl", "stdout", "stderr")
START_TIMEOUT_S = 60.0
# The seccomp program, compiled once per host process (the launcher installs it).
seccomp_program = functools.cache(compile_filter)


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
        deadline = time.monotonic() + START_TIMEOUT_S
        token = secrets.token_hex(16)
        inner = os.path.join(self.io_dir, token)  # unguessable: io_dir is not listable
        os.mkdir(inner)
        for path in (self.io_dir, inner):
            os.chmod(path, 0o711)
        for name, source in _CODE.items():
            shutil.copyfile(source, os.path.join(inner, name))
        with open(os.path.join(inner, "seccomp.bpf"), "wb") as handle:
            handle.write(seccomp_program())
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
                                       f"{START_TIMEOUT_S:.0f} s")
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
