"""The host's incremental reader of the worker's frames (the worker's side of the frame
protocol is in `worker.py`, which must stay a single stdlib-only file in the sandbox)."""

from __future__ import annotations

import json

from .worker import FRAME_HEADER, MAX_FRAME


class FrameReader:
    """Incremental frame decoder for a non-blocking reader on the host side.

    Its buffer never holds more than one frame of `max_frame` bytes: a larger announced
    size, or bytes that are not UTF-8 JSON, raise ValueError before anything piles up.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buffer = bytearray()
        self.max_frame = max_frame

    def _announced_size(self) -> int:
        (size,) = FRAME_HEADER.unpack_from(self._buffer)
        if size > self.max_frame:
            raise ValueError(f"a frame of {size} bytes is larger than {self.max_frame}")
        return size

    def feed(self, data: bytes) -> list:
        """The frames that `data` completes, in order (a partial one is kept for later)."""
        frames = []
        view = memoryview(data)
        while view:
            if len(self._buffer) < FRAME_HEADER.size:
                take = FRAME_HEADER.size - len(self._buffer)
            else:
                take = FRAME_HEADER.size + self._announced_size() - len(self._buffer)
            self._buffer += view[:take]
            view = view[take:]
            if len(self._buffer) >= FRAME_HEADER.size and \
                    len(self._buffer) == FRAME_HEADER.size + self._announced_size():
                body = bytes(self._buffer[FRAME_HEADER.size:])
                self._buffer.clear()
                try:
                    frames.append(json.loads(body.decode("utf-8")))
                except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
                    raise ValueError(f"a frame is not JSON: {exc}") from None
        return frames
