"""Per-episode bookkeeping of the reward: terms per turn, the cap, the turn reward vector."""

from __future__ import annotations

from .config import RewardConfig
from .terms import TERMS, History, Turn, normalise_code
from .values import canonical_values, informative


class RewardTracker:
    """Scores the turns of one episode.

    `score(turn)` returns the turn's terms (each weighted), `process` (their sum after the
    episode cap) and `outcome`; `turn_rewards` is the per-turn reward vector a trainer
    assigns to the tokens of each turn.
    """

    def __init__(self, config: RewardConfig) -> None:
        self.config = config
        self.reset()

    def reset(self, reference_solution: str | None = None) -> None:
        """Start a new episode (the task's reference solution enables `reference`)."""
        self.history = History()
        if reference_solution:
            self.history.reference = informative(canonical_values(reference_solution))
        self.process_total = 0.0
        self.turn_rewards: list[float] = []
        self.turn_terms: list[dict[str, float]] = []

    def score(self, turn: Turn, *, correct: bool | None = None) -> dict[str, float]:
        """Terms of `turn`; `correct` is the grader's verdict on an answer turn."""
        terms: dict[str, float] = {}
        if self.config.process_enabled:
            terms = {name: term(turn, self.history, self.config) for name, term in TERMS.items()}
        raw = sum(terms.values())
        capped = min(self.config.process_cap,
                     max(-self.config.process_floor, self.process_total + raw))
        process = capped - self.process_total
        self.process_total = capped
        outcome = self.config.outcome if correct else 0.0
        terms.update({"process": process, "outcome": outcome})
        self._remember(turn)
        self.turn_rewards.append(process + outcome)
        self.turn_terms.append(terms)
        return terms

    def _remember(self, turn: Turn) -> None:
        history = self.history
        if turn.kind == "code" and turn.code:
            history.tool_calls += 1
            history.executed.add(normalise_code(turn.code))
            if turn.status == "ok":
                # Only computed values: a number the code merely spells out (print(17)
                # after a hint said 17) is copied, not produced.
                history.produced |= canonical_values(turn.stdout) - canonical_values(turn.code)
        history.injected |= set(turn.injected)
        history.previous = turn
