"""Agents for harness tests: instant scripted solvers of the nth-prime family."""

from __future__ import annotations

import re
import time
from typing import Any

from agents import Agent

_N = re.compile(r"p_\{(\d+)\}")
_NUMBER = re.compile(r"-?\d+")


class InstantSolver(Agent):
    """Computes the prime with one tool call, then answers what the tool printed."""

    name = "instant-solver"
    concurrent_episodes = True

    def __init__(self, delay_s: float = 0.0, **_: Any) -> None:
        self.delay_s = delay_s

    def act(self, observation: str, info: dict[str, Any]) -> str:
        if self.delay_s:
            time.sleep(self.delay_s)
        match = _N.search(observation)
        if match:
            return f"<code>import sympy\nprint(sympy.prime({match.group(1)}))</code>"
        numbers = _NUMBER.findall(observation)
        return f"<answer>\\boxed{{{numbers[-1] if numbers else 0}}}</answer>"


class SlowSolver(InstantSolver):
    """The same, 0.3 s per turn (to interrupt a run midway)."""

    def __init__(self, **_: Any) -> None:
        super().__init__(delay_s=0.3)
