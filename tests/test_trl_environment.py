"""`agents.interop.DeepToolEnvironment`: TRL's `environment_factory` contract on the real env.

The adapter is tested alone (reset, tools, reward, refusals, closing) and inside the real
`trl.GRPOTrainer` for 2 steps on the tiny random Qwen2. A random model almost never writes a
tool call, so the TRL run steers its sampling with a generation kwarg (`sequence_bias`) that
makes the first turn the `python` call and the second the `answer` call; TRL still renders,
samples, parses and dispatches the calls itself, and scores the rollouts with `get_reward`.
"""

from __future__ import annotations

import functools
import gc
import math
import os

import gymnasium as gym
import pytest

from agents.interop import DeepToolEnvironment
from agents.interop.trl_environment import TOOL_INSTRUCTIONS

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"


@pytest.fixture
def adapter():
    with DeepToolEnvironment() as env:
        yield env


# -- the adapter alone ----------------------------------------------------------------------

def test_reset_returns_the_instructions_and_the_env_problem_of_the_row(adapter):
    env = gym.make("DeepTool-Math-v0")
    _, info = env.reset(options={"index": 3})
    env.close()
    prompt = adapter.reset(prompt=[{"role": "user", "content": ""}], task_index=3, other=1)
    assert prompt.startswith(TOOL_INSTRUCTIONS.format(max_turns=8)[:40])
    assert prompt.endswith(info["messages"][-1]["content"])
    assert adapter.episode.task_id == info["task_id"]
    assert adapter.reset(task_id=info["task_id"]) == prompt
    assert adapter.reset(seed=5) == adapter.reset(seed=5)


@pytest.mark.parametrize("row", [{"task_id": "nope"}, {"task_index": 10**9},
                                 {"task_id": "procedural-modpow-0-0", "task_index": 0}])
def test_a_bad_row_is_a_value_error(adapter, row):
    with pytest.raises(ValueError):
        adapter.reset(**row)


def test_python_runs_in_one_session_and_the_reward_is_the_envs(adapter):
    adapter.reset(task_index=0, seed=0)
    assert adapter.python("x = 41").startswith("<output>")
    assert adapter.python("print(x + 1)") == "<output>\n42\n</output>"
    assert adapter.answer("\\boxed{42}") == "Answer submitted. The episode is over."
    episode = adapter.episode
    assert [c.tool_status for c in episode.calls] == ["ok", "ok", None]
    assert episode.done and episode.termination == "answer" and episode.verdict is not None
    assert len(episode.turn_rewards) == 3 == len(episode.turn_reward_terms)

    direct = gym.make("DeepTool-Math-v0")
    direct.reset(seed=0, options={"index": 0})
    total = sum(direct.step(turn)[1] for turn in (
        "<code>\nx = 41\n</code>", "<code>\nprint(x + 1)\n</code>",
        "<answer>\\boxed{42}</answer>"))
    direct.close()
    assert adapter.get_reward() == pytest.approx(total)
    assert adapter.get_reward() == pytest.approx(sum(episode.turn_rewards))


@pytest.mark.parametrize("value", [7, None, ["print(1)"], {"code": "print(1)"}, 1.5])
def test_a_non_string_argument_is_a_tool_error_that_never_reaches_the_env(adapter, value):
    adapter.reset(task_index=0)
    assert adapter.python(value).startswith("error: python(code) takes a string")
    assert adapter.answer(value).startswith("error: answer(text) takes a string")
    assert [c.turn for c in adapter.episode.calls] == [None, None]
    assert adapter.get_reward() == 0.0


@pytest.mark.parametrize("code", ["s = '</code>'", "s = '<output>'", "# </think>",
                                  "s = '<answer>1</answer>'"])
def test_code_the_tag_protocol_cannot_carry_is_refused_not_cut(adapter, code):
    adapter.reset(task_index=0)
    assert "rewrite it without those literals" in adapter.python(code)
    assert adapter.python("print('s' in dir())") == "<output>\nFalse\n</output>"
    assert adapter.episode.calls[0].turn is None


def test_huge_and_empty_code_are_invalid_turns_the_env_pays_for(adapter):
    adapter.reset(task_index=0)
    assert "longer than 32768 characters" in adapter.python("1" * 10_000_000)
    assert "code was empty" in adapter.python("  \n ")
    calls = adapter.episode.calls
    assert [c.parse_error for c in calls] == ["too_long", "empty_code"]
    assert all(c.turn and c.reward_terms["format"] < 0 for c in calls)


def test_calls_beyond_the_turn_budget_and_after_the_end_are_tool_errors():
    with DeepToolEnvironment(max_turns=2) as adapter:
        adapter.reset(task_index=0)
        assert adapter.python("print(1)") == "<output>\n1\n</output>"
        assert "the episode is over: max_turns" in adapter.python("print(2)")
        replies = [adapter.python("print(3)") for _ in range(50)] + [adapter.answer("1")]
        assert all(r.startswith("error: the episode is over (max_turns)") for r in replies)
        assert sum(c.turn is not None for c in adapter.episode.calls) == 2
        assert math.isfinite(adapter.get_reward())
        assert adapter.episode.turn_rewards and not any(
            c.tool == "answer" and c.turn for c in adapter.episode.calls)


def test_calls_before_reset_are_tool_errors(adapter):
    assert adapter.python("print(1)") == "error: no episode: reset() was never called"
    assert adapter.get_reward() == 0.0


def test_dropping_the_adapter_closes_its_env():
    adapter = DeepToolEnvironment()
    adapter.reset(task_index=0)
    adapter.python("x = 1")
    env = adapter.env
    del adapter
    gc.collect()
    with pytest.raises(RuntimeError, match="closed"):
        env.reset()


def test_env_options_pass_through_a_partial():
    factory = functools.partial(DeepToolEnvironment, perturbation="light", max_turns=3)
    with factory() as adapter:
        assert "at most 3 tool calls" in adapter.reset(task_index=0)
        assert adapter.env.unwrapped.config.max_turns == 3


def test_only_python_and_answer_are_tools_with_typed_documented_signatures(adapter):
    import inspect

    from transformers.utils import get_json_schema

    public = [name for name, _ in inspect.getmembers(type(adapter), inspect.isfunction)
              if not name.startswith("_") and name not in ("reset", "get_reward")]
    assert public == ["answer", "python"]
    for name, arg in (("python", "code"), ("answer", "text")):
        schema = get_json_schema(getattr(adapter, name))["function"]
        assert schema["parameters"]["properties"][arg]["type"] == "string"
        assert schema["parameters"]["required"] == [arg] and schema["description"]
