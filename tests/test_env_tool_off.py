"""The `tool=False` option: code turns are refused (nothing runs), answers still count."""

from __future__ import annotations

import gymnasium as gym
import pytest

import deeptool_env  # noqa: F401 - registers the env
from deeptool_env import protocol
from deeptool_env.env_config import EnvConfigError

CODE = "<think>try</think><code>\nprint(6 * 7)\n</code>"


def make(**options):
    return gym.make("DeepTool-Math-v0", tasks="procedural:modpow", max_turns=4,
                    max_invalid_turns=2, **options)


def test_code_turns_are_refused_and_do_not_run(tmp_path):
    marker = tmp_path / "ran"
    env = make(tool=False)
    env.reset(seed=0)
    code = f"<code>\nopen({str(marker)!r}, 'w').write('x')\nprint(6 * 7)\n</code>"
    for _ in range(3):  # more refusals than max_invalid_turns: the episode goes on
        observation, _, terminated, truncated, info = env.step(code)
        assert observation == protocol.TOOL_OFF_MESSAGE
        assert "42" not in observation
        assert info["tool_refused"] is True and info["tool_calls"] == 0
        assert info["invalid_streak"] == 0 and not (terminated or truncated)
    assert not marker.exists()
    task = env.unwrapped.task
    _, reward, terminated, _, info = env.step(f"<answer>\\boxed{{{task.answer}}}</answer>")
    assert terminated and info["verdict"]["correct"] and reward > 0
    env.close()


def test_the_same_code_runs_when_the_tool_is_on():
    env = make()
    env.reset(seed=0)
    observation, _, _, _, info = env.step(CODE)
    assert "42" in observation and "tool_refused" not in info and info["tool_calls"] == 1
    env.close()


def test_refusals_use_up_the_turn_budget():
    env = make(tool=False)
    env.reset(seed=0)
    ends = [env.step(CODE)[3] for _ in range(4)]
    assert ends == [False, False, False, True]
    env.close()


def test_tool_calls_protocol_is_refused_too():
    env = make(tool=False, protocol="tools")
    env.reset(seed=0)
    call = '<tool_call>\n{"name": "python", "arguments": {"code": "print(6 * 7)"}}\n</tool_call>'
    observation, _, _, _, info = env.step(call)
    assert observation == protocol.TOOL_OFF_MESSAGE and info["tool_refused"]
    env.close()


def test_a_bad_value_is_a_clear_error():
    with pytest.raises(EnvConfigError, match="tool"):
        make(tool="off")
