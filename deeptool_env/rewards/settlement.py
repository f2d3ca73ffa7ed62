"""Settling the credit of code turns once the answer is known.

What a code turn earns (`format`, `execution`, `novelty`, `recovery`, `reference`) is held
when it runs. The answer turn pays it only to the calls the answer was derived from
(`dataflow.contributing`), and pays their mean, not their sum: an episode earns the tool
credit of one good call however many calls it needed, so an extra call never adds credit
while its `call_cost` is paid at once. A call nothing used earns nothing.
"""

from __future__ import annotations

from collections.abc import Iterable


def settle(held: list[dict[str, float]], used: Iterable[int]) -> dict[int, dict[str, float]]:
    """Credit paid to each contributing turn: every held term split evenly over the
    contributing calls, so that together they earn the mean of their credits."""
    chosen = sorted(set(used))
    return {t: {name: amount / len(chosen) for name, amount in held[t].items()}
            for t in chosen}


def clip_running(raw: list[float], cap: float, floor: float) -> list[float]:
    """Per-turn amounts after clipping the running sum to `[-floor, cap]`."""
    total, out = 0.0, []
    for amount in raw:
        capped = min(cap, max(-floor, total + amount))
        out.append(capped - total)
        total = capped
    return out
