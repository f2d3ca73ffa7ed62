"""Rollouts through Gymnasium vector envs: the same sequences, masks and rewards as
single-env rollouts, for sync and async vector envs, and GRPO training on them."""

from __future__ import annotations

import os

import gymnasium as gym
import pytest
import torch

from agents.rollout import rollout_episode, rollout_vector

os.environ["HF_HUB_OFFLINE"] = "1"
torch.set_num_threads(1)
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tokenizer(tiny):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny)


def scripted(tokenizer):
    """A deterministic policy of the context: computes p_n with a tool call, then answers
    what it was shown; problems whose n is even are answered at once (shorter episodes)."""

    def reply(context: list[int]) -> list[int]:
        text = tokenizer.decode(context)
        n = int(text.split("p_{")[1].split("}")[0])
        if text.count("<|im_start|>assistant") > 1:  # the tool has answered
            value = text.rsplit("<output>", 1)[1].split("</output>")[0].strip()
            action = f"<answer>\\boxed{{{value}}}</answer>"
        elif n % 2 == 0:
            action = "<think>guess</think><answer>\\boxed{7}</answer>"
        else:
            action = f"<think>sympy</think><code>import sympy\nprint(sympy.prime({n}))</code>"
        return tokenizer(action, add_special_tokens=False)["input_ids"]

    return reply


OPTIONS = {"tasks": "procedural:nth_prime", "max_turns": 3}


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_rollouts_equal_single_env_rollouts(tokenizer, mode):
    policy = scripted(tokenizer)
    jobs = [(3, 11), (5, 12), (8, 13), (3, 14)]
    env = gym.make("DeepTool-Math-v0", **OPTIONS)
    single = [rollout_episode(env, tokenizer, policy, seed=seed, options={"index": index})
              for index, seed in jobs]
    env.close()
    envs = gym.make_vec("DeepTool-Math-v0", num_envs=len(jobs), vectorization_mode=mode,
                        **OPTIONS)
    batches: list[int] = []

    def generate_batch(contexts):
        batches.append(len(contexts))
        return [policy(c) for c in contexts]

    try:
        vector = rollout_vector(envs, tokenizer, generate_batch,
                                seeds=[s for _, s in jobs],
                                options=[{"index": i} for i, _ in jobs])
    finally:
        envs.close()
    assert {len(t.actions) for t in single} == {1, 2}  # episodes of different lengths
    assert batches[0] == 4 and batches[-1] < 4  # finished episodes leave the batch
    for one, many in zip(single, vector, strict=True):
        assert many.ids == one.ids and many.loss_mask == one.loss_mask
        assert many.turn_of_token == one.turn_of_token and many.actions == one.actions
        assert (many.outcome, many.turn_process) == (one.outcome, one.turn_process)
        assert many.info["parse_errors"] == [None] * len(one.actions)
    assert any(t.outcome == 1.0 for t in vector)


def test_vector_rollouts_refuse_mismatched_seeds(tokenizer):
    envs = gym.make_vec("DeepTool-Math-v0", num_envs=2, **OPTIONS)
    with pytest.raises(ValueError, match="one seed"):
        rollout_vector(envs, tokenizer, lambda c: [], seeds=[1])
    envs.close()


def test_grpo_trains_on_async_and_given_vector_envs(tiny, tmp_path):
    from agents.training.grpo.config import GRPOConfig
    from agents.training.grpo.trainer import GRPOTrainer

    config = GRPOConfig(model=tiny, train_data="procedural:modpow", output_dir=str(tmp_path),
                        group_size=2, prompts_per_step=2, max_turns=2,
                        max_tokens_per_turn=6, max_steps=1, learning_rate=1e-2,
                        filter_void_turns=False, env_vectorization="async", eval_size=2)
    trainer = GRPOTrainer(config)
    history = trainer.train()
    assert history[-1]["episodes"] == 4 and "eval_reward" in history[-1]
    assert trainer.rollouts.vector["train"].num_envs == 4
    trainer.close()

    envs = gym.make_vec("DeepTool-Math-v0", num_envs=3, tasks="procedural:modpow",
                        max_turns=2)
    own = GRPOTrainer(config.with_overrides(env_vectorization="threads", eval_size=0,
                                            output_dir=str(tmp_path / "own")),
                      vector_env=envs)
    (metrics,) = own.train()
    assert metrics["episodes"] == 4 and metrics["trained_sequences"] == 4
    own.close()
    envs.close()


def test_vllm_engines_are_colocated_per_rank_on_gpus(monkeypatch):
    """Under torchrun on GPUs each rank's engine gets its own device and the
    external-launcher executor; on CPU, or in one process, the kwargs are the user's."""
    from agents.rollout.in_process import vllm_engine_kwargs
    from agents.training.grpo.config import GRPOConfig

    devices: list[int] = []
    monkeypatch.setattr(torch.cuda, "set_device", devices.append)
    config = GRPOConfig(device="cuda", vllm_kwargs={"max_model_len": 4096})
    assert vllm_engine_kwargs(config) == {"max_model_len": 4096} and devices == []
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert vllm_engine_kwargs(config) == {"max_model_len": 4096,
                                          "distributed_executor_backend": "external_launcher"}
    assert devices == [3]
    assert vllm_engine_kwargs(config.with_overrides(device="cpu")) == {"max_model_len": 4096}
