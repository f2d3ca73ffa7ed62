"""What bounds the cost of one upload before and while it is validated: the per-token rate
limit, the streamed body size limit, the slots of concurrent validations, and bounded
entry ids in paths.

A hostile client gets each refusal as early as it can be decided: 429 before the body is
read, 413 while it streams in, 503 when every validation slot is busy (validations are CPU
bound: more at once only make each slower), and 404 for an id no row can have (a number
past the database's integer range would otherwise raise an overflow inside the driver).
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict, deque

from fastapi import HTTPException, Request
from starlette.requests import ClientDisconnect

from .db import MAX_ID

_ID = re.compile(r"[1-9][0-9]{0,9}")


def entry_id(text: str) -> int | None:
    """The entry id a path segment names, or None when no stored row can have it."""
    if not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


class Slots:
    """At most `size` holders at once; `try_acquire` never waits (the caller answers 503)."""

    def __init__(self, size: int) -> None:
        self.semaphore = threading.BoundedSemaphore(size)

    def try_acquire(self) -> bool:
        return self.semaphore.acquire(blocking=False)

    def release(self) -> None:
        self.semaphore.release()


class RateLimiter:
    """At most `limit` events per `window_s` seconds per key (sliding window)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str) -> float | None:
        """None if allowed (and counted), else the seconds until the next slot frees."""
        now = time.monotonic()
        with self._lock:
            events = self._events[key]
            while events and events[0] <= now - self.window_s:
                events.popleft()
            if len(events) >= self.limit:
                return max(0.0, events[0] + self.window_s - now)
            events.append(now)
            return None


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 once it passes `limit` bytes (declared or not)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise HTTPException(400, "invalid Content-Length") from None
        if size > limit:
            raise HTTPException(413, f"the upload is {size} bytes; the limit is {limit}")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise HTTPException(413, f"the upload is larger than the limit of {limit} "
                                    "bytes")
    except ClientDisconnect:
        raise HTTPException(400, "the client disconnected during the upload") from None
    return bytes(body)
