"""Token-in/token-out rollouts: every observation token is masked, every generated one is
not, with SmolLM2's real chat template."""

from __future__ import annotations

import gymnasium as gym
import pytest

from agents.prompt import observation_message
from agents.rollout import rollout_episode, tokenize_conversation


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


def test_masks_follow_who_wrote_each_token(smollm2_tokenizer):
    tokenizer = smollm2_tokenizer
    env = gym.make("DeepTool-Math-v0", tasks="procedural:nth_prime", max_turns=4)
    _, info = env.reset(seed=3)
    n = info["messages"][1]["content"].split("p_{")[1].split("}")[0]
    scripted = [f"<think>use sympy</think><code>import sympy\nprint(sympy.prime({n}))</code>"]
    replies: list[list[int]] = []

    def policy(context: list[int]) -> list[int]:
        if not replies:
            text = scripted[0]
        else:
            last_output = tokenizer.decode(context).rsplit("<output>", 1)[1]
            value = last_output.split("</output>")[0].strip()
            text = f"<answer>\\boxed{{{value}}}</answer>"
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        replies.append(ids)
        return ids

    trajectory = rollout_episode(env, tokenizer, policy, seed=3)
    conversation = [observation_message(m["content"]) if m["role"] == "tool" else dict(m)
                    for m in env.unwrapped.messages]
    env.close()
    generated = [t for t, m in zip(trajectory.ids, trajectory.loss_mask, strict=True) if m]
    assert generated == [t for ids in replies for t in ids]
    assert trajectory.outcome == 1.0 and len(trajectory.turn_process) == 2
    masked_text = tokenizer.decode([t for t, m in zip(trajectory.ids, trajectory.loss_mask,
                                                      strict=True) if not m])
    assert "<output>" in masked_text and "Problem:" in masked_text
    assert f"print(sympy.prime({n}))" not in masked_text  # the agent's code is not masked
    assert "<answer>\\boxed{" + trajectory.actions[1].split("{")[1] not in masked_text
    expected = tokenizer.apply_chat_template(conversation[:-1], tokenize=False,
                                             add_generation_prompt=True)
    assert tokenizer.decode(trajectory.ids) == expected + trajectory.actions[-1]
    # the turn index of a generated token is the turn that produced it
    turns = {turn for turn, m in zip(trajectory.turn_of_token, trajectory.loss_mask,
                                     strict=True) if m}
    assert turns == {0, 1}
    # a recorded conversation tokenizes to the very ids and masks of the rollout (SFT)
    recorded = tokenize_conversation(tokenizer, conversation)
    assert recorded.ids == trajectory.ids and recorded.loss_mask == trajectory.loss_mask
    assert recorded.turn_of_token == trajectory.turn_of_token


def test_tokenize_conversation_rejects_malformed_turns(smollm2_tokenizer):
    prompt = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]
    with pytest.raises(ValueError, match="assistant turns"):
        tokenize_conversation(smollm2_tokenizer, prompt)
    with pytest.raises(ValueError, match="message 4 should be an assistant"):
        tokenize_conversation(smollm2_tokenizer, [
            *prompt, {"role": "assistant", "content": "<code>1</code>"},
            {"role": "user", "content": "<output>1</output>"},
            {"role": "user", "content": "again"}])
