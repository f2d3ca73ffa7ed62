"""`Perturber`: decides, per code turn, whether and how to perturb, from the episode's seed.

Every random choice comes from a `random.Random` derived from (seed, turn, purpose)
(`deeptool_env.seeding`),
so an episode's perturbations depend only on the seed, the turn numbers and the code and
outputs passed in, never on `hash()` or on other episodes. Per code turn the env calls
`before_run` (may change the code: intrinsic kinds) and then `after_run` (may change what is
shown); at most one event is produced per turn.

Choosing the kind: with probability `rate` the turn is perturbed, and the enabled kinds are
put in a seeded weighted random order (the first is the weighted draw). If that kind cannot
apply (e.g. numeric corruption with no number printed, stale output on the first code turn)
the next one is tried, and so on: a deterministic fallback (`fallback=False`: no event).
A code-stage kind can only apply in `before_run`; when it fails there, later output kinds
in the order are tried in `after_run`.

A `PerturbationPlan` given to `reset` overrides this on the turns it names: there its kinds
are tried in the listed order, whatever the rate and the cap (see `plan.py`).
"""

from __future__ import annotations

import random
from typing import Any

from ..seeding import derived_rng
from .base import Context, PerturbationEvent, ToolOutput
from .config import KIND_SPECS, PerturbationConfig, resolve_perturbation
from .extrinsic import deliver_withheld
from .numbers import numbers_in
from .plan import PerturbationPlan


def _text(output: ToolOutput) -> str:
    return f"{output.stdout}\n{output.stderr}"


def injected_values(event: PerturbationEvent | dict[str, Any] | None) -> set[str]:
    """Numbers the perturbation put in front of the agent that the clean output lacked.

    For output kinds: the numbers of the shown text absent from this run's clean output (a
    corrupted number, a hint's value, a timeout's seconds, a marker's count); a stale replay
    only counts numbers that the replayed run did not print either (i.e. corruptions it
    carries), and a late delivery none (it is genuine output). For wrong_constant: the new
    literal. Accepts the event or its `to_dict()` (as in `info["perturbation"]`).
    """
    if event is None:
        return set()
    params = event["params"] if isinstance(event, dict) else event.params
    return set(params.get("injected", ()))


class Perturber:
    """The perturbations of one environment: `reset(seed)` per episode, then per code turn
    `before_run(code, turn)` and `after_run(output, turn)`.

    `timeout_s` is the tool time limit quoted by fake timeouts. `events` lists this
    episode's events in order.
    """

    def __init__(self, config: PerturbationConfig | str | dict[str, Any] | None = None, *,
                 timeout_s: float = 10.0) -> None:
        self.config = resolve_perturbation(config)
        self.timeout_s = timeout_s
        self.seed: int | None = None
        self._started = False
        self._clear()
        self._planned = PerturbationPlan()

    @property
    def active(self) -> bool:
        """Whether this perturber can ever change anything."""
        return self.config.active

    def reset(self, seed: int | None, plan: PerturbationPlan | None = None) -> None:
        """Start an episode. None draws a fresh seed (kept in `self.seed` for replay);
        `plan` fixes the kinds of the turns it names, for this episode only."""
        self.seed = random.SystemRandom().randrange(2**63) if seed is None else int(seed)
        self._started = True
        self._clear()
        self._planned = plan or PerturbationPlan()

    def _clear(self) -> None:
        self.events: list[PerturbationEvent] = []
        self._applied = 0
        self._cells = 0
        self._previous: tuple[int, ToolOutput] | None = None
        self._previous_sources: tuple[ToolOutput, ...] = ()
        self._withheld: tuple[int, ToolOutput] | None = None
        self._turn: int | None = None
        self._code: str | None = None
        self._to_try: list[str] = []

    def _rng(self, turn: int, purpose: str) -> random.Random:
        return derived_rng("deeptool-perturbation", self.seed, turn, purpose)

    def _draw_kinds(self, turn: int) -> list[str]:
        """The kinds to try this turn, in order (empty: not perturbed)."""
        config = self.config
        capped = config.max_per_episode is not None and self._applied >= config.max_per_episode
        if self._withheld is not None:
            return []
        planned = self._planned.kinds_at(turn)
        if planned:
            return list(planned)
        if not config.active or capped:
            return []
        rng = self._rng(turn, "plan")
        if rng.random() >= config.rate:
            return []
        keyed = [(rng.random() ** (1.0 / weight), name) for name, weight in config.enabled]
        order = [name for _, name in sorted(keyed, reverse=True)]
        return order if config.fallback else order[:1]

    def _start_turn(self, turn: int, code: str | None) -> None:
        if not self._started:
            raise RuntimeError("call Perturber.reset(seed) at the start of each episode")
        self._turn, self._code = turn, code
        self._to_try = self._draw_kinds(turn)

    def _context(self) -> Context:
        return Context(severity=self.config.severity, numeric_modes=self.config.numeric_modes,
                       timeout_s=self.timeout_s, code=self._code, cell=self._cells,
                       previous=self._previous)

    def _record(self, turn: int, name: str, params: dict[str, Any], *,
                clean: tuple[ToolOutput, ...] = (), shown: ToolOutput | None = None,
                counts: bool = True) -> PerturbationEvent:
        """Record an event; for output kinds, `injected` is the numbers of `shown` found in
        none of the `clean` outputs (this run's, plus the runs replayed by stale output)."""
        if clean and shown is not None:
            genuine = {number for output in clean for number in numbers_in(_text(output))}
            params["injected"] = sorted(set(numbers_in(_text(shown))) - genuine)
        params["turn"] = turn
        event = PerturbationEvent(name, KIND_SPECS[name].family, params)
        self.events.append(event)
        self._applied += counts
        return event

    def before_run(self, code: str, turn: int) -> tuple[str, PerturbationEvent | None]:
        """The code to run this turn and the intrinsic event, if any (else `code`, None)."""
        self._start_turn(turn, code)
        while self._to_try and KIND_SPECS[self._to_try[0]].stage == "code":
            name = self._to_try.pop(0)
            result = KIND_SPECS[name].apply(code, self._rng(turn, name), self._context())
            if result is not None:
                self._to_try = []
                new_code, params = result
                return new_code, self._record(turn, name, params)
        return code, None

    def after_run(self, output: ToolOutput, turn: int
                  ) -> tuple[ToolOutput, PerturbationEvent | None]:
        """What the agent is shown of this run's `output`, and the event, if any.

        A turn after a stale_output turn always delivers the withheld output first (event
        kind "stale_output", params phase "deliver"; it does not count towards the cap).
        """
        if self._turn != turn:
            self._start_turn(turn, None)
        self._cells += 1
        shown, event, sources = output, None, (output,)
        if self._withheld is not None:
            from_turn, withheld = self._withheld
            self._withheld = None
            shown, sources = deliver_withheld(withheld, output), (output, withheld)
            event = self._record(turn, "stale_output",
                                 {"phase": "deliver", "withheld_turn": from_turn},
                                 clean=sources, shown=shown, counts=False)
        for name in self._to_try if event is None else ():
            kind = KIND_SPECS[name]
            result = None
            if kind.stage == "output":
                result = kind.apply(output, self._rng(turn, name), self._context())
            if result is None:
                continue
            shown, params = result
            if name == "stale_output":
                params.update(phase="show", withheld_turn=turn)
                self._withheld = (turn, output)
                sources = (output, *self._previous_sources)
            event = self._record(turn, name, params, clean=sources, shown=shown)
            break
        self._to_try = []
        self._previous, self._previous_sources = (turn, shown), sources
        return shown, event
