"""Seeds and `random.Random` streams derived from a key, the same on every machine and run.

A stream that depends only on (seed, purpose, ...) lets one episode, task or sample be
replayed alone, whatever else ran before it: the parts are joined with `sep` and hashed
with sha256 (never `hash()`, which is salted per process), and the first `nbytes` bytes of
the digest are the seed. The perturber, the procedural generators, trajectory synthesis and
the benchmark harness all derive their streams here.
"""

from __future__ import annotations

import hashlib
import random


def derived_seed(*parts: object, sep: str = "|", nbytes: int = 8) -> int:
    """The integer seed of `parts` (str() of each, joined with `sep`)."""
    key = sep.join(map(str, parts)).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:nbytes], "big")


def derived_rng(*parts: object, sep: str = "|", nbytes: int = 8) -> random.Random:
    """A `random.Random` seeded with `derived_seed(*parts, sep=sep, nbytes=nbytes)`."""
    return random.Random(derived_seed(*parts, sep=sep, nbytes=nbytes))
