"""The process-wide grading pool: created on first use, replaced after a fork or a failure."""

from __future__ import annotations

import atexit
import os
import threading

from .pool import GraderPool

_shared: GraderPool | None = None
_shared_lock = threading.Lock()


def default_workers() -> int:
    """Worker count when none is given: the CPUs this process may use, at most 4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def shared_pool(workers: int | None = None) -> GraderPool:
    """The process-wide pool; `workers` grows it if it is larger than the current size."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive:
            _shared = GraderPool(workers or default_workers())
        elif workers:
            _shared.resize(workers)
        return _shared


def shutdown_pool() -> None:
    """Stop the process-wide pool (it restarts on the next use). Registered with `atexit`."""
    global _shared
    with _shared_lock:
        pool, _shared = _shared, None
    if pool is not None and pool.pid == os.getpid():
        pool.close()


atexit.register(shutdown_pool)
