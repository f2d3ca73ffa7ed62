"""Output capture that is bounded while the cell runs: keep the head and the tail."""

from __future__ import annotations

from .worker import head_tail, truncation_marker

__all__ = ["CappedBuffer", "clean_text", "head_tail", "truncation_marker"]


def _char_count(data: bytes) -> int:
    """Characters in UTF-8 `data`: every byte that is not a continuation byte starts one."""
    return len(data) - sum(1 for b in data if 0x80 <= b <= 0xBF)


class CappedBuffer:
    """Accumulates a byte stream, keeping at most about `max_chars` characters.

    The first half of the budget is kept as the head, the last half as a rolling tail, so
    the memory used never grows with the output. `text()` joins them with a marker that
    says how many characters were left out.
    """

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._half_bytes = 4 * max(1, max_chars // 2)  # UTF-8 is at most 4 bytes a char
        self._head = bytearray()
        self._tail = bytearray()
        self.total_bytes = 0
        self._overflowed = False

    def feed(self, data: bytes) -> None:
        """Add a chunk of output."""
        self.total_bytes += len(data)
        room = self._half_bytes - len(self._head)
        if room > 0 and not self._overflowed:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._overflowed = True
            self._tail += data
            if len(self._tail) > self._half_bytes:
                del self._tail[: len(self._tail) - self._half_bytes]

    def text(self) -> tuple[str, bool]:
        """The captured text and whether anything was cut."""
        if not self._overflowed:
            whole = self._head.decode("utf-8", errors="replace")
            if len(whole) <= self.max_chars:
                return whole, False
            return head_tail(whole, self.max_chars), True
        head = self._head.decode("utf-8", errors="replace")[: self.max_chars // 2]
        tail = self._tail.decode("utf-8", errors="replace")
        tail = tail[len(tail) - (self.max_chars - self.max_chars // 2):]
        omitted = max(0, _approx_total_chars(self) - len(head) - len(tail))
        return f"{head}{truncation_marker(omitted)}{tail}", True


def _approx_total_chars(buf: CappedBuffer) -> int:
    # Exact for ASCII; for other text the middle part is estimated from its byte count.
    kept = bytes(buf._head) + bytes(buf._tail)
    ratio = (_char_count(kept) / len(kept)) if kept else 1.0
    return int(buf.total_bytes * ratio)


def clean_text(text: str) -> str:
    """`text` with what UTF-8 cannot encode (lone surrogates) escaped as `\\udXXX`, so
    every consumer (JSON lines, terminals, tokenizers) can write it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


