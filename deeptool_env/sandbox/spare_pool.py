"""Warm spares: started interpreters (or containers) kept in reserve by a sandbox.

A new session, or the restart after a timeout, takes a spare that was started in the
background instead of waiting for a cold start; taking one starts its replacement. The
`local` and `docker` backends share this pool; what a spare is, how it is started, checked
and thrown away is theirs.

At interpreter exit the owners are closed by `atexit` (`local.py`, `shared.py`), while the
interpreter still works; a spare that finishes later than that, during teardown, is left to
its backend's own safety net (a local session's keeper kills it when the host is gone).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

Spare = TypeVar("Spare")


class SparePool(Generic[Spare]):
    """Keeps `warm` spares started by `start` in one background thread.

    `alive(spare)` says whether a started spare can still serve; `discard(spare)` frees one
    that will not be used; `closed()` is the owner's state (no spare is started once it is
    True). Every method is thread-safe.
    """

    def __init__(self, start: Callable[[], Spare], *, alive: Callable[[Spare], bool],
                 discard: Callable[[Spare], None], closed: Callable[[], bool], warm: int,
                 start_timeout_s: float, thread_name: str) -> None:
        self._start, self._alive, self._discard, self._closed = start, alive, discard, closed
        self._warm = warm
        self._start_timeout_s = start_timeout_s
        self._lock = threading.Lock()
        self._spares: list[Future[Spare]] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)

    def keep(self, count: int) -> None:
        """Keep `count` spares from now on (0: none) and start the missing ones."""
        self._warm = max(0, int(count))
        self.refill()

    def refill(self) -> None:
        """Start spares in the background until `warm` are started or starting."""
        with self._lock:
            while not self._closed() and len(self._spares) < self._warm:
                try:
                    self._spares.append(self._executor.submit(self._start))
                except RuntimeError:  # shut down (the pool closed, or the interpreter exits)
                    return

    def take(self) -> Spare | None:
        """The oldest spare once it is started and alive (its replacement starts now);
        None when there is none or it failed (a dead spare is discarded): the caller then
        starts one itself, which says why it fails if it does."""
        with self._lock:
            future = self._spares.pop(0) if self._spares else None
        self.refill()
        if future is None:
            return None
        try:
            spare = future.result(timeout=self._start_timeout_s)
        except Exception:
            return None
        if self._alive(spare):
            return spare
        self._discard(spare)
        return None

    def close(self, wait_s: float | None = None) -> None:
        """Start no more spares and discard the started ones, waiting at most `wait_s`
        (None: as long as it takes) for one still starting; a spare that starts later is
        discarded when it does."""
        with self._lock:
            spares, self._spares = self._spares, []
        self._executor.shutdown(wait=False, cancel_futures=True)
        # A future cancelled before it ran never counts as done for `wait`: leave those out.
        wait([spare for spare in spares if not spare.cancelled()], timeout=wait_s)
        for spare in spares:
            spare.add_done_callback(self._discard_started)

    def _discard_started(self, future: Future[Spare]) -> None:
        """Discard a spare that started after `close` (a done-callback). During interpreter
        teardown the builtins and modules it needs may be gone: it is left alone then."""
        if future.cancelled() or future.exception() is not None or sys.is_finalizing():
            return
        self._discard(future.result())
