"""`PrefixCache`: the KV states of recently generated sequences, so that a prompt that
extends one (the next turn of an episode: context + sampled ids + observation) or shares
its beginning (the system prompt) only prefills its new tokens.

Entries are valid for the weights they were computed with: `HFGenerator` drops them all
when the model's parameters change (their in-place version counters move, as after an
optimiser step or `load_state_dict`). The cache is bounded in bytes, least recently used
entries leave first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Entry:
    """The ids a KV state covers and, per layer, its (keys, values) [heads, tokens, dim]."""

    ids: np.ndarray
    kv: list[tuple[Any, Any]]
    nbytes: int


class PrefixCache:
    """Least-recently-used KV states of sequences, looked up by longest common prefix."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.entries: OrderedDict[int, Entry] = OrderedDict()
        self.nbytes = 0
        self._next = 0
        self.version: int | None = None

    def clear(self) -> None:
        self.entries.clear()
        self.nbytes = 0

    def check_version(self, version: int) -> None:
        """Drop every entry when the weights' version differs from the entries' one."""
        if version != self.version:
            self.clear()
            self.version = version

    def store(self, ids: Sequence[int], kv: list[tuple[Any, Any]]) -> None:
        nbytes = sum(k.nbytes + v.nbytes for k, v in kv)
        if nbytes > self.max_bytes:
            return
        self.entries[self._next] = Entry(np.asarray(ids, dtype=np.int64), kv, nbytes)
        self._next += 1
        self.nbytes += nbytes
        while self.nbytes > self.max_bytes:
            _, evicted = self.entries.popitem(last=False)
            self.nbytes -= evicted.nbytes

    def longest(self, prompt: Sequence[int]) -> tuple[int, Entry | None]:
        """(reusable length, entry): the longest prefix of `prompt` some entry covers,
        at most `len(prompt) - 1` (the last prompt token must run to give logits)."""
        ids = np.asarray(prompt, dtype=np.int64)
        best, found, key = 0, None, None
        for name, entry in self.entries.items():
            n = min(len(entry.ids), len(ids) - 1)
            if n <= best:
                continue
            differ = np.flatnonzero(entry.ids[:n] != ids[:n])
            common = int(differ[0]) if len(differ) else n
            if common > best:
                best, found, key = common, entry, name
        if key is not None:
            self.entries.move_to_end(key)
        return best, found
