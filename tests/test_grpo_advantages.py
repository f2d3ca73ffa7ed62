"""GRPO advantages on hand-made groups."""

from __future__ import annotations

import math

import pytest

from agents.training.grpo import group_advantages, token_advantages


def test_outcome_only_matches_hand_computed_values():
    adv = group_advantages([1.0, 0.0, 0.0, 1.0], [[0.0], [0.0], [0.0], [0.0]])
    # mean 0.5, std 0.5 -> +-1
    assert adv.outcome == pytest.approx([1.0, -1.0, -1.0, 1.0], abs=1e-5)
    assert [t[0] for t in adv.turns] == pytest.approx(adv.outcome)


def test_all_equal_groups_give_zero_without_nans():
    adv = group_advantages([1.0, 1.0, 1.0], [[0.1, 0.1], [0.1], [0.1, 0.1, 0.1]])
    assert adv.outcome == [0.0, 0.0, 0.0]
    assert all(a == 0.0 and not math.isnan(a) for turns in adv.turns for a in turns)
    single = group_advantages([0.7], [[0.2]])
    assert single.outcome == [0.0] and single.turns == [[0.0]]


def test_process_rewards_are_normalised_across_the_groups_turns():
    adv = group_advantages([0.0, 0.0], [[0.1, -0.1], [0.1, -0.1]], process_weight=0.5)
    # P = [.1, -.1, .1, -.1]: mean 0, std .1 -> [1, -1, 1, -1]; outcome advantage 0
    assert adv.turns == [pytest.approx([0.5, -0.5], abs=1e-4)] * 2
    mixed = group_advantages([1.0, 0.0], [[0.2], [0.0]], process_weight=1.0)
    assert mixed.turns[0][0] == pytest.approx(2.0, abs=1e-4)
    assert mixed.turns[1][0] == pytest.approx(-2.0, abs=1e-4)


def test_tokens_get_their_turns_advantage_only_when_generated():
    tokens = token_advantages([0.5, -1.0], turn_of_token=[0, 0, 0, 1, 1],
                              loss_mask=[1, 1, 0, 0, 1])
    assert tokens == [0.5, 0.5, 0.0, 0.0, -1.0]


def test_bad_groups_raise():
    with pytest.raises(ValueError, match="outcomes but"):
        group_advantages([1.0], [[0.0], [0.0]])
    with pytest.raises(ValueError, match="at least one"):
        group_advantages([], [])
