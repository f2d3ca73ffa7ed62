"""One sandbox per (process, configuration), shared by every env that asks for it.

A vector of N envs in one process then uses one warm fork-server, not N. Sandboxes are
reference counted and closed when the last env releases them; a forked child (e.g. an
`AsyncVectorEnv` worker) never reuses its parent's sandbox. Those still open when the
interpreter exits (an env never closed) are closed by `atexit`, before teardown.
"""

from __future__ import annotations

import atexit
import os
import threading

from . import from_config
from .base import Sandbox
from .config import SandboxConfig

_lock = threading.Lock()
_shared: dict[tuple[int, SandboxConfig], tuple[Sandbox, int]] = {}


def acquire(config: SandboxConfig) -> Sandbox:
    """The shared sandbox for `config` in this process (started on first use)."""
    key = (os.getpid(), config)
    with _lock:
        box, users = _shared.get(key, (None, 0))
        if box is None or box.closed:
            box, users = from_config(config), 0
        _shared[key] = (box, users + 1)
        box.keep_warm(users + 1)  # one spare per env, for vectors that reset together
        return box


def release(config: SandboxConfig) -> None:
    """Drop one user of the shared sandbox; the last one closes it."""
    key = (os.getpid(), config)
    with _lock:
        box, users = _shared.get(key, (None, 0))
        if box is None:
            return
        if users <= 1:
            del _shared[key]
            box.close()
        else:
            _shared[key] = (box, users - 1)


def close_all() -> None:
    """Close every shared sandbox of this process (not a forked parent's), whoever still
    uses it; registered with `atexit`, since during teardown a sandbox cannot clean up."""
    pid = os.getpid()
    with _lock:
        boxes = [_shared.pop(key)[0] for key in list(_shared) if key[0] == pid]
    for box in boxes:
        box.close()


atexit.register(close_all)
