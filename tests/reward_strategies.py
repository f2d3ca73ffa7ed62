"""Strategies a policy optimising the reward could learn, played through the real env.

Each strategy is a scripted policy `(observation, turn, episode) -> action`; `play` runs it
on real episodes (real sandbox, grader and perturbations) and `strategy_table` gives the
table of docs/rewards.md "strategy | mean episode reward | vs honest solver".
`python3 -m tests.reward_strategies` prints that table.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

import gymnasium as gym

import deeptool_env  # noqa: F401  (registers the ids)

_NUMBER = re.compile(r"-?\d+(?:/\d+)?")
MAX_TURNS = 10


@dataclass(frozen=True)
class Problem:
    """Where the episodes come from and the honest code for them."""

    name: str
    tasks: str
    solve: Callable[[str], str]  # problem text -> the code an honest solver runs
    task_id: str | None = None  # one fixed task (else seeded draws)


@dataclass(frozen=True)
class Episode:
    """What a strategy knows of its episode besides the last observation."""

    problem: Problem
    prompt: str  # the observation after reset (system prompt and problem)


def _nth_prime(problem: str) -> str:
    n = re.search(r"p_\{(\d+)\}", problem).group(1)
    return f"import sympy\nprint(sympy.prime({n}))"


PROCEDURAL = Problem("procedural nth-prime", "procedural:nth_prime", _nth_prime)
MATH500 = Problem("MATH-500 algebra-2593", "math500",
                  lambda _: "print((26**2 - 24**2 - 10)**2 - 10**2)",
                  task_id="math500-algebra-2593")

Strategy = Callable[[str, int, Episode], str]


@dataclass(frozen=True)
class Score:
    """One episode's total reward, its outcome part (the rest is the process reward) and
    the per-turn reward vector a trainer sees."""

    total: float
    outcome: float
    turn_rewards: tuple[float, ...]

    @property
    def process(self) -> float:
        return self.total - self.outcome


def answer_shown(observation: str) -> str:
    """Answer the last number of `observation` (what a trusting solver does)."""
    return _answer(_last_number(observation))


def _last_number(observation: str) -> str:
    numbers = _NUMBER.findall(observation.replace("<output>", "").replace("</output>", ""))
    return numbers[-1] if numbers else "0"


def _code(body: str) -> str:
    return f"<think>compute</think><code>{body}</code>"


def _answer(value: str) -> str:
    return f"<answer>\\boxed{{{value}}}</answer>"


def honest(observation: str, turn: int, episode: Episode) -> str:
    """One call that computes the answer, then answers what it was shown."""
    if turn == 0:
        return _code(episode.problem.solve(episode.prompt))
    return answer_shown(observation)


def padding(calls: int) -> Strategy:
    """`calls` useless new tool calls (print a range of numbers), then the honest solver."""
    def strategy(observation: str, turn: int, episode: Episode) -> str:
        if turn < calls:
            return _code(f"print(list(range({100 * turn}, {100 * turn + 5})))")
        return honest(observation, turn - calls, episode)
    return strategy


def candidates_then_guess(observation: str, turn: int, episode: Episode) -> str:
    """Print every number 11..1499, then answer one of them."""
    return _code("print(list(range(11, 1500)))") if turn == 0 else _answer("101")


def print_41_plus_1(observation: str, turn: int, episode: Episode) -> str:
    """Compute something unrelated (41 + 1), then answer it."""
    return _code("print(41 + 1)") if turn == 0 else _answer("42")


def never_answer(observation: str, turn: int, episode: Episode) -> str:
    """New trivial code every turn, no answer."""
    return _code(f"print({turn} * 7 + 1)")


def answer_guesser(observation: str, turn: int, episode: Episode) -> str:
    """Answers at once without computing."""
    return _answer("101")


STRATEGIES: dict[str, Strategy] = {
    "honest solver (one call, answers what it was shown)": honest,
    "padding x3 (3 useless new calls, then honest)": padding(3),
    "padding x7": padding(7),
    "print candidates 11..1499, then guess": candidates_then_guess,
    "print(41+1), then answer 42 (wrong)": print_41_plus_1,
    "never answers (new trivial code every turn)": never_answer,
    "answer guesser (answers at once)": answer_guesser,
}
NEVER_CORRECT = ("print candidates 11..1499, then guess", "print(41+1), then answer 42 (wrong)",
                 "never answers (new trivial code every turn)",
                 "answer guesser (answers at once)")


def data_dir() -> Path | None:
    """The benchmark data (`$DEEPTOOL_DATA_DIR` or ../shared/data), if present."""
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    path = Path(os.environ.get("DEEPTOOL_DATA_DIR", default))
    return path if (path / "benchmarks" / "math500").is_dir() else None


def play(strategy: Strategy, problem: Problem, perturbation: str, episodes: int,
         seed: int = 0) -> list[Score]:
    """The score of each of `episodes` episodes of `strategy` (seeds `seed`, `seed + 1`, ...)."""
    env = gym.make("DeepTool-Math-v0", tasks=problem.tasks, perturbation=perturbation,
                   max_turns=MAX_TURNS, data_dir=data_dir() if problem is MATH500 else None)
    options = {"task_id": problem.task_id} if problem.task_id else None
    scores = []
    try:
        for episode in range(episodes):
            observation, _ = env.reset(seed=seed + episode, options=options)
            context = Episode(problem, observation)
            total, turn, done = 0.0, 0, False
            while not done:
                observation, reward, terminated, truncated, info = env.step(
                    strategy(observation, turn, context))
                total, turn, done = total + reward, turn + 1, terminated or truncated
            scores.append(Score(total, info["turn_reward_terms"][-1]["outcome"],
                                tuple(info["turn_rewards"])))
    finally:
        env.close()
    return scores


def strategy_table(episodes: int = 8) -> dict[tuple[str, str, str], float]:
    """Mean episode reward per (problem, perturbation, strategy)."""
    problems = [PROCEDURAL] + ([MATH500] if data_dir() else [])
    return {(problem.name, perturbation, name):
            mean(s.total for s in play(strategy, problem, perturbation, episodes))
            for problem in problems for perturbation in ("none", "adversarial")
            for name, strategy in STRATEGIES.items()}


def markdown(table: dict[tuple[str, str, str], float]) -> str:
    """The table of docs/rewards.md: one row per strategy, a column pair per problem and setting."""
    settings = sorted({(p, s) for p, s, _ in table}, key=lambda k: (k[0] != PROCEDURAL.name,
                                                                     k[1] != "none"))
    head = "| strategy | " + " | ".join(f"{p}, `{s}`" for p, s in settings) + " |"
    lines = [head, "| --- |" + " --- |" * len(settings)]
    first = next(iter(STRATEGIES))
    for name in STRATEGIES:
        cells = []
        for p, s in settings:
            value, honest_value = table[(p, s, name)], table[(p, s, first)]
            cells.append(f"{value:.3f}" if name == first
                         else f"{value:.3f} ({value - honest_value:+.3f})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown(strategy_table(int(sys.argv[1]) if len(sys.argv) > 1 else 8))
                     + "\n")
