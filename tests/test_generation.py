"""The generation layer on transformers (`HFGenerator`): per-request seeds, the stop/EOS
rule, logprobs, greedy decoding, the global RNG, LoRA models. On the tiny random Qwen2
of `tests/tiny_model.py`, whose tags (`</code>`, ...) are single tokens.
"""

from __future__ import annotations

import copy
import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers/huggingface_hub read it

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents import models  # noqa: E402
from agents.generation import Generator, HFGenerator, Sampling  # noqa: E402
from tests.tiny_model import shared_tiny_model, token_id  # noqa: E402

SAMPLED = Sampling(max_new_tokens=24, temperature=1.0)


@pytest.fixture(scope="module")
def tiny():
    torch.set_num_threads(1)
    return models.load_model(shared_tiny_model())


def prompts(tokenizer, count: int = 4) -> list[list[int]]:
    """Chat prompts of different lengths (so a batch is left-padded)."""
    return [tokenizer.apply_chat_template(
        [{"role": "user", "content": "Compute " + "3 * 4 + " * k + "1."}],
        add_generation_prompt=True, tokenize=True, return_dict=False) for k in range(count)]


def teacher_forced(model, prompt: list[int], ids: list[int], temperature: float):
    """Log-probabilities of `ids` after `prompt` in one forward pass."""
    with torch.no_grad():
        logits = model(torch.tensor([prompt + ids])).logits[0, len(prompt) - 1:-1]
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)
    return logp.gather(-1, torch.tensor(ids)[:, None])[:, 0]


def same(a, b) -> bool:
    """Same completion: ids, text and finish exactly; logprobs up to float noise (a
    batch's matrix products round differently from a single row's)."""
    return ((a.ids, a.text, a.finish, a.prompt_tokens) == (b.ids, b.text, b.finish,
                                                          b.prompt_tokens)
            and torch.allclose(torch.tensor(a.logprobs), torch.tensor(b.logprobs), atol=1e-4))


def test_a_requests_sample_depends_on_its_seed_not_on_its_batch(tiny):
    model, tokenizer = tiny
    generator = HFGenerator(model, tokenizer)
    batch = prompts(tokenizer)
    together = generator.generate(batch, SAMPLED, seeds=[11, 12, 13, 14])
    for prompt, seed, row in zip(batch, [11, 12, 13, 14], together, strict=True):
        assert same(generator.generate([prompt], SAMPLED, seeds=[seed])[0], row)
    reordered = generator.generate(batch[::-1], SAMPLED, seeds=[14, 13, 12, 11])
    assert all(map(same, reordered[::-1], together))
    again = generator.generate(batch, SAMPLED, seeds=[21, 12, 13, 14])
    assert all(map(same, again[1:], together[1:])) and again[0].ids != together[0].ids
    group = generator.generate([batch[1]] * 3, SAMPLED, seeds=[21, 12, 22])  # one prefill
    assert same(group[1], together[1]) and group[0].ids != group[2].ids
    assert same(group[2], generator.generate([batch[1]], SAMPLED, seeds=[22])[0])
    assert isinstance(generator, Generator)


def test_ids_end_at_the_stop_completing_token_or_eos(tiny):
    model, tokenizer = tiny
    stop, eos = token_id(tokenizer, "</code>"), tokenizer.eos_token_id
    generator = HFGenerator(model, tokenizer, generate_kwargs={
        "sequence_bias": {(stop,): 3.0, (eos,): 2.0}})
    done = generator.generate(prompts(tokenizer) * 4, Sampling(max_new_tokens=40),
                              seeds=range(16))
    assert {g.finish for g in done} >= {"stop", "eos"}

    def has_stop(ids: list[int]) -> bool:
        return any(s in tokenizer.decode(ids) for s in SAMPLED.stops)

    for g in done:
        assert not has_stop(g.ids[:-1]) and eos not in g.ids[:-1]
        assert has_stop(g.ids) == (g.finish == "stop") == g.text.endswith(SAMPLED.stops)
        assert (g.ids[-1] == eos) == (g.finish == "eos")
        assert (len(g.ids) == 40) >= (g.finish == "length")
        assert len(g.logprobs) == len(g.ids)


def test_logprobs_are_those_of_a_teacher_forced_pass(tiny):
    model, tokenizer = tiny
    generator = HFGenerator(model, tokenizer)
    batch = prompts(tokenizer)
    for temperature in (1.0, 0.7):
        sampling = Sampling(max_new_tokens=24, temperature=temperature, stops=())
        for prompt, g in zip(batch, generator.generate(batch, sampling, seeds=range(4)),
                             strict=True):
            expected = teacher_forced(model, prompt, g.ids, temperature)
            assert torch.allclose(torch.tensor(g.logprobs), expected, atol=1e-4)
            assert g.prompt_tokens == len(prompt)


def test_greedy_equals_transformers_generate(tiny):
    model, tokenizer = tiny
    greedy = Sampling(max_new_tokens=16, temperature=0, stops=())
    batch = prompts(tokenizer)
    ours = HFGenerator(model, tokenizer, batch_size=3).generate(batch, greedy)
    for prompt, g in zip(batch, ours, strict=True):
        reference = model.generate(torch.tensor([prompt]), max_new_tokens=16,
                                   do_sample=False, pad_token_id=tokenizer.pad_token_id)
        expected = reference[0, len(prompt):].tolist()
        assert g.ids == expected[:len(g.ids)]
        assert len(g.ids) == 16 or g.ids[-1] == tokenizer.eos_token_id


def test_sampling_leaves_the_global_rng_alone(tiny):
    model, tokenizer = tiny
    generator = HFGenerator(model, tokenizer)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    generator.generate(prompts(tokenizer), SAMPLED, seeds=[1, 2, 3, 4])
    generator.generate(prompts(tokenizer), SAMPLED)  # unseeded: fresh entropy
    assert torch.equal(torch.rand(3), expected)


def test_top_p_samples_inside_the_nucleus(tiny):
    model, tokenizer = tiny
    prompt = prompts(tokenizer, 1)[0]
    nucleus = Sampling(max_new_tokens=1, temperature=1.0, top_p=0.05, stops=())
    with torch.no_grad():
        probs = torch.softmax(model(torch.tensor([prompt])).logits[0, -1], dim=-1)
    ordered, order = probs.sort(descending=True)
    allowed = set(order[:int((ordered.cumsum(0) < 0.05).sum()) + 1].tolist())
    first = {HFGenerator(model, tokenizer).generate([prompt], nucleus, [s])[0].ids[0]
             for s in range(12)}
    assert first <= allowed


def test_lora_models_generate_with_their_adapter(tiny):
    peft = pytest.importorskip("peft")
    model, tokenizer = tiny
    lora = peft.get_peft_model(copy.deepcopy(model), peft.LoraConfig(
        r=4, target_modules="all-linear", task_type="CAUSAL_LM")).eval()
    with torch.no_grad():  # a non-zero adapter, so that it changes the logits
        for name, weight in lora.named_parameters():
            if "lora_B" in name:
                weight.normal_(0, 0.5, generator=torch.Generator().manual_seed(0))
    generator = HFGenerator(lora, tokenizer)
    batch = prompts(tokenizer, 2)
    for prompt, g in zip(batch, generator.generate(batch, SAMPLED, seeds=[3, 4]),
                         strict=True):
        expected = teacher_forced(lora, prompt, g.ids, 1.0)
        assert torch.allclose(torch.tensor(g.logprobs), expected, atol=1e-4)
        assert not torch.allclose(teacher_forced(model, prompt, g.ids, 1.0), expected,
                                  atol=1e-2)
    generator.sync_weights(lora)  # a no-op: generation runs on the trained model


@pytest.mark.slow
def test_vllm_generator_follows_the_same_rule_and_seeds(tiny):
    pytest.importorskip("vllm")
    from agents.generation import VLLMGenerator
    from agents.generation.vllm import trainer_llm_kwargs

    model, tokenizer = tiny
    generator = VLLMGenerator(shared_tiny_model(), llm_kwargs=trainer_llm_kwargs(
        {"max_model_len": 1024, "seed": 0}))
    try:
        batch = prompts(tokenizer)
        sampling = Sampling(max_new_tokens=40, temperature=0.8)
        together = generator.generate(batch * 4, sampling, seeds=range(16))
        alone = generator.generate(batch[1:2], sampling, seeds=[1])[0]
        generator.sync_weights(model)
    finally:
        generator.close()
    assert alone.ids == together[1].ids
    for prompt, g in zip(batch * 4, together, strict=True):
        assert g.prompt_tokens == len(prompt) and len(g.logprobs) == len(g.ids)
        stops = [any(s in tokenizer.decode(g.ids[:n]) for s in sampling.stops)
                 for n in range(1, len(g.ids) + 1)]
        assert not any(stops[:-1]) and stops[-1] == (g.finish == "stop")
        assert (g.ids[-1] == tokenizer.eos_token_id) == (g.finish == "eos")
        expected = teacher_forced(model, prompt, g.ids, 0.8)
        assert torch.allclose(torch.tensor(g.logprobs), expected, atol=1e-3)


def test_a_next_turn_reuses_the_cached_prefix_and_samples_the_same(tiny):
    model, tokenizer = tiny
    cached, plain = HFGenerator(model, tokenizer), HFGenerator(model, tokenizer,
                                                               prefix_cache_mb=0)
    batch = prompts(tokenizer, 3)
    first = cached.generate(batch, SAMPLED, seeds=[1, 2, 3])
    assert len(cached.prefix.entries) == 3
    observation = tokenizer.encode("<output>\n7\n</output>", add_special_tokens=False)
    turn2 = [p + g.ids + observation for p, g in zip(batch, first, strict=True)]
    assert cached.prefix.longest(turn2[0])[0] == len(batch[0]) + len(first[0].ids) - 1
    for new, old in zip(cached.generate(turn2, SAMPLED, seeds=[4, 5, 6]),
                        plain.generate(turn2, SAMPLED, seeds=[4, 5, 6]), strict=True):
        assert same(new, old)
    with torch.no_grad():  # an in-place weight change (as an optimiser step) ...
        next(model.parameters()).mul_(1.0)
    cached.generate(batch[:1], SAMPLED, seeds=[1])
    assert len(cached.prefix.entries) == 1  # ... drops the stale entries
