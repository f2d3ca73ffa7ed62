"""Per-episode bookkeeping of the reward: terms per turn, the cap, the turn reward vector."""

from __future__ import annotations

from .config import RewardConfig
from .dataflow import contributing, make_call, relates_to_problem
from .settlement import clip_running, settle
from .terms import TERMS, History, Turn, normalize_code
from .values import canonical_values, informative


class RewardTracker:
    """Scores the turns of one episode.

    `score(turn)` returns the turn's terms (each weighted) paid now, `process` (what the
    step pays after the episode cap) and `outcome`. A code turn's credit is held and
    settled by the answer turn (see `settlement.py`): that step's `settled` is the credit
    paid for earlier turns (included in its `process`). `turn_rewards` (one entry per
    scored turn) and `turn_terms` attribute the settled credit to the turns that earned it;
    they always add up to the step rewards paid so far.
    """

    def __init__(self, config: RewardConfig) -> None:
        self.config = config
        self.reset()

    def reset(self, reference_solution: str | None = None, problem: str | None = None) -> None:
        """Start a new episode (the reference solution enables `reference`; the problem's
        numbers are what a grounded computation must use)."""
        self.history = History()
        if reference_solution:
            self.history.reference = informative(canonical_values(reference_solution))
        if problem:
            self.history.problem = canonical_values(problem)
        self.process_total = 0.0
        self.turn_rewards: list[float] = []
        self.turn_terms: list[dict[str, float]] = []
        self._held: list[dict[str, float]] = []
        self._raw: list[float] = []
        self._outcomes: list[float] = []

    def score(self, turn: Turn, *, correct: bool | None = None) -> dict[str, float]:
        """Terms of `turn`; `correct` is the grader's verdict on an answer turn."""
        terms: dict[str, float] = {}
        held: dict[str, float] = {}
        if self.config.process_enabled:
            terms = {name: term(turn, self.history, self.config) for name, term in TERMS.items()}
            if turn.kind == "code":
                held = {name: v for name, v in terms.items() if v > 0}
                terms = {name: min(v, 0.0) for name, v in terms.items()}
        self.turn_terms.append(dict(terms))
        self._held.append(held)
        self._raw.append(sum(terms.values()))
        self._outcomes.append(self.config.outcome if correct else 0.0)
        settled = self._settle(turn) if self.config.process_enabled else 0.0
        self._remember(turn)
        paid_before = self.process_total
        self._refresh()
        step = {**terms, "process": self.process_total - paid_before,
                "outcome": self._outcomes[-1]}
        if turn.kind == "answer" and self.config.process_enabled:
            step["settled"] = settled
        return step

    def _settle(self, turn: Turn) -> float:
        """On an answer turn, pay the held credit of the calls the answer came from."""
        if turn.kind != "answer":
            return 0.0
        calls = self.history.calls
        used = contributing(calls, canonical_values(turn.answer or ""))
        if not relates_to_problem(calls, used, self.history.problem):
            return 0.0
        paid = 0.0
        for index, credit in settle(self._held, used).items():
            for name, amount in credit.items():
                self.turn_terms[index][name] = self.turn_terms[index].get(name, 0.0) + amount
            self._raw[index] += sum(credit.values())
            self._held[index] = {}
            paid += sum(credit.values())
        return paid

    def _refresh(self) -> None:
        processes = clip_running(self._raw, self.config.process_cap, self.config.process_floor)
        self.process_total = sum(processes)
        self.turn_rewards = [p + o for p, o in zip(processes, self._outcomes, strict=True)]
        for terms, process, outcome in zip(self.turn_terms, processes, self._outcomes,
                                           strict=True):
            terms.update({"process": process, "outcome": outcome})

    def _remember(self, turn: Turn) -> None:
        history = self.history
        if turn.kind == "code" and turn.code:
            history.calls.append(make_call(len(self.turn_terms) - 1, turn.code, turn.status,
                                           turn.stdout, self.config.max_printed_values))
            history.tool_calls += 1
            history.executed.add(normalize_code(turn.code))
            if turn.status == "ok":
                # Only computed values: a number the code merely spells out (print(17)
                # after a hint said 17) is copied, not produced.
                history.produced |= canonical_values(turn.stdout) - canonical_values(turn.code)
        history.injected |= set(turn.injected)
        history.previous = turn
