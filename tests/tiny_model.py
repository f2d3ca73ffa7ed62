"""A random tiny Qwen2 chat model built offline, for fast tests of the local-model agents.

Why: the real default model (SmolLM2-135M) takes ~15 s to load and generates ~20 tok/s on
one CPU thread; the adapters' logic (chat templates, batching, padding, stopping) does not
need a good model. This builds one with ~0.6M parameters that generates thousands of
tokens per second, from files only (no hub access): a byte-level BPE tokenizer trained on
a few hundred lines that contain the protocol tags, saved with a ChatML chat template next
to a randomly initialised `Qwen2ForCausalLM` in Hugging Face format (also loadable by vLLM).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from deeptool_env.protocol import STOP_SEQUENCES, system_prompt

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Protocol tags get their own tokens so that a stop sequence can be one sampled token.
TAG_TOKENS = ["<think>", "</think>", "<code>", "</code>", "<answer>", "</answer>",
              "<output>", "</output>"]
VOCAB_SIZE = 600


def training_corpus() -> list[str]:
    """A few hundred lines of protocol-shaped text: prompts, code, tool outputs, answers."""
    lines = system_prompt(8).splitlines()
    for i in range(60):
        a, b = 3 * i + 1, 7 * i + 2
        lines += [
            f"Problem:\nCompute {a} * {b} modulo {i + 5}.",
            f"<think>I multiply {a} by {b} and reduce.</think>",
            f"<code>\nx = ({a} * {b}) % {i + 5}\nprint(x)\n</code>",
            f"<output>\n{(a * b) % (i + 5)}\n</output>",
            f"<answer>\\boxed{{{(a * b) % (i + 5)}}}</answer>",
            f"import sympy\nprint(sympy.prime({i + 10}))",
        ]
    return lines


def build_tokenizer(out_dir: Path):
    """Train the BPE tokenizer and wrap it as a transformers fast tokenizer (saved too)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    raw.train_from_iterator(training_corpus(), trainer=trainer)
    raw.add_tokens(TAG_TOKENS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        bos_token=None, unk_token=None, padding_side="left")
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.save_pretrained(out_dir)
    return tokenizer


def build_tiny_model(out_dir: Path, *, seed: int = 0) -> Path:
    """Write a random tiny Qwen2 chat model (weights, config, tokenizer) to `out_dir`.

    head_dim is 64 because vLLM's CPU attention kernels support only common head sizes.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(out_dir)
    assert all(len(tokenizer.encode(s, add_special_tokens=False)) == 1
               for s in STOP_SEQUENCES)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256,
        num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=64,
        max_position_embeddings=4096, tie_word_embeddings=True,
        bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(out_dir)
    return out_dir


@lru_cache(maxsize=1)
def shared_tiny_model() -> Path:
    """One tiny model per test process (built in ~1 s), removed when the process exits.

    A cached function instead of a session fixture so that several test modules share it
    without a conftest entry.
    """
    root = Path(tempfile.mkdtemp(prefix="deeptool-tiny-model-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return build_tiny_model(root / "tiny-qwen2")


def token_id(tokenizer, text: str) -> int:
    """The id of a string that the tiny tokenizer encodes as a single token."""
    (ident,) = tokenizer.encode(text, add_special_tokens=False)
    return ident
