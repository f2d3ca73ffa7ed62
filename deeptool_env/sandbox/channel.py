"""Host end of one worker: send a cell, read capped output, enforce the wall-clock limit.

Every backend gives its worker a control socket and two output streams (fds 1 and 2); this
class speaks the worker's frame protocol (see `worker.py`) over them, so the result
semantics are the same whatever isolates the worker.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import time
from collections.abc import Callable

from .base import Session
from .config import SandboxConfig
from .output import CappedBuffer
from .result import ExecResult
from .worker import FrameReader, send_frame


class WorkerStartError(RuntimeError):
    """The worker did not come up."""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _read_available(read: Callable[[int], bytes]) -> bytes | None:
    """One non-blocking read: the data, b"" if none is ready yet, None at end of file."""
    try:
        data = read(1 << 16)
    except (BlockingIOError, InterruptedError):
        return b""
    except OSError:
        return None
    return data or None


class WorkerChannel:
    """Talks to one running worker.

    Args:
        ctrl: connected control socket (frames both ways).
        out_fd, err_fd: read ends of the worker's stdout and stderr.
        kill: kills the worker and everything it started (must be idempotent).
        exit_status: returns the worker's exit status once it has died (negative = signal),
            or None if unknown; used when no `exited` frame explains a lost connection.
    """

    def __init__(self, ctrl: socket.socket, out_fd: int, err_fd: int, config: SandboxConfig,
                 kill: Callable[[], None],
                 exit_status: Callable[[], int | None] = lambda: None) -> None:
        self.ctrl, self.out_fd, self.err_fd = ctrl, out_fd, err_fd
        self.config = config
        self._kill = kill
        self._exit_status = exit_status
        self._frames = FrameReader()
        self._pending: list[dict] = []
        self.exited: dict | None = None
        self.worker_pid: int | None = None
        self.session_pid: int | None = None
        for fd in (out_fd, err_fd):
            os.set_blocking(fd, False)
        ctrl.setblocking(False)

    # -- frames ------------------------------------------------------------------------

    def _read_ctrl(self) -> bool:
        """Read available control bytes; False once the connection is closed."""
        data = _read_available(self.ctrl.recv)
        if data is None:
            return False
        for frame in self._frames.feed(data):
            if frame.get("op") == "exited":
                self.exited = frame
            elif frame.get("op") == "started":
                self.session_pid = frame.get("pid")
            else:
                self._pending.append(frame)
        return True

    def _next_frame(self) -> dict | None:
        return self._pending.pop(0) if self._pending else None

    def wait_ready(self, timeout_s: float) -> None:
        """Wait for the worker's `ready` frame."""
        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as sel:
            sel.register(self.ctrl, selectors.EVENT_READ)
            while True:
                frame = self._next_frame()
                if frame is not None and frame.get("op") == "ready":
                    self.worker_pid = frame.get("pid")
                    return
                if frame is not None and frame.get("op") == "error":
                    raise WorkerStartError(frame.get("message", "worker failed to start"))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WorkerStartError(f"worker did not start within {timeout_s:.0f} s")
                if sel.select(remaining) and not self._read_ctrl() and not self._pending:
                    detail = self._death_detail()
                    raise WorkerStartError(f"worker died while starting{detail}")

    def kill(self) -> None:
        """Kill the worker and everything it started."""
        self._kill()

    # -- running a cell ------------------------------------------------------------------

    def execute(self, code: str, timeout_s: float) -> ExecResult:
        """Run one cell and return its result (wall_ms is left to the caller)."""
        cap = self.config.max_output_chars
        out, err = CappedBuffer(cap), CappedBuffer(cap)
        hard_limit = cap * self.config.hard_output_factor
        ctrl_open = True
        try:
            self.ctrl.setblocking(True)
            send_frame(self.ctrl, {"op": "run", "code": code})
        except OSError:
            ctrl_open = False
        finally:
            self.ctrl.setblocking(False)
        deadline = time.monotonic() + timeout_s
        result: dict | None = None
        stop_reason: str | None = None
        with selectors.DefaultSelector() as sel:
            sel.register(self.out_fd, selectors.EVENT_READ, out)
            sel.register(self.err_fd, selectors.EVENT_READ, err)
            if ctrl_open:
                sel.register(self.ctrl, selectors.EVENT_READ, None)
            while result is None and ctrl_open:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    stop_reason = "timeout"
                    break
                for key, _ in sel.select(min(remaining, 1.0)):
                    if key.data is None:
                        if not self._read_ctrl():
                            ctrl_open = False
                            sel.unregister(self.ctrl)
                    elif not self._drain(key.fd, key.data):
                        sel.unregister(key.fd)
                frame = self._next_frame()
                if frame is not None and frame.get("op") == "result":
                    result = frame
                if out.total_bytes + err.total_bytes > hard_limit:
                    stop_reason = "output_limit"
                    break
        if stop_reason is not None:
            self._kill()
        for fd, buf in ((self.out_fd, out), (self.err_fd, err)):
            self._drain(fd, buf, limit=4 * hard_limit)
        return self._build_result(result, stop_reason, timeout_s, out, err)

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

    def _exit_code(self) -> int | None:
        """The worker's exit status (negative = signal), from the keeper or the backend."""
        if self.exited is not None:
            sig = self.exited.get("signal")
            return -sig if sig else self.exited.get("code")
        return self._exit_status()

    def _death_detail(self) -> str:
        status = self._exit_code()
        if status is None:
            return ""
        if status < 0:
            return f" (killed by {_signal_name(-status)})"
        return f" (exit code {status})"

    def _build_result(self, frame: dict | None, stop_reason: str | None, timeout_s: float,
                      out: CappedBuffer, err: CappedBuffer) -> ExecResult:
        stdout, out_cut = out.text()
        stderr, err_cut = err.text()
        truncated = out_cut or err_cut
        if stop_reason == "timeout":
            message = (f"[sandbox] TimeoutError: the cell did not finish within {timeout_s:g} s "
                       "(threads it starts must finish too); the interpreter was stopped.\n")
            return ExecResult("timeout", stdout, stderr + message, None, 0.0, truncated)
        if stop_reason == "output_limit":
            message = (f"[sandbox] the cell printed more than {self.config.hard_output_factor}x "
                       f"the {self.config.max_output_chars}-character output cap; it was "
                       "stopped.\n")
            return ExecResult("output_limit", stdout, stderr + message, None, 0.0, True)
        if frame is None:
            return self._death_result(stdout, stderr, truncated)
        status = frame.get("status", "sandbox_error")
        stderr = stderr + frame.get("traceback", "")
        return ExecResult(status, stdout, stderr, frame.get("exit_code"), 0.0, truncated)

    def _death_result(self, stdout: str, stderr: str, truncated: bool) -> ExecResult:
        """The worker vanished mid-cell: say why, as precisely as the exit status allows."""
        deadline = time.monotonic() + 1.0
        while self.exited is None and time.monotonic() < deadline and self._read_ctrl():
            time.sleep(0.005)
        detail = self._death_detail()
        status_code = self._exit_code()
        status = "killed"
        if status_code == -signal.SIGXCPU:
            status = "timeout"
            detail += ": the session used up its CPU-time budget"
        message = f"[sandbox] the interpreter died{detail}; its state is lost.\n"
        return ExecResult(status, stdout, stderr + message, status_code, 0.0, truncated)

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
