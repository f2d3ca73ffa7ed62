"""Freeze a session once it has been idle for a moment after a cell, not at once.

Freezing and thawing a cgroup costs a few hundred microseconds per cell (waking frozen
tasks), which would triple the cost of a trivial call when cells come back to back (tests,
scripted agents, benchmarks). Here the freeze is scheduled `delay_s` after the cell's
result; a cell that arrives before then cancels it and pays nothing, and one that arrives
later thaws the session first. So a session can run at most `delay_s` after a result
(what it uses still counts against its CPU budget and quota), and in an RL episode, where
the next cell waits for the model, it is frozen between cells.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

DEFAULT_DELAY_S = 0.02


class _Scheduler:
    """One daemon thread per process that runs due freezes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, IdleFreezer, int]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, freezer: IdleFreezer, due: float, ticket: int) -> None:
        with self._cond:
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (due, next(self._order), freezer, ticket))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sandbox-idle-freeze",
                                                daemon=True)
                self._thread.start()
            if earliest is None or due < earliest:  # else the thread wakes up before `due`
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                due, _, freezer, ticket = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            freezer._fire(ticket)


_scheduler = _Scheduler()


class IdleFreezer:
    """`pause()` after a cell, `resume()` before the next; see the module docstring."""

    def __init__(self, freeze: Callable[[], None], thaw: Callable[[], None],
                 delay_s: float = DEFAULT_DELAY_S) -> None:
        self._freeze, self._thaw, self._delay_s = freeze, thaw, delay_s
        self._lock = threading.Lock()
        self._ticket = 0  # which pause a scheduled freeze belongs to
        self._pending = False
        self._frozen = False

    def pause(self) -> None:
        """The cell is over: freeze the session unless the next cell comes first."""
        with self._lock:
            self._ticket += 1
            self._pending = True
            ticket = self._ticket
        _scheduler.schedule(self, time.monotonic() + self._delay_s, ticket)

    def resume(self) -> None:
        """A cell starts: cancel a pending freeze, or thaw the frozen session."""
        with self._lock:
            self._pending = False
            if self._frozen:
                self._thaw()
                self._frozen = False

    def stop(self) -> None:
        """The session is being killed (the kill thaws it): never freeze it again."""
        with self._lock:
            self._pending = False
            self._frozen = False
            self._ticket += 1

    def _fire(self, ticket: int) -> None:
        with self._lock:
            if self._pending and ticket == self._ticket:
                self._freeze()
                self._pending, self._frozen = False, True
