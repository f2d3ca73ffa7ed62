"""Every env option is checked up front (one error type), reset options name what is valid,
and the observation space covers every observation the configured output cap allows."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

from deeptool_env import DeepToolMathEnv, EnvConfig
from deeptool_env.env_config import EnvConfigError


@pytest.mark.parametrize(("option", "value"), [
    ("tool_timeout_s", math.nan), ("tool_timeout_s", math.inf), ("tool_timeout_s", -1.0),
    ("tool_timeout_s", 0), ("tool_timeout_s", True), ("tool_timeout_s", "10"),
    ("max_turns", 0), ("max_turns", 2.5), ("max_turns", True), ("max_turns", "8"),
    ("max_episode_tokens", -5), ("max_output_chars", math.nan), ("max_action_chars", 0),
    ("max_invalid_turns", None),
])
def test_bad_numeric_options_raise_env_config_error(option, value):
    with pytest.raises(EnvConfigError, match=option):
        EnvConfig(**{option: value})


@pytest.mark.parametrize(("options", "message"), [
    ({"tasks": 3}, "tasks must be"), ({"data_dir": 1}, "data_dir must be"),
    ({"strict_data": "yes"}, "strict_data must be"), ({"token_counter": 5}, "token_counter"),
    ({"sandbox": 5}, "bad sandbox option"), ({"sandbox": {"timeout_z": 1}}, "timeout_z"),
    ({"perturbation": "loud"}, "bad perturbation option"),
    ({"reward": {"outcome": -1}}, "bad reward option"), ({"max_turn": 3}, "unknown"),
])
def test_every_bad_option_raises_the_same_error_type(options, message):
    with pytest.raises(EnvConfigError, match=message):
        EnvConfig.from_kwargs(**options)
    with pytest.raises(ValueError, match=message):  # EnvConfigError is a ValueError
        gym.make("DeepTool-Math-v0", **options)


def test_numpy_integers_are_accepted_as_counts():
    config = EnvConfig(max_turns=np.int64(4), tool_timeout_s=np.float64(2.5))
    assert config.max_turns == 4 and type(config.max_turns) is int


def test_reset_index_out_of_range_says_the_valid_range():
    env = DeepToolMathEnv()
    try:
        with pytest.raises(ValueError, match="from 0 to 9999"):
            env.reset(options={"index": 10**9})
        with pytest.raises(ValueError, match="must be an integer"):
            env.reset(options={"index": "3"})
        assert env.reset(options={"index": -1})[1]["task_id"] == env.tasks[9999].id
    finally:
        env.close()


def test_reset_unknown_task_id_suggests_a_close_one():
    env = DeepToolMathEnv(tasks="procedural:nth_prime")
    try:
        real = env.tasks[5].id
        with pytest.raises(ValueError, match=f"did you mean {real!r}"):
            env.reset(options={"task_id": real + "x"})
        with pytest.raises(ValueError, match="ids look like"):
            env.reset(options={"task_id": "nothing-like-it"})
    finally:
        env.close()


def test_reset_unknown_task_id_in_a_file_set(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"id": "alpha-1", "problem": "1+1?", "answer": "2"}\n'
                    '{"id": "beta-2", "problem": "2+2?", "answer": "4"}\n')
    env = DeepToolMathEnv(tasks=str(path))
    try:
        with pytest.raises(ValueError, match="did you mean 'alpha-1'"):
            env.reset(options={"task_id": "alpha1"})
    finally:
        env.close()


def test_the_observation_space_covers_a_large_output_cap():
    env = DeepToolMathEnv(max_output_chars=70_000, sandbox={"max_output_chars": 200_000})
    try:
        env.reset(seed=0)
        observation, *_ = env.step("<code>print('x' * 69_000)</code>")
        assert len(observation) == 69_019 and env.observation_space.contains(observation)
        observation, *_ = env.step("<code>print('y' * 150_000)</code>")  # head and tail cut
        assert "characters omitted" in observation
        assert env.observation_space.contains(observation)
    finally:
        env.close()


def test_lone_surrogates_are_outside_the_space_and_out_of_observations(tmp_path):
    env = DeepToolMathEnv()
    try:
        assert not env.observation_space.contains("a\ud800")
        assert env.observation_space.contains("∑ 😀 \0")
    finally:
        env.close()
    path = tmp_path / "odd.jsonl"
    path.write_text('{"id": "s", "problem": "What is \\ud800 1+1?", "answer": "2"}\n')
    env = DeepToolMathEnv(tasks=str(path))
    try:
        observation, info = env.reset(seed=0)
        assert env.observation_space.contains(observation) and "\ufffd 1+1" in observation
    finally:
        env.close()


def test_env_options_from_yaml_parse_numeric_text_and_keep_the_error_type(tmp_path):
    """Text sources (YAML, the command line) read `"2.5"` as a number; Python values do not."""
    path = tmp_path / "env.yaml"
    path.write_text("max_turns: '4'\ntool_timeout_s: 2.5e0\nsandbox: {timeout_s: 3}\n")
    config = EnvConfig.from_yaml(path)
    assert (config.max_turns, config.tool_timeout_s) == (4, 2.5)
    assert config.sandbox_config().timeout_s == 3.0
    path.write_text("max_turns: 0\n")
    with pytest.raises(EnvConfigError, match="max_turns must be a positive integer, got 0"):
        EnvConfig.from_yaml(path)
    with pytest.raises(EnvConfigError, match=r"'max_turn' \(did you mean 'max_turns'\?\)"):
        EnvConfig.from_dict({"max_turn": 3})
