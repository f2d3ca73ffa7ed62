"""The one stop/EOS rule of every backend.

A completion ends with the token that completes a stop string (`</code>`, `</answer>`) or
with its first end-of-sequence token, whichever comes first; its `ids` are the sampled ids
up to and including that token, and its text is cut right after the earliest stop string
(a completing token may carry characters past the stop, e.g. `</code>\\n`).

Stops are detected incrementally (`StopScanner`): after each sampled token only the
decoded tail of that row is searched, and only when the new token can end a stop string.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Finish


def eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """End-of-sequence ids of the model's generation config and the tokenizer."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = configured if isinstance(configured, list) else [configured]
    ids = [i for i in [*ids, tokenizer.eos_token_id] if i is not None]
    return list(dict.fromkeys(ids))


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """`text` up to and including its earliest stop string, and whether one was found."""
    ends = [i + len(s) for s in stops if (i := text.find(s)) >= 0]
    return (text[:min(ends)], True) if ends else (text, False)


def stop_window(stops: Sequence[str]) -> int:
    """How many trailing tokens must be decoded to see a stop string that just completed.

    Every token that is part of a stop string contributes at least one of its characters,
    so `len(stop)` tokens suffice; a few more absorb partial UTF-8 bytes before it.
    """
    return max((len(s) for s in stops), default=0) + 4


class StopScanner:
    """Per-row incremental stop detection for one tokenizer and one set of stops.

    `finish(ids)` is called after each token appended to a row's generated `ids` and
    says whether (and why) the row is done. The tail is decoded only when the new token's
    own text holds the last character of some stop (memoised per token id), since the
    token completing a stop string must add that character; stops ending in a non-ASCII
    character (which a byte token may only half carry) are always checked.
    """

    def __init__(self, tokenizer: Any, stops: Sequence[str], eos: Sequence[int]) -> None:
        self.tokenizer = tokenizer
        self.stops = tuple(s for s in stops if s)
        self.eos = frozenset(eos)
        self.window = stop_window(self.stops)
        self._last_chars = {s[-1] for s in self.stops}
        self._always = any(not c.isascii() for c in self._last_chars)
        self._can_end: dict[int, bool] = {}

    def _may_end_stop(self, token: int) -> bool:
        if self._always:
            return True
        known = self._can_end.get(token)
        if known is None:
            piece = self.tokenizer.decode([token])
            known = self._can_end[token] = any(c in piece for c in self._last_chars)
        return known

    def finish(self, ids: Sequence[int]) -> Finish | None:
        """"eos" or "stop" when the last id of `ids` ends the completion, else None."""
        token = ids[-1]
        if token in self.eos:
            return "eos"
        if self.stops and self._may_end_stop(token):
            tail = self.tokenizer.decode(list(ids[-self.window:]))
            if any(stop in tail for stop in self.stops):
                return "stop"
        return None

    def text(self, ids: Sequence[int]) -> str:
        """The completion's text: special tokens skipped, cut after the earliest stop."""
        text = self.tokenizer.decode(list(ids), skip_special_tokens=True)
        return cut_at_stop(text, self.stops)[0]
