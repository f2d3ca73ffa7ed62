"""`HFAgent`: a ChatAgent that generates locally with Hugging Face `transformers`.

A thin wrapper over the generation layer's `agents.generation.HFGenerator`: each
conversation is rendered by the chat template to prompt ids, the generator decodes them
in batches (left padding, KV cache, finished rows leave the batch) and stops each one at
the end of its action (`</code>`, `</answer>`) or at end of sequence; the text is cut
right after the stop string.

torch and transformers are imported only when an agent is built: `import agents` and the
other adapters never need them (install `deeptool-gym[agents]`).
"""

from __future__ import annotations

from typing import Any

from . import cpu_threads
from .base import Generation
from .generation import HFGenerator
from .generation.chat import GeneratorChatAgent
from .models import ensure_chat_template, load_model


class HFAgent(GeneratorChatAgent):
    """Local transformers generation, batched, stopping at the end of each action.

    Args:
        model: None (the embedded SmolLM2-135M default), a model directory, a `.gguf`
            file, a hub id, or an already loaded `PreTrainedModel` (then pass `tokenizer`).
        tokenizer: the tokenizer of an already loaded model.
        device, dtype, gguf_file: see `agents.models.load_model`.
        batch_size: conversations decoded together (bounds memory on long contexts).
        generate_kwargs: logits processors by their `generate` names: `repetition_penalty`,
            `sequence_bias`, `no_repeat_ngram_size`, `bad_words_ids` (others raise
            ValueError).
        temperature, top_p, max_new_tokens, stop, seed: see `ChatAgent`; temperature 0
            is greedy decoding; with `seed`, each request gets its own seed drawn from one
            seeded stream, so the same calls repeat. The global torch RNG is untouched.
        chat_template: overrides the tokenizer's chat template.
        threads: torch's CPU intra-op threads; None chooses them for the machine (usable
            cores, a passive OpenMP wait, `OMP_NUM_THREADS` kept) and warns once when
            other processes hold the cores (`agents.cpu_threads`). Ignored on a GPU.
    """

    name = "hf"

    def __init__(self, model: Any = None, *, tokenizer: Any = None, device: str = "cpu",
                 dtype: Any = None, gguf_file: str | None = None, batch_size: int = 8,
                 generate_kwargs: dict[str, Any] | None = None, threads: int | None = None,
                 **sampling: Any) -> None:
        super().__init__(**sampling)
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        on_gpu = str(device).startswith("cuda") or getattr(
            getattr(model, "device", None), "type", "cpu") == "cuda"
        self.cpu_threads = None if on_gpu else cpu_threads.configure(threads)
        if model is None or isinstance(model, str) or hasattr(model, "__fspath__"):
            model, tokenizer = load_model(model, device=device, dtype=dtype,
                                          gguf_file=gguf_file)
        elif tokenizer is None:
            raise ValueError("pass the tokenizer together with a loaded model")
        self.model = model
        self.tokenizer = ensure_chat_template(tokenizer)
        self.batch_size = batch_size
        self.generator = HFGenerator(model, self.tokenizer, batch_size=batch_size,
                                     generate_kwargs=generate_kwargs)

    def generate_batch(self, conversations: list[list[dict[str, str]]]) -> list[Generation]:
        """As `GeneratorChatAgent`'s, after a cheap re-check of the CPU (every 30 s)."""
        if self.cpu_threads is not None:
            self.cpu_threads = cpu_threads.recheck(self.cpu_threads)
        return super().generate_batch(conversations)

    def close(self) -> None:
        """Drop the model (and the GPU cache it held)."""
        device = getattr(self.model, "device", None)
        self.model = self.generator = None
        if device is not None and device.type == "cuda":
            import torch

            torch.cuda.empty_cache()
