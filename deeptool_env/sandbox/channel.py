"""Host end of one worker: send a cell, read capped output, enforce the wall-clock limit.

Every backend gives its worker a control socket and two output streams (fds 1 and 2); this
class speaks the worker's frame protocol (see `worker.py`) over them, so the result
semantics are the same whatever isolates the worker.

The host trusts nothing the worker writes: the worker runs the cell's code in its own
process, so any frame may be forged. Frames are bounded in size, a result must answer the
current cell's random id with well-typed fields, and any other frame is a protocol violation
that stops the session (`sandbox_error`), never an exception in the caller. Every send and
receive has a deadline. Facts the host acts on (which processes to kill, how the
interpreter died) come from the backend (`kill`, `exit_status`), never from the worker.
"""

from __future__ import annotations

import os
import secrets
import selectors
import socket
import time
from collections.abc import Callable

from .base import Session
from .cell_result import build_result, death_detail
from .config import SandboxConfig
from .frame_reader import FrameReader
from .output import CappedBuffer
from .result import ExecResult
from .worker import encode_frame

# What a worker's result may say; anything else is a protocol violation.
WORKER_STATUSES = frozenset({"ok", "error", "memory"})


class WorkerStartError(RuntimeError):
    """The worker did not come up."""


class ProtocolViolation(Exception):
    """The worker sent something an honest worker never sends."""


def _read_available(read: Callable[[int], bytes]) -> bytes | None:
    """One non-blocking read: the data, b"" if none is ready yet, None at end of file."""
    try:
        data = read(1 << 16)
    except (BlockingIOError, InterruptedError):
        return b""
    except OSError:
        return None
    return data or None


def frame_limit(config: SandboxConfig) -> int:
    """Largest frame the host accepts from a worker: a result whose traceback is cut to the
    output cap, JSON-escaped (at most 12 bytes a character), plus room for the envelope."""
    return 12 * config.max_output_chars + 65536


def _valid_result(frame: dict, cell_id: int) -> bool:
    return (frame.get("op") == "result" and frame.get("id") == cell_id
            and frame.get("status") in WORKER_STATUSES
            and isinstance(frame.get("traceback"), str)
            and (frame.get("exit_code") is None or type(frame.get("exit_code")) is int))


class WorkerChannel:
    """Talks to one running worker.

    Args:
        ctrl: connected control socket (frames both ways).
        out_fd, err_fd: read ends of the worker's stdout and stderr.
        kill: kills the worker and everything it started (idempotent, never raises).
        exit_status: the worker's exit status once it has died (negative = signal), or None
            if unknown; from the backend, never from the worker.
        pause, resume: stop every process of the session between cells and let them run
            again (a cgroup freezer); no-ops where the backend has none.
    """

    def __init__(self, ctrl: socket.socket, out_fd: int, err_fd: int, config: SandboxConfig,
                 kill: Callable[[], None],
                 exit_status: Callable[[], int | None] = lambda: None,
                 pause: Callable[[], None] = lambda: None,
                 resume: Callable[[], None] = lambda: None) -> None:
        self.ctrl, self.out_fd, self.err_fd = ctrl, out_fd, err_fd
        self.config = config
        self._kill, self._exit_status = kill, exit_status
        self._pause, self._resume = pause, resume
        self._frames = FrameReader(max_frame=frame_limit(config))
        for fd in (out_fd, err_fd):
            os.set_blocking(fd, False)
        ctrl.setblocking(False)

    def _read_frames(self) -> list[dict] | None:
        """Frames now available on the control socket; None once it is closed."""
        data = _read_available(self.ctrl.recv)
        if data is None:
            return None
        try:
            frames = self._frames.feed(data)
        except ValueError as exc:
            raise ProtocolViolation(str(exc)) from None
        if any(not isinstance(frame, dict) for frame in frames):
            raise ProtocolViolation("a frame is not a JSON object")
        return frames

    def wait_ready(self, timeout_s: float) -> None:
        """Wait for the worker's `ready` frame, then pause the session until its first cell."""
        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as sel:
            sel.register(self.ctrl, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WorkerStartError(f"worker did not start within {timeout_s:.0f} s")
                if not sel.select(remaining):
                    continue
                try:
                    frames = self._read_frames()
                except ProtocolViolation as exc:
                    raise WorkerStartError(f"worker broke the protocol: {exc}") from None
                if frames is None:
                    raise WorkerStartError("worker died while starting"
                                           f"{death_detail(self._exit_status())}")
                if not frames:
                    continue
                first = frames[0]
                if first.get("op") == "error":
                    raise WorkerStartError(str(first.get("message", "worker failed to start")))
                if first.get("op") != "ready" or len(frames) > 1:
                    raise WorkerStartError("worker broke the protocol while starting")
                self._pause()
                return

    def kill(self) -> None:
        """Kill the worker and everything it started."""
        self._kill()

    # -- running a cell ------------------------------------------------------------------

    def execute(self, code: str, timeout_s: float) -> ExecResult:
        """Run one cell and return its result (wall_ms is left to the caller)."""
        cap = self.config.max_output_chars
        out, err = CappedBuffer(cap), CappedBuffer(cap)
        cell_id = secrets.randbits(62)
        request = encode_frame({"op": "run", "id": cell_id, "code": code, "max_chars": cap})
        deadline = time.monotonic() + timeout_s
        self._resume()
        try:
            frame, stop_reason = self._converse(request, cell_id, deadline, out, err)
        except ProtocolViolation as exc:
            frame, stop_reason = None, f"protocol: {exc}"
        if stop_reason is not None:
            self._kill()
        else:
            self._pause()
        hard_limit = cap * self.config.hard_output_factor
        for fd, buf in ((self.out_fd, out), (self.err_fd, err)):
            self._drain(fd, buf, limit=4 * hard_limit)
        return self._result(frame, stop_reason, timeout_s, out, err)

    def _converse(self, request: bytes, cell_id: int, deadline: float, out: CappedBuffer,
                  err: CappedBuffer) -> tuple[dict | None, str | None]:
        """Send the cell and wait for its result: (result frame or None, stop reason)."""
        hard_limit = self.config.max_output_chars * self.config.hard_output_factor
        unsent = memoryview(request)
        with selectors.DefaultSelector() as sel:
            sel.register(self.out_fd, selectors.EVENT_READ, out)
            sel.register(self.err_fd, selectors.EVENT_READ, err)
            sel.register(self.ctrl, selectors.EVENT_READ | selectors.EVENT_WRITE, None)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None, "timeout"
                for key, events in sel.select(min(remaining, 1.0)):
                    if key.data is not None:
                        if not self._drain(key.fd, key.data):
                            sel.unregister(key.fd)
                        continue
                    if events & selectors.EVENT_WRITE and unsent:
                        unsent = self._send_some(unsent)
                        if not unsent:
                            sel.modify(self.ctrl, selectors.EVENT_READ, None)
                    if events & selectors.EVENT_READ:
                        frames = self._read_frames()
                        if frames is None:
                            return None, None  # the worker died: `_result` says how
                        if frames:
                            if unsent or len(frames) > 1 or not _valid_result(frames[0],
                                                                               cell_id):
                                raise ProtocolViolation("unexpected or malformed frame")
                            return frames[0], None
                if out.total_bytes + err.total_bytes > hard_limit:
                    return None, "output_limit"

    def _send_some(self, unsent: memoryview) -> memoryview:
        try:
            sent = self.ctrl.send(unsent)
        except (BlockingIOError, InterruptedError):
            return unsent
        except OSError:
            return unsent[len(unsent):]  # the worker is gone; its death is read next
        return unsent[sent:]

    def _drain(self, fd: int, buf: CappedBuffer, limit: int | None = None) -> bool:
        """Read what is available from `fd`; False at end of file."""
        read = 0
        while limit is None or read < limit:
            data = _read_available(lambda size: os.read(fd, size))
            if data is None:
                return False
            if not data:
                return True
            buf.feed(data)
            read += len(data)
            if limit is None:
                return True
        return True

    def _result(self, frame: dict | None, stop_reason: str | None, timeout_s: float,
                out: CappedBuffer, err: CappedBuffer) -> ExecResult:
        exit_status = None
        if frame is None and stop_reason is None:  # the worker vanished mid-cell
            self._kill()  # whatever it left behind goes with it
            exit_status = self._exit_status()
        return build_result(frame, stop_reason, timeout_s, out, err, self.config, exit_status)

    def close(self) -> None:
        """Close the host's ends (the worker sees end-of-file and exits)."""
        for fd in (self.out_fd, self.err_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.ctrl.close()
        except OSError:
            pass


class ChannelSession(Session):
    """A session whose interpreter is reached through a `WorkerChannel`.

    Subclasses start the worker in `_start` and set `self._channel`; killing and closing
    are shared, including the case of `close()` from another thread mid-run (the running
    call then closes the channel when it returns).
    """

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self._channel: WorkerChannel | None = None
        self._executing = False

    def _execute(self, code: str, timeout_s: float) -> ExecResult:
        assert self._channel is not None
        channel = self._channel
        self._executing = True
        try:
            return channel.execute(code, timeout_s)
        finally:
            self._executing = False
            if self.closed:
                channel.close()

    def _stop(self) -> None:
        channel, self._channel = self._channel, None
        if channel is None:
            return
        channel.kill()
        if not self._executing:
            channel.close()
