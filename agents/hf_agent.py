"""`HFAgent`: a ChatAgent that generates locally with Hugging Face `transformers`.

Runs on CPU or GPU, batched (left padding with attention masks), one chat-templated prompt
per conversation. Turns stop at the end of an action (`</code>`, `</answer>`): `generate`
alone only knows stop *tokens*, and a tag is usually several tokens, so `StopOnStrings`
watches the decoded tail of every row and marks the row finished once it contains a stop
string. transformers then pads finished rows while the others keep going, and the text is
cut right after the stop string, so a row that stopped early never carries garbage.

torch and transformers are imported only when an agent is built: `import agents` and the
other adapters never need them (install `deeptool-gym[agents]`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

from .base import ChatAgent, Generation
from .models import ensure_chat_template, load_model


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """`text` up to and including its earliest stop string, and whether one was found."""
    ends = [i + len(s) for s in stops if (i := text.find(s)) >= 0]
    return (text[:min(ends)], True) if ends else (text, False)


def stop_window(stops: Sequence[str]) -> int:
    """How many trailing tokens must be decoded to see a stop string that just completed.

    Every token that is part of a stop string contributes at least one of its characters,
    so `len(stop)` tokens suffice; a few more absorb partial UTF-8 bytes before it.
    """
    return max((len(s) for s in stops), default=0) + 4


@cache
def _stopping_criteria_class() -> type:
    """The criteria class, defined on first use so that importing this module needs no
    transformers."""
    from transformers import StoppingCriteria

    class StopOnStrings(StoppingCriteria):
        """Per-row stop: a row is done once its generated text contains a stop string.

        `stopped_at[row]` records how many tokens the row had generated when it stopped,
        which is its completion length (later positions hold padding).
        """

        def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_length: int,
                     batch_size: int) -> None:
            self.tokenizer = tokenizer
            self.stops = tuple(stops)
            self.prompt_length = prompt_length
            self.window = stop_window(stops)
            self.stopped_at: list[int | None] = [None] * batch_size

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch

            generated = input_ids.shape[1] - self.prompt_length
            start = max(self.prompt_length, input_ids.shape[1] - self.window)
            for row, stopped in enumerate(self.stopped_at):
                if stopped is None and self.stops:
                    tail = self.tokenizer.decode(input_ids[row, start:].tolist())
                    if any(stop in tail for stop in self.stops):
                        self.stopped_at[row] = generated
            done = [s is not None for s in self.stopped_at]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StopOnStrings


def make_stopping_criteria(tokenizer: Any, stops: Sequence[str], prompt_length: int,
                           batch_size: int) -> Any:
    """A `StopOnStrings` criteria (a transformers `StoppingCriteria`) for one batch."""
    return _stopping_criteria_class()(tokenizer, stops, prompt_length, batch_size)


class HFAgent(ChatAgent):
    """Local transformers generation, batched, stopping at the end of each action.

    Args:
        model: None (the embedded SmolLM2-135M default), a model directory, a `.gguf`
            file, a hub id, or an already loaded `PreTrainedModel` (then pass `tokenizer`).
        tokenizer: the tokenizer of an already loaded model.
        device, dtype, gguf_file: see `agents.models.load_model`.
        batch_size: conversations per `generate` call (bounds memory on long contexts).
        generate_kwargs: extra `generate` arguments (e.g. `repetition_penalty`).
        temperature, top_p, max_new_tokens, stop, seed: see `ChatAgent`; temperature 0
            is greedy decoding; `seed` makes sampling reproducible for the same calls.
    """

    name = "hf"

    def __init__(self, model: Any = None, *, tokenizer: Any = None, device: str = "cpu",
                 dtype: Any = None, gguf_file: str | None = None, batch_size: int = 8,
                 generate_kwargs: dict[str, Any] | None = None, **sampling: Any) -> None:
        super().__init__(**sampling)
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        if model is None or isinstance(model, str) or hasattr(model, "__fspath__"):
            model, tokenizer = load_model(model, device=device, dtype=dtype,
                                          gguf_file=gguf_file)
        elif tokenizer is None:
            raise ValueError("pass the tokenizer together with a loaded model")
        self.model = model
        self.tokenizer = ensure_chat_template(tokenizer)
        self.batch_size = batch_size
        self.generate_kwargs = dict(generate_kwargs or {})
        self._rng = random.Random(self.seed) if self.seed is not None else None
        self.eos_ids = self._eos_ids()
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.eos_ids[0] if self.eos_ids else 0

    def _eos_ids(self) -> list[int]:
        config_ids = getattr(self.model.generation_config, "eos_token_id", None)
        ids = config_ids if isinstance(config_ids, list) else [config_ids]
        ids = [i for i in [*ids, self.tokenizer.eos_token_id] if i is not None]
        return list(dict.fromkeys(ids))

    def prompt_ids(self, conversation: list[dict[str, str]]) -> list[int]:
        """Token ids of a conversation rendered by the chat template, ready to generate."""
        text = self.tokenizer.apply_chat_template(conversation, tokenize=False,
                                                  add_generation_prompt=True)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate_batch(self, conversations: list[list[dict[str, str]]]) -> list[Generation]:
        prompts = [self.prompt_ids(c) for c in conversations]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        results: dict[int, Generation] = {}
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            for index, generation in zip(chunk, self._generate([prompts[i] for i in chunk]),
                                         strict=True):
                results[index] = generation
        return [results[i] for i in range(len(prompts))]

    def _sampling_kwargs(self) -> dict[str, Any]:
        if self.temperature == 0:
            return {"do_sample": False}
        return {"do_sample": True, "temperature": self.temperature, "top_p": self.top_p,
                "top_k": 0}

    @contextmanager
    def _seeded(self) -> Iterator[None]:
        """Seeded sampling that leaves the caller's global torch RNG untouched."""
        import torch

        if self._rng is None or self.temperature == 0:
            yield
            return
        device = getattr(self.model, "device", None)
        devices = [device] if device is not None and device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self._rng.randrange(2**63))
            yield

    def _generate(self, prompts: list[list[int]]) -> list[Generation]:
        import torch
        from transformers import StoppingCriteriaList

        width = max(len(p) for p in prompts)
        device = self.model.device
        input_ids = torch.tensor([[self.pad_id] * (width - len(p)) + p for p in prompts],
                                 device=device)
        attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p)
                                       for p in prompts], device=device)
        criteria = make_stopping_criteria(self.tokenizer, self.stop, width, len(prompts))
        kwargs = {"max_new_tokens": self.max_new_tokens, "pad_token_id": self.pad_id,
                  "eos_token_id": self.eos_ids or None,
                  "stopping_criteria": StoppingCriteriaList([criteria]),
                  **self._sampling_kwargs(), **self.generate_kwargs}
        with self._seeded(), torch.inference_mode():
            output = self.model.generate(input_ids=input_ids, attention_mask=attention_mask,
                                         **kwargs)
        generated = output[:, width:].tolist()
        return [self._finish(prompt, tokens, stopped)
                for prompt, tokens, stopped in zip(prompts, generated, criteria.stopped_at,
                                                   strict=True)]

    def _finish(self, prompt: list[int], tokens: list[int], stopped: int | None) -> Generation:
        """One row's Generation: tokens up to its stop string or end of sequence."""
        length = len(tokens) if stopped is None else stopped
        for position, token in enumerate(tokens[:length]):
            if token in self.eos_ids:
                length = position + 1
                break
        text = self.tokenizer.decode(tokens[:length], skip_special_tokens=True)
        text, _ = cut_at_stop(text, self.stop)
        return Generation(text, prompt_tokens=len(prompt), completion_tokens=length)

    def close(self) -> None:
        """Drop the model (and the GPU cache it held)."""
        device = getattr(self.model, "device", None)
        self.model = None
        if device is not None and device.type == "cuda":
            import torch

            torch.cuda.empty_cache()
