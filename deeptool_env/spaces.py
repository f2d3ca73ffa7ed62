"""`UnicodeText`: a Gymnasium text space that accepts whatever an LLM writes.

Gymnasium's `Text` only contains strings drawn from its charset (alphanumerics by
default), so LLM output with spaces, newlines, LaTeX or emoji fails `contains` and
`check_env`. `UnicodeText` keeps `Text`'s length bounds but accepts any Unicode text,
samples from a printable charset, and stores batches in UTF-8 shared memory for
`AsyncVectorEnv`. Unicode text means no lone surrogates (`"\\ud800"` is a Python `str` but
no UTF-8 encoder, tokenizer or JSON writer takes it); `unicode_text` makes any `str` so.

`gymnasium.spaces.flatten` gives the code points, padded to `max_length` with `FLAT_PAD`
(one past the last code point), in an int32 `Box`; `unflatten` reverses it.
"""

from __future__ import annotations

import multiprocessing as mp
import re
import string
from collections.abc import Sequence
from ctypes import c_uint8
from typing import Any

import numpy as np
from gymnasium.spaces import Box, Text
from gymnasium.spaces.utils import flatdim, flatten, flatten_space, unflatten
from gymnasium.vector.utils import (
    create_shared_memory,
    read_from_shared_memory,
    write_to_shared_memory,
)

SAMPLE_CHARSET = string.ascii_letters + string.digits + " \n.,:;()[]{}+-*/=<>_\\^$"
_LENGTH_BYTES = 4
_SURROGATE = re.compile("[\ud800-\udfff]")
#: The flat form's padding: one past the largest code point, so never a character.
FLAT_PAD = 0x110000


def unicode_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD, so it encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


class UnicodeText(Text):
    """Any Unicode string of `min_length` to `max_length` characters.

    `sample()` draws from a printable ASCII charset (enough for fuzzing an env);
    `contains()` accepts every Unicode character, as LLM text needs, but no lone surrogate
    (which UTF-8 cannot encode).
    """

    def __init__(self, max_length: int, *, min_length: int = 0,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__(max_length=max_length, min_length=min_length,
                         charset=SAMPLE_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        return (isinstance(x, str) and self.min_length <= len(x) <= self.max_length
                and _SURROGATE.search(x) is None)

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, UnicodeText) and self.min_length == other.min_length
                and self.max_length == other.max_length)

    def __hash__(self) -> int:
        return hash(("UnicodeText", self.min_length, self.max_length))

    @property
    def slot_bytes(self) -> int:
        """Bytes one string takes in shared memory (UTF-8 is at most 4 bytes a char)."""
        return _LENGTH_BYTES + 4 * self.max_length


@create_shared_memory.register(UnicodeText)
def _create_shared_memory_unicode(space: UnicodeText, n: int = 1, ctx: Any = mp) -> Any:
    return ctx.Array(c_uint8, n * space.slot_bytes)


class SharedTextBatch(Sequence):
    """A live view of N strings in shared memory (what `AsyncVectorEnv` reads).

    `AsyncVectorEnv` reads its observation buffer once and expects a view that follows
    later writes (as numpy arrays do); a plain tuple would stay stale, which is the bug of
    Gymnasium's own `Text` here. Copies (`copy.deepcopy`, the default `copy=True` path)
    are plain tuples of the current strings.
    """

    def __init__(self, space: UnicodeText, shared_memory: Any, n: int) -> None:
        self._rows = np.frombuffer(shared_memory.get_obj(), dtype=np.uint8).reshape(
            n, space.slot_bytes)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        row = self._rows[index]
        size = int.from_bytes(row[:_LENGTH_BYTES].tobytes(), "little")
        return row[_LENGTH_BYTES:_LENGTH_BYTES + size].tobytes().decode("utf-8")

    def __deepcopy__(self, memo: dict) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: Any) -> bool:
        return tuple(self) == tuple(other) if isinstance(other, Sequence) else NotImplemented

    def __repr__(self) -> str:
        return repr(tuple(self))


@read_from_shared_memory.register(UnicodeText)
def _read_shared_memory_unicode(space: UnicodeText, shared_memory: Any,
                                n: int = 1) -> SharedTextBatch:
    return SharedTextBatch(space, shared_memory, n)


@write_to_shared_memory.register(UnicodeText)
def _write_shared_memory_unicode(space: UnicodeText, index: int, values: str,
                                 shared_memory: Any) -> None:
    data = values.encode("utf-8")
    if len(data) > space.slot_bytes - _LENGTH_BYTES:
        raise ValueError(f"text of {len(values)} characters does not fit {space}")
    buffer = np.frombuffer(shared_memory.get_obj(), dtype=np.uint8)
    start = index * space.slot_bytes
    buffer[start:start + _LENGTH_BYTES] = np.frombuffer(
        len(data).to_bytes(_LENGTH_BYTES, "little"), dtype=np.uint8)
    buffer[start + _LENGTH_BYTES:start + _LENGTH_BYTES + len(data)] = np.frombuffer(
        data, dtype=np.uint8)


@flatdim.register(UnicodeText)
def _flatdim_unicode(space: UnicodeText) -> int:
    return space.max_length


@flatten_space.register(UnicodeText)
def _flatten_space_unicode(space: UnicodeText) -> Box:
    return Box(low=0, high=FLAT_PAD, shape=(space.max_length,), dtype=np.int32)


@flatten.register(UnicodeText)
def _flatten_unicode(space: UnicodeText, x: str) -> np.ndarray:
    if not space.contains(x):
        why = ("not a str" if not isinstance(x, str) else "a lone surrogate" if
               _SURROGATE.search(x) else f"{len(x)} characters")
        raise ValueError(f"cannot flatten {x!r:.80} into {space}: {why}")
    flat = np.full(space.max_length, FLAT_PAD, dtype=np.int32)
    flat[:len(x)] = [ord(char) for char in x]
    return flat


@unflatten.register(UnicodeText)
def _unflatten_unicode(space: UnicodeText, x: np.ndarray) -> str:
    points = np.asarray(x)
    if points.shape != (space.max_length,) or ((points < 0) | (points > FLAT_PAD)).any():
        raise ValueError(f"cannot unflatten into {space}: expected {space.max_length} code "
                         f"points in [0, {FLAT_PAD}] ({FLAT_PAD} pads)")
    text = "".join(chr(int(point)) for point in points if point != FLAT_PAD)
    if not space.contains(text):
        raise ValueError(f"cannot unflatten into {space}: the code points give {text!r:.80}")
    return text
