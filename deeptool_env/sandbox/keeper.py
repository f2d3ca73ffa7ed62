"""Host end of a local session's keeper: the only source of the facts the host acts on.

The keeper (see `forkserver.py`) is root in the host's PID namespace and the parent of the
session's PID 1; the session never holds its socket. It reports the session's pid once
(`started`) and how it died (`exited`), and kills it when the host sends any byte. The host
therefore never signals a pid it was told by code it does not trust, and a pid the keeper
kills cannot have been reused (it is the keeper's own unreaped child).
"""

from __future__ import annotations

import select
import socket
import time

from .frame_reader import FrameReader


class KeeperError(RuntimeError):
    """The keeper reported that isolating the session failed."""


class Keeper:
    """Reads the keeper's frames and asks it to kill the session."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._frames = FrameReader(max_frame=1 << 16)
        self._eof = False
        self.session_pid: int | None = None
        self.exited: dict | None = None

    def _read(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for data and take in its frames; False at end of file."""
        if self._eof:
            return False
        try:
            readable, _, _ = select.select([self._sock], [], [], max(0.0, timeout_s))
            if not readable:
                return True
            data = self._sock.recv(1 << 16)
        except (OSError, ValueError):
            data = b""
        if not data:
            self._eof = True
            return False
        for frame in self._frames.feed(data):
            if frame.get("op") == "started":
                self.session_pid = int(frame["pid"])
            elif frame.get("op") == "exited":
                self.exited = frame
            elif frame.get("op") == "error":
                raise KeeperError(str(frame.get("message")))
        return True

    def wait_started(self, timeout_s: float) -> int:
        """The session's pid (host PID namespace), once the keeper has forked it."""
        deadline = time.monotonic() + timeout_s
        while self.session_pid is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KeeperError(f"the session did not start within {timeout_s:.0f} s")
            if not self._read(remaining):
                raise KeeperError("the sandbox's keeper exited before starting the session")
        return self.session_pid

    def _wait_exited(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.exited is None and time.monotonic() < deadline:
            try:
                if not self._read(deadline - time.monotonic()):
                    return
            except KeeperError:
                return

    def request_kill(self) -> None:
        """Have the keeper SIGKILL the session now (it reaps it in its own time)."""
        if self.exited is None and not self._eof:
            try:
                self._sock.send(b"k")
            except OSError:
                pass

    def kill(self, timeout_s: float = 5.0) -> None:
        """Have the keeper kill the session and wait until it is reaped. Idempotent."""
        self.request_kill()
        if self.exited is None and not self._eof:
            self._wait_exited(timeout_s)

    def exit_status(self) -> int | None:
        """How the session's PID 1 ended (negative = signal), None if not (yet) known."""
        self._wait_exited(1.0)
        if self.exited is None:
            return None
        sig = self.exited.get("signal")
        return -int(sig) if sig else self.exited.get("code")

    def close(self) -> None:
        """Close the host's end (a keeper still running then ends its session)."""
        try:
            self._sock.close()
        except OSError:
            pass
