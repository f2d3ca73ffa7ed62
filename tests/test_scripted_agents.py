"""Scripted strategies through the real env: the reward ranks them as DeepTool intends."""

from __future__ import annotations

from statistics import mean

import pytest

from .scripted_agents import (
    answer_guesser,
    good_solver,
    play,
    recovering_agent,
    tool_spammer,
    trusting_agent,
)

EPISODES = 12


@pytest.fixture(scope="module")
def clean_scores():
    return {agent.__name__: mean(play(agent, EPISODES))
            for agent in (good_solver, recovering_agent, tool_spammer, answer_guesser)}


def test_ranking_without_perturbations(clean_scores):
    s = clean_scores
    assert s["good_solver"] > s["recovering_agent"] > s["answer_guesser"] > s["tool_spammer"]
    assert s["good_solver"] > 1.0  # outcome plus a positive process reward
    assert s["tool_spammer"] < 0  # calls that lead to no answer are never paid


def test_spamming_never_beats_one_correct_call():
    spam = play(tool_spammer, 4, max_turns=20)
    good = play(good_solver, 4)
    assert max(spam) < min(good)


def test_under_perturbations_checking_beats_trusting():
    trusting = play(trusting_agent, EPISODES, perturbation="adversarial", seed=100)
    recovering = play(recovering_agent, EPISODES, perturbation="adversarial", seed=100)
    assert mean(recovering) > mean(trusting)
    assert mean(play(answer_guesser, 4, perturbation="adversarial")) < mean(trusting)
