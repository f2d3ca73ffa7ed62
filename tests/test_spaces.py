"""`UnicodeText` under Gymnasium's space utilities: flatten, flatdim, unflatten, check_env."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from deeptool_env import DeepToolMathEnv
from deeptool_env.spaces import FLAT_PAD, UnicodeText

TEXTS = ["π=3", "", "½ ≈ 0.5 😀\n\x00", "x" * 16]


@pytest.mark.parametrize("text", TEXTS)
def test_flatten_round_trips_any_unicode_text(text):
    space = UnicodeText(16)
    flat = spaces.flatten(space, text)
    assert flat.shape == (spaces.flatdim(space),) == (16,)
    assert spaces.flatten_space(space).contains(flat)
    assert list(flat[:len(text)]) == [ord(c) for c in text]
    assert (flat[len(text):] == FLAT_PAD).all()
    assert spaces.unflatten(space, flat) == text


def test_flatten_works_inside_composite_spaces():
    space = spaces.Dict({"text": UnicodeText(8), "n": spaces.Discrete(3)})
    value = {"n": 2, "text": "∑ i²"}
    flat = spaces.flatten(space, value)
    assert flat.shape == (spaces.flatdim(space),) == (8 + 3,)
    assert spaces.flatten_space(space).contains(flat)
    assert spaces.unflatten(space, flat) == value


@pytest.mark.parametrize(("text", "why"), [
    ("y" * 17, "17 characters"), ("\ud800", "lone surrogate"), (b"bytes", "not a str")])
def test_flattening_what_the_space_does_not_contain_says_why(text, why):
    with pytest.raises(ValueError, match=why):
        spaces.flatten(UnicodeText(16), text)


@pytest.mark.parametrize("points", [
    np.full(15, FLAT_PAD), np.full(16, -1), np.full(16, FLAT_PAD + 1),
    np.array([0xD800] + [FLAT_PAD] * 15)])
def test_unflattening_a_bad_array_says_what_is_expected(points):
    with pytest.raises(ValueError, match="cannot unflatten into UnicodeText"):
        spaces.unflatten(UnicodeText(16), points)


def test_the_env_still_passes_gymnasiums_checker_and_its_spaces_flatten():
    env = DeepToolMathEnv(max_action_chars=64)
    try:
        check_env(env, skip_render_check=True)
        observation, _ = env.reset(seed=0)
        flat = spaces.flatten(env.observation_space, observation)
        assert spaces.unflatten(env.observation_space, flat) == observation
        assert spaces.flatdim(env.action_space) == 64
    finally:
        env.close()
