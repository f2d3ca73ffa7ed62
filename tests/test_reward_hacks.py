"""The reward attacked as a GRPO policy would: every way to earn reward without solving.

The strategies (`reward_strategies.py`) play real episodes; the table of docs/rewards.md comes from
the same code (`python3 -m tests.reward_strategies`).
"""

from __future__ import annotations

from pathlib import Path
from statistics import mean
from typing import Any

import gymnasium as gym
import pytest

from agents import Agent
from benchmarks import evaluate
from deeptool_env.audit import AUDIT_KEYS
from deeptool_env.rewards import PRESETS, TERMS, RewardTracker, Turn

from .reward_strategies import (
    MATH500,
    NEVER_CORRECT,
    PROCEDURAL,
    STRATEGIES,
    Episode,
    answer_shown,
    candidates_then_guess,
    data_dir,
    honest,
    padding,
    play,
    print_41_plus_1,
)

W = PRESETS["deeptool"]
EPISODES = 6


def _mean_total(strategy, problem, perturbation="none", episodes=EPISODES) -> float:
    return mean(s.total for s in play(strategy, problem, perturbation, episodes))


# -- padding -----------------------------------------------------------------------------


@pytest.mark.parametrize("calls", [3, 7])
def test_padding_never_beats_the_honest_solver(calls):
    assert _mean_total(padding(calls), PROCEDURAL) < _mean_total(honest, PROCEDURAL)


@pytest.mark.parametrize("calls", [3, 7])
def test_padding_turns_are_never_paid_under_perturbations(calls):
    # Under `adversarial` the outcome depends on which call the dice perturb, so compare
    # what the trainer's per-turn vector pays the padding turns themselves.
    for score in play(padding(calls), PROCEDURAL, "adversarial", EPISODES):
        assert all(r <= -W.call_cost + 1e-9 for r in score.turn_rewards[:calls])


def test_padding_does_not_pay_on_math500():
    if data_dir() is None:
        pytest.skip("MATH-500 data not found; set DEEPTOOL_DATA_DIR")
    assert _mean_total(padding(3), MATH500, episodes=2) < _mean_total(honest, MATH500,
                                                                      episodes=2)


def test_an_unused_call_costs_and_a_used_one_is_paid_once():
    tracker = RewardTracker(W)
    tracker.reset(problem="Find p_{9718}.")
    tracker.score(Turn(kind="code", code="print(list(range(5)))", status="ok",
                       stdout="[0, 1, 2, 3, 4]\n"))
    tracker.score(Turn(kind="code", code="import sympy\nprint(sympy.prime(9718))",
                       status="ok", stdout="101483\n"))
    terms = tracker.score(Turn(kind="answer", answer="101483"), correct=True)
    assert tracker.turn_rewards[0] == pytest.approx(-W.call_cost)
    credit = W.format + W.execution + W.novelty
    assert tracker.turn_rewards[1] == pytest.approx(credit - W.call_cost)
    assert terms["settled"] == pytest.approx(credit)
    assert sum(tracker.turn_rewards) == pytest.approx(
        sum(t["process"] for t in tracker.turn_terms) + 1.0)


def test_a_call_the_answer_reads_through_a_name_is_paid():
    tracker = RewardTracker(W)
    tracker.reset(problem="Find p_{9718}.")
    tracker.score(Turn(kind="code", code="import sympy\nn = 9718", status="ok"))
    tracker.score(Turn(kind="code", code="print(sympy.prime(n))", status="ok",
                       stdout="101483\n"))
    tracker.score(Turn(kind="answer", answer="101483"), correct=True)
    assert tracker.turn_terms[0]["execution"] > 0 and tracker.turn_terms[1]["execution"] > 0
    assert sum(tracker.turn_rewards[:2]) == pytest.approx(
        W.format + W.execution + W.novelty - 2 * W.call_cost)


# -- computed-value credit for guesses ------------------------------------------------------


@pytest.mark.parametrize("strategy", [candidates_then_guess, print_41_plus_1])
def test_guesses_earn_no_grounding(strategy):
    env = gym.make("DeepTool-Math-v0", tasks="procedural:nth_prime")
    try:
        observation, _ = env.reset(seed=0)
        context = Episode(PROCEDURAL, observation)
        env.step(strategy(observation, 0, context))
        *_, info = env.step(strategy("", 1, context))
    finally:
        env.close()
    assert info["reward_terms"]["grounding"] == 0.0
    assert sum(info["turn_rewards"]) <= W.format


def test_no_strategy_that_never_answers_correctly_beats_the_process_cap():
    for name in NEVER_CORRECT:
        for perturbation in ("none", "adversarial"):
            scores = play(STRATEGIES[name], PROCEDURAL, perturbation, 3)
            assert all(s.outcome == 0 and s.total <= W.process_cap for s in scores), name


# -- the sign of -\frac{p}{q} ----------------------------------------------------------------


def _grounding(printed: str, answer: str) -> float:
    tracker = RewardTracker(W)
    tracker.reset(problem="Compute $\\frac{3}{8} - \\frac{9}{8}$.")
    tracker.score(Turn(kind="code", code="from fractions import Fraction as F\n"
                       "print(F(3, 8) - F(9, 8))", status="ok", stdout=printed))
    return tracker.score(Turn(kind="answer", answer=answer), correct=True)["grounding"]


def test_a_negative_fraction_answer_keeps_its_sign():
    assert _grounding("-3/4\n", "-\\frac{3}{4}") == W.grounding
    assert _grounding("3/4\n", "-\\frac{3}{4}") == 0.0
    assert _grounding("-3/4\n", "\\dfrac{-3}{4}") == W.grounding


# -- turn_rewards has one entry per turn ------------------------------------------------------


def test_turn_rewards_has_one_entry_per_turn_for_code_the_parser_cannot_take():
    env = gym.make("DeepTool-Math-v0", tasks="procedural:nth_prime")
    try:
        env.reset(seed=0)
        turns = ["<code>x = " + "1+" * 2000 + "1\nprint(x)</code>",
                 "<code>print('a\x00b')</code>", "<answer>\\boxed{2001}</answer>"]
        for action in turns:
            *_, info = env.step(action)
    finally:
        env.close()
    assert len(info["turn_rewards"]) == len(info["turn_reward_terms"]) == len(turns)


# -- audit data never reaches the agent -------------------------------------------------------


class _Recorder(Agent):
    """Solves nth-prime problems; answers from `observation_clean` when it is handed one."""

    def __init__(self) -> None:
        self.infos: list[dict[str, Any]] = []

    def act(self, observation: str, info: dict[str, Any]) -> str:
        self.infos.append(dict(info))
        if info.get("turn") is None:
            return f"<code>{PROCEDURAL.solve(observation)}</code>"
        return answer_shown(info.get("observation_clean", observation))


def test_evaluate_keeps_audit_data_in_records_and_away_from_the_agent(tmp_path: Path):
    agent = _Recorder()
    result = evaluate(agent, out=str(tmp_path), benchmarks=("procedural:nth_prime",), k=1,
                      limit=8, perturbation="adversarial", concurrency=2, progress=False)
    leaked = [sorted(AUDIT_KEYS & set(info)) for info in agent.infos]
    assert not any(leaked), leaked
    assert all(set(info.get("tool") or {}) <= {"status"} for info in agent.infos)
    code_turns = [t for r in result.records for t in r.turns if t["tool"]]
    assert code_turns and all(t["observation_clean"] for t in code_turns)
    assert any(t["perturbation"] for t in code_turns)
    # With nothing to read, the agent scores what an honest solver scores.
    correct = mean(r.correct for r in result.records)
    assert correct < 1.0


def test_grpo_rollouts_never_show_the_policy_the_clean_output(tiny):
    from transformers import AutoTokenizer

    from agents.rollout import rollout_episode

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    env = gym.make("DeepTool-Math-v0", tasks="procedural:nth_prime",
                   perturbation={"rate": 1.0, "kinds": ["numeric_corruption"]})
    contexts: list[str] = []

    def policy(context: list[int]) -> list[int]:
        contexts.append(tokenizer.decode(context))
        text = "<code>print(11111 * 11111)</code>" if len(contexts) == 1 else \
            "<answer>\\boxed{1}</answer>"
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    try:
        trajectory = rollout_episode(env, tokenizer, policy, seed=0)
    finally:
        env.close()
    # the clean output; the policy was shown a corrupted number instead
    assert "<output>\n123454321\n</output>" not in contexts[-1]
    assert "<output>" in contexts[-1]
    assert len(trajectory.turn_process) == 2


def test_an_unrelated_call_after_a_perturbed_one_is_no_recovery():
    def recovery_after(check: Turn) -> float:
        tracker = RewardTracker(W)
        tracker.score(Turn(kind="code", code="print(list(range(300, 305)))", status="ok",
                           stdout="[300, 301, 302, 303, 304]\n", perturbed=True))
        return TERMS["recovery"](check, tracker.history, W)

    unrelated = Turn(kind="code", code="print((26**2 - 24**2 - 10)**2 - 10**2)", status="ok",
                     stdout="8000\n")
    assert recovery_after(unrelated) == 0.0
    rerun = Turn(kind="code", code="print(list(range(300, 305)))", status="ok",
                 stdout="[300, 301, 302, 303, 304]\n")
    assert recovery_after(rerun) == W.recovery
