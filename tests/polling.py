"""Waiting in tests for something that happens in another process or thread."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0,
               interval_s: float = 0.02) -> bool:
    """Poll `predicate` until it is true or `timeout_s` passed; its last answer."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()
