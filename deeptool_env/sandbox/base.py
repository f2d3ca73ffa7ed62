"""Backend-independent `Sandbox` and `Session`: validation, restarts, closing."""

from __future__ import annotations

import threading
import time
import weakref
from abc import ABC, abstractmethod
from dataclasses import replace

from .config import SandboxConfig
from .output import clean_text
from .result import ExecResult

RESTART_NOTICE = (
    "[sandbox] The previous cell ended the interpreter ({reason}); this cell runs in a fresh "
    "one: variables, imports and files from earlier cells are gone.\n"
)


class SandboxClosedError(RuntimeError):
    """Raised when a closed sandbox or session is used."""


class _Closeable(ABC):
    """close() once, `closed`, context manager, close on garbage collection."""

    _closed: bool

    @abstractmethod
    def close(self) -> None: ...

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class Session(_Closeable):
    """A persistent interpreter state (like a notebook kernel) inside a sandbox.

    Backends implement `_start`, `_execute` and `_stop`. If a call ends the interpreter
    (timeout, crash, kill, output flood), the next `run` transparently starts a fresh one
    and says so at the top of its `stderr`.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._closed = False
        self._started = False
        self._lost_reason: str | None = None
        self._lock = threading.Lock()

    @abstractmethod
    def _start(self) -> None:
        """Start a fresh interpreter."""

    @abstractmethod
    def _execute(self, code: str, timeout_s: float) -> ExecResult:
        """Run one cell in the running interpreter (wall_ms is filled in by `run`)."""

    @abstractmethod
    def _stop(self) -> None:
        """Kill the interpreter and everything it started; must not raise."""

    def run(self, code: str, timeout_s: float | None = None) -> ExecResult:
        """Run `code` as the next cell and return what happened."""
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, got {type(code).__name__}")
        timeout = self.config.timeout_s if timeout_s is None else float(timeout_s)
        if timeout <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        with self._lock:
            if self._closed:
                raise SandboxClosedError("this session is closed; open a new one")
            started = time.perf_counter()
            notice = ""
            try:
                if self._lost_reason is not None:
                    notice = RESTART_NOTICE.format(reason=self._lost_reason)
                    self._lost_reason = None
                    self._started = False
                    self._stop()
                if not self._started:
                    self._start()
                    self._started = True
                result = self._execute(code, timeout)
            except SandboxClosedError:
                raise
            except Exception as exc:  # a backend failure is a result, never a crash
                self._started = False
                self._safe_stop()
                result = ExecResult(status="sandbox_error", stderr=f"[sandbox] {exc}\n")
            if self._closed:
                result = replace(result, status="killed", exit_code=None,
                                 stderr=result.stderr + "[sandbox] the session was closed\n")
            if result.state_lost:
                self._lost_reason = result.status
            wall_ms = (time.perf_counter() - started) * 1000.0
            # Text from the sandbox is made encodable here, once, for every backend.
            return replace(result, stdout=clean_text(result.stdout),
                           stderr=clean_text(notice + result.stderr), wall_ms=wall_ms)

    def _safe_stop(self) -> None:
        try:
            self._stop()
        except Exception:  # `_stop` must not raise; a bug there must not leak into callers
            pass

    def close(self) -> None:
        """Kill the interpreter and free its resources. Safe to call twice, or mid-run."""
        if self._closed:
            return
        self._closed = True
        self._safe_stop()


class Sandbox(_Closeable):
    """A factory of isolated sessions sharing one backend (and its warm state)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._closed = False
        self._sessions: weakref.WeakSet[Session] = weakref.WeakSet()
        self._sessions_lock = threading.Lock()

    @abstractmethod
    def _new_session(self) -> Session:
        """Create a backend session (not started yet)."""

    def _shutdown(self) -> None:  # noqa: B027 (optional hook)
        """Free backend resources after every session was closed."""

    def keep_warm(self, count: int) -> None:  # noqa: B027 (optional hook)
        """Keep `count` started interpreters in reserve where the backend can (`local`,
        `docker`), so that many sessions opened at once (a vector of envs sharing this
        sandbox) do not wait for a cold start."""

    def session(self) -> Session:
        """A fresh, isolated interpreter state. Close it (or use `with`) when done."""
        if self._closed:
            raise SandboxClosedError("this sandbox is closed; create a new one")
        session = self._new_session()
        with self._sessions_lock:
            self._sessions.add(session)
        return session

    def run(self, code: str, timeout_s: float | None = None) -> ExecResult:
        """Run `code` once in a throw-away session."""
        with self.session() as session:
            return session.run(code, timeout_s)

    def close(self) -> None:
        """Close every session and the backend. Safe to call twice, or while runs are in
        flight (they return promptly with status `killed`)."""
        if self._closed:
            return
        self._closed = True
        with self._sessions_lock:
            sessions = list(self._sessions)
        try:
            for session in sessions:
                try:
                    session.close()
                except Exception:
                    pass
        finally:
            self._shutdown()
