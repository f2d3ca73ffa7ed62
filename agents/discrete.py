"""Classic-RL view of DeepTool-Math: a `Discrete(n)` action space with action masks.

`DiscreteCandidateWrapper` keeps the real text env underneath (real sandbox, real grader,
real reward) and offers, per problem, `n` candidate assistant turns. It exists so that
off-the-shelf RL (e.g. `sb3_contrib.MaskablePPO`) can train on the environment and serve as
a sanity baseline, without any language model. Slots, in a fixed order so that action `i`
always means the same kind of move:

| slot | candidate | valid |
| --- | --- | --- |
| 0 `solve` | a correct program for the problem's family (`candidates.py`) | always |
| 1 `buggy` | the same program with a one-input slip: prints a wrong number | always |
| 2 `crash` | a program that raises | always |
| 3 .. n-2 `value<j>` | `<answer>\\boxed{v}</answer>`, v the j-th most recent value | once seen |
| n-1 `guess` | an answer with a random number drawn per episode | always |

Values are the distinct last numbers printed by successful code turns, most recent first.

A masked action that is taken anyway (e.g. by `check_env`'s random sampling) is sent as a
turn without an action, which the env scores as the protocol error `no_action`.

The observation is a fixed-size `Box` in [0, 1] built only from what the agent itself has
seen and done (never the gold answer): turn and tool-call counts, the last shown tool status,
whether the last output held a value, the last action, per value slot its presence, how
often it was seen and which programs printed it, which programs ran, and the problem's
family and difficulty. `info["text_observation"]` keeps the env's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from deeptool_env.tasks import ProceduralTaskSet, Task

from .candidates import PROGRAM_KINDS, SOLVERS, program

STATUSES = ("none", "ok", "error", "timeout", "other", "invalid")
_VALUE = re.compile(r"-?\d+(?:\s*/\s*\d+)?")
_NO_ACTION = "<think>(this candidate slot is empty)</think>"


@dataclass(frozen=True)
class Candidate:
    """One slot's assistant turn: `label` names the move, `text` is what the env receives."""

    label: str
    text: str


def last_value(observation: str) -> str | None:
    """The last number (integer or `p/q`) printed in a tool observation, or None."""
    body = observation.replace("<output>", "").replace("</output>", "")
    found = _VALUE.findall(body)
    return found[-1].replace(" ", "") if found else None


class CandidateProposer:
    """Builds the `n_actions` candidate turns of one problem (see the module's slot table).

    Programs are fixed per episode (`reset`); the answer slots follow the values seen so far.
    """

    def __init__(self, n_actions: int = 8, guess_digits: tuple[int, int] = (1, 6)) -> None:
        if n_actions < len(PROGRAM_KINDS) + 2:
            raise ValueError(f"n_actions must be >= {len(PROGRAM_KINDS) + 2}, got {n_actions}")
        self.n_actions = n_actions
        self.value_slots = n_actions - len(PROGRAM_KINDS) - 1
        self.guess_digits = guess_digits
        self._programs: list[Candidate] = []
        self._guess = Candidate("guess", "")

    def reset(self, task: Task, rng: np.random.Generator) -> None:
        """Write the programs for `task` and draw this episode's guess."""
        family, params = task.meta["family"], task.meta["params"]
        self._programs = [Candidate(kind, f"<code>\n{program(family, params, kind)}\n</code>")
                          for kind in PROGRAM_KINDS]
        digits = int(rng.integers(self.guess_digits[0], self.guess_digits[1] + 1))
        guess = int(rng.integers(10 ** (digits - 1), 10**digits))
        self._guess = Candidate("guess", answer_turn(str(guess)))

    def propose(self, values: list[str]) -> list[Candidate | None]:
        """The slots given the distinct values seen (most recent first); None is empty."""
        answers: list[Candidate | None] = [
            Candidate(f"value{j}", answer_turn(values[j])) if j < len(values) else None
            for j in range(self.value_slots)]
        return [*self._programs, *answers, self._guess]


def answer_turn(value: str) -> str:
    """The final-answer turn for `value`."""
    return f"<answer>\\boxed{{{value}}}</answer>"


class DiscreteCandidateWrapper(gym.Wrapper):
    """`Discrete(n_actions)` actions with `action_masks()` over candidates; `Box` features.

    Needs a procedural task set (`tasks="procedural:..."`) whose families all have
    candidate programs (`candidates.SOLVERS`). Works with any reward preset.
    """

    def __init__(self, env: gym.Env, n_actions: int = 8,
                 proposer: CandidateProposer | None = None) -> None:
        super().__init__(env)
        tasks = env.unwrapped.tasks
        if not isinstance(tasks, ProceduralTaskSet):
            raise ValueError("DiscreteCandidateWrapper needs a procedural task set, e.g. "
                             "tasks='procedural:modpow+crt'")
        missing = [f for f in tasks.families if f not in SOLVERS]
        if missing:
            raise ValueError(f"no candidate programs for families {missing}")
        self.families = tuple(tasks.families)
        self.max_turns = int(env.unwrapped.config.max_turns)
        self.proposer = proposer or CandidateProposer(n_actions)
        self.n_actions = self.proposer.n_actions
        self.action_space = gym.spaces.Discrete(self.n_actions)
        size = (3 + len(STATUSES) + self.n_actions + 1 + self.proposer.value_slots
                * (2 + len(PROGRAM_KINDS)) + len(PROGRAM_KINDS) + len(self.families) + 3)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (size,), np.float32)
        self._rng = np.random.default_rng()
        self._task: Task | None = None
        self._clear()

    def _clear(self) -> None:
        self._turn = self._code_runs = 0
        self._status, self._last_had_value, self._last_action = "none", False, None
        self._values: list[str] = []
        self._seen: dict[str, int] = {}
        self._sources: dict[str, set[str]] = {}
        self._ran: set[str] = set()
        self._slots: list[Candidate | None] = [None] * self.n_actions
        self._over = True

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        text, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._clear()
        self._task = self.env.unwrapped.task
        self.proposer.reset(self._task, self._rng)
        self._slots = self.proposer.propose(self._values)
        self._over = False
        return self._features(), {**info, "text_observation": text}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        slot = int(action)
        if not 0 <= slot < self.n_actions:
            raise ValueError(f"action must be in [0, {self.n_actions}), got {action!r}")
        candidate = self._slots[slot] if not self._over else None
        turn = candidate.text if candidate is not None else _NO_ACTION
        text, reward, terminated, truncated, info = self.env.step(turn)
        self._turn += 1
        self._last_action = slot
        self._record(candidate, text, info)
        self._slots = self.proposer.propose(self._values)
        self._over = terminated or truncated
        info = {**info, "text_observation": text, "action_text": turn,
                "candidate": None if candidate is None else candidate.label,
                "masked_action": candidate is None}
        return self._features(), float(reward), terminated, truncated, info

    def _record(self, candidate: Candidate | None, text: str, info: dict[str, Any]) -> None:
        """Update what the agent has seen after one turn."""
        tool = info.get("tool")
        self._last_had_value = False
        if tool is None:
            self._status = "invalid" if info.get("parse_error") else "none"
            return
        self._code_runs += 1
        shown = tool.get("shown_status", tool.get("status"))
        self._status = shown if shown in ("ok", "error", "timeout") else "other"
        if candidate is not None:
            self._ran.add(candidate.label)
        value = last_value(text) if shown == "ok" else None
        if value is None:
            return
        self._last_had_value = True
        self._seen[value] = self._seen.get(value, 0) + 1
        if candidate is not None:
            self._sources.setdefault(value, set()).add(candidate.label)
        self._values = [value, *(v for v in self._values if v != value)]

    def action_masks(self) -> np.ndarray:
        """Which slots hold a candidate now (all False once the episode is over)."""
        if self._over:
            return np.zeros(self.n_actions, dtype=bool)
        return np.array([c is not None for c in self._slots], dtype=bool)

    @property
    def candidates(self) -> list[Candidate | None]:
        """The current slots (None: empty)."""
        return list(self._slots)

    def _features(self) -> np.ndarray:
        """The fixed-size observation (see the module docstring)."""
        scale = max(self.max_turns, 1)
        parts: list[float] = [min(self._turn / scale, 1.0), min(self._code_runs / scale, 1.0),
                              float(self._last_had_value)]
        parts += [float(self._status == s) for s in STATUSES]
        parts += [float(self._last_action == i) for i in range(self.n_actions)]
        parts.append(float(self._last_action is None))
        for j in range(self.proposer.value_slots):
            value = self._values[j] if j < len(self._values) else None
            sources = self._sources.get(value, set()) if value is not None else set()
            parts += [float(value is not None),
                      min(self._seen.get(value, 0) / scale, 1.0) if value is not None else 0.0]
            parts += [float(kind in sources) for kind in PROGRAM_KINDS]
        parts += [float(kind in self._ran) for kind in PROGRAM_KINDS]
        meta = self._task.meta if self._task is not None else {}
        family, difficulty = meta.get("family"), meta.get("difficulty")
        parts += [float(family == f) for f in self.families]
        parts += [float(difficulty == d) for d in (1, 2, 3)]
        return np.asarray(parts, dtype=np.float32)


def make_discrete_env(families: tuple[str, ...] = ("modpow", "crt", "nth_prime",
                                                   "prime_factors"),
                      n_actions: int = 8, reward: str = "outcome",
                      **options: Any) -> DiscreteCandidateWrapper:
    """`DeepTool-Math-v0` on `procedural:<families>`, wrapped; `options` go to `gym.make`.

    The reward defaults to `"outcome"`: the candidate programs are fixed, so the process
    terms of `"deeptool"` would mostly score the candidate set, and with outcome only the
    mean episode reward is the policy's accuracy. Pass `reward="deeptool"` to train on it.
    """
    import deeptool_env  # noqa: F401  (registers the ids)

    env = gym.make("DeepTool-Math-v0", tasks="procedural:" + "+".join(families),
                   reward=reward, **options)
    return DiscreteCandidateWrapper(env, n_actions=n_actions)
