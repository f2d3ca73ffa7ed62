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
import re
import shutil
from pathlib import Path

import gymnasium as gym
import pytest

from agents.interop import DeepToolEnvironment
from agents.interop.trl_environment import SUBMITTED, TOOL_INSTRUCTIONS

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
    assert adapter.answer("\\boxed{42}") == SUBMITTED
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


# -- inside the real trl.GRPOTrainer ----------------------------------------------------------

SCRIPT_CODE, SCRIPT_ANSWER = "print(6 * 7)", "\\boxed{42}"


class RecordingEnvironment(DeepToolEnvironment):
    """The adapter unchanged, plus a record of what TRL got from it (for the checks)."""

    rewards: list[float] = []
    episodes: list = []
    envs: list = []

    def __init__(self) -> None:
        super().__init__()
        RecordingEnvironment.envs.append(self.env)

    def get_reward(self) -> float:
        reward = super().get_reward()
        RecordingEnvironment.rewards.append(reward)
        RecordingEnvironment.episodes.append(self.episode)
        return reward


def _tool_call(name: str, **arguments: str) -> dict:
    return {"role": "assistant", "content": "",
            "tool_calls": [{"type": "function", "function": {"name": name,
                                                             "arguments": arguments}}]}


def _steering_bias(tokenizer, prompt: str) -> tuple[list, int]:
    """`sequence_bias` entries that script the turns: the python call, the answer call, "Done."

    Each entry biases the script's next token only when the context ends with the turn's
    anchor (the last tokens before that turn: the problem, or the python call's output)
    followed by the script so far; the model's own logits stay what TRL trains on. Also
    the completion length the scripted turns and tool results need."""
    probe = DeepToolEnvironment()
    probe.reset(task_index=0)
    output = probe.python(SCRIPT_CODE)
    probe._finalizer()
    tools = [probe.python, probe.answer]
    turns = [[{"role": "user", "content": prompt}],
             [_tool_call("python", code=SCRIPT_CODE),
              {"role": "tool", "name": "python", "content": output}],
             [_tool_call("answer", text=SCRIPT_ANSWER),
              {"role": "tool", "name": "answer", "content": SUBMITTED}],
             [{"role": "assistant", "content": "Done."}]]

    def ids(messages, **kwargs):
        return tokenizer.apply_chat_template(messages, tools=tools, tokenize=True,
                                             return_dict=True, **kwargs)["input_ids"]

    entries, history, anchors = [], [], []
    for context, reply in zip(turns[:-1], turns[1:], strict=True):
        history += context
        before = ids(history, add_generation_prompt=True)
        script = ids(history + reply[:1])[len(before):]
        anchor = before[-24:]  # within the turn's own tokens (TRL joins turns without "\n")
        anchors.append(anchor)
        end = script.index(tokenizer.eos_token_id) + 1
        entries += [[anchor + script[:k + 1], 100.0] for k in range(end)]
    assert len({tuple(a) for a in anchors}) == len(anchors), "ambiguous script anchors"
    first = len(ids(turns[0], add_generation_prompt=True))
    return entries, len(ids(history + turns[-1])) - first + 8


def test_trl_grpo_trainer_runs_two_steps_with_tool_calls_reaching_the_sandbox(tmp_path):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer
    from trl.chat_template_utils import qwen2_5_chat_template

    from .tiny_model import shared_tiny_model

    torch.manual_seed(0)
    # The tiny model's ChatML template renders no tools; TRL ships Qwen2.5's, which does.
    tokenizer = AutoTokenizer.from_pretrained(shared_tiny_model())
    tokenizer.chat_template = qwen2_5_chat_template
    with DeepToolEnvironment() as probe:
        prompt = probe.reset(task_index=0)
    RecordingEnvironment.rewards, RecordingEnvironment.episodes = [], []
    RecordingEnvironment.envs = []
    bias, completion_length = _steering_bias(tokenizer, prompt)
    args = GRPOConfig(
        output_dir=str(tmp_path), use_cpu=True, per_device_train_batch_size=2,
        num_generations=2, max_completion_length=completion_length, max_steps=2, learning_rate=1e-5,
        beta=0.0, report_to="none", save_strategy="no", logging_steps=1, disable_tqdm=True,
        seed=0, bf16=False, gradient_checkpointing=False, max_tool_calling_iterations=3,
        generation_kwargs={"sequence_bias": bias})
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(shared_tiny_model()), args=args,
        train_dataset=Dataset.from_dict({"task_index": [0] * 4}),
        processing_class=tokenizer, environment_factory=RecordingEnvironment)
    trainer.train()

    episodes = RecordingEnvironment.episodes
    assert len(episodes) == 4  # 2 steps x 2 rollouts, each scored once by get_reward
    for episode in episodes:
        assert [c.tool for c in episode.calls[:2]] == ["python", "answer"]
        assert episode.calls[0].tool_status == "ok" and episode.sandbox_calls >= 1
        assert episode.done and episode.verdict is not None
    logs = [log for log in trainer.state.log_history if "reward" in log]
    assert len(logs) == 2
    for step, log in enumerate(logs):
        batch = RecordingEnvironment.rewards[2 * step:2 * step + 2]
        assert log["rewards/RecordingEnvironment/mean"] == pytest.approx(sum(batch) / 2)
        assert log["reward"] == pytest.approx(sum(batch) / 2)
        assert log["tools/call_frequency"] >= 2

    envs = RecordingEnvironment.envs
    del trainer
    gc.collect()
    for env in envs:
        with pytest.raises(RuntimeError, match="closed"):
            env.reset()


def test_the_documented_trl_script_runs(tmp_path, monkeypatch):
    """docs/training.md's "Training with TRL" script, on the tiny Qwen2 for one short CPU step."""
    from transformers import AutoTokenizer
    from trl.chat_template_utils import qwen2_5_chat_template

    from .tiny_model import shared_tiny_model

    page = (Path(__file__).resolve().parents[1] / "docs" / "training.md").read_text()
    section = page[page.index("## Training with TRL"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.splitlines()) <= 13
    model_dir = tmp_path / "tiny-qwen2-tools"
    shutil.copytree(shared_tiny_model(), model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.chat_template = qwen2_5_chat_template
    tokenizer.save_pretrained(model_dir)
    for old, new in (('"Qwen/Qwen2.5-0.5B-Instruct"', repr(str(model_dir))),
                     ("max_completion_length=1024", "max_completion_length=8"),
                     ("max_steps=200", "max_steps=1, use_cpu=True, bf16=False, "
                      "per_device_train_batch_size=2, num_generations=2, report_to='none', "
                      "save_strategy='no', gradient_checkpointing=False")):
        assert old in code
        code = code.replace(old, new)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme_trl_example"}
    exec(compile(code, "README-trl", "exec"), namespace)
    logs = namespace["trainer"].state.log_history
    assert any("rewards/DeepToolEnvironment/mean" in log for log in logs)
