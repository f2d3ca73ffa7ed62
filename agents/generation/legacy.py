"""Token-level generators moved out of `agents.training.grpo.generation` (to be replaced
by the one generation layer of `agents.generation`)."""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from typing import Any

from agents.hf_agent import make_stopping_criteria
from deeptool_env.protocol import STOP_SEQUENCES


def eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """End-of-sequence ids of the model's generation config and the tokenizer."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = configured if isinstance(configured, list) else [configured]
    ids = [i for i in [*ids, tokenizer.eos_token_id] if i is not None]
    return list(dict.fromkeys(ids))


def cut_generated(tokens: Sequence[int], stopped_at: int | None,
                  eos: Sequence[int]) -> list[int]:
    """The ids up to the stop (`stopped_at` tokens) or the first end-of-sequence token."""
    length = len(tokens) if stopped_at is None else min(stopped_at, len(tokens))
    for position, token in enumerate(tokens[:length]):
        if token in eos:
            return list(tokens[:position + 1])
    return list(tokens[:length])


class HFGenerator:
    """`generate_ids` on a transformers model (a peft model works too).

    Args:
        model, tokenizer: the policy and its tokenizer.
        max_new_tokens: tokens per turn.
        temperature: 0 is greedy decoding; otherwise sampling at this temperature.
        top_p: nucleus sampling (1.0: the full distribution).
        stops: strings that end a turn.
    """

    def __init__(self, model: Any, tokenizer: Any, *, max_new_tokens: int,
                 temperature: float = 1.0, top_p: float = 1.0,
                 stops: Sequence[str] = STOP_SEQUENCES) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.stops = tuple(stops)
        self.eos = eos_ids(model, tokenizer)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.eos[0] if self.eos else 0)

    def __call__(self, context: list[int]) -> list[int]:
        return self.generate_batch([context])[0]

    def generate_batch(self, contexts: list[list[int]]) -> list[list[int]]:
        """One left-padded `generate` call; each row is cut at its own stop."""
        import torch
        from transformers import StoppingCriteriaList

        device = next(self.model.parameters()).device
        width = max(len(c) for c in contexts)
        input_ids = torch.tensor([[self.pad_id] * (width - len(c)) + c for c in contexts],
                                 device=device)
        attention_mask = torch.tensor([[0] * (width - len(c)) + [1] * len(c)
                                       for c in contexts], device=device)
        criteria = make_stopping_criteria(self.tokenizer, self.stops, width, len(contexts))
        sampling: dict[str, Any] = {"do_sample": False}
        if self.temperature > 0:
            sampling = {"do_sample": True, "temperature": self.temperature,
                        "top_p": self.top_p, "top_k": 0}
        with torch.no_grad():
            output = self.model.generate(
                input_ids=input_ids, attention_mask=attention_mask,
                max_new_tokens=self.max_new_tokens, pad_token_id=self.pad_id,
                eos_token_id=self.eos or None,
                stopping_criteria=StoppingCriteriaList([criteria]), **sampling)
        return [cut_generated(row, stopped, self.eos) for row, stopped
                in zip(output[:, width:].tolist(), criteria.stopped_at, strict=True)]

    def sync_weights(self, model: Any) -> None:
        """Nothing to do: generation runs on the trained model itself."""


def merged_state_dict(model: Any) -> dict[str, Any]:
    """Full-model weights under the base model's names; a peft model's LoRA is merged
    for the copy and unmerged again afterwards."""
    if not hasattr(model, "merge_adapter"):
        return {k: v.detach() for k, v in model.state_dict().items()}
    model.merge_adapter()
    try:
        state = {}
        for key, value in model.get_base_model().state_dict().items():
            if "lora_" in key:
                continue
            state[key.replace(".base_layer.", ".")] = value.detach().clone()
        return state
    finally:
        model.unmerge_adapter()


class VLLMGenerator:
    """`generate_ids` on vLLM's offline engine, in this process.

    The engine runs in-process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`) so that
    `sync_weights` can load the trainer's tensors straight into its model.

    Args:
        model_path: a Hugging Face model directory or hub id (for the embedded GGUF
            default pass `agents.models.default_hf_dir()`).
        max_new_tokens, temperature, top_p, stops: as `HFGenerator`.
        seed: seeds the per-request sampling seeds.
        llm_kwargs: extra `vllm.LLM` arguments (e.g. `max_model_len`).
    """

    def __init__(self, model_path: str, *, max_new_tokens: int, temperature: float = 1.0,
                 top_p: float = 1.0, stops: Sequence[str] = STOP_SEQUENCES,
                 seed: int = 0, llm_kwargs: dict[str, Any] | None = None) -> None:
        from agents.vllm_agent import CPU_MEMORY_UTILIZATION, _import_vllm, _on_cpu

        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        vllm = _import_vllm()
        self._params = vllm.SamplingParams
        kwargs: dict[str, Any] = {"seed": seed, **(llm_kwargs or {})}
        if _on_cpu():  # float32 as the trainer, and no compilation (slow to start on CPU)
            kwargs = {"dtype": "float32", "enforce_eager": True,
                      "gpu_memory_utilization": CPU_MEMORY_UTILIZATION, **kwargs}
        self.llm = vllm.LLM(model=model_path, **kwargs)
        self.max_new_tokens, self.temperature, self.top_p = max_new_tokens, temperature, top_p
        self.stops = list(stops)
        self._rng = random.Random(seed)

    def __call__(self, context: list[int]) -> list[int]:
        return self.generate_batch([context])[0]

    def generate_batch(self, contexts: list[list[int]]) -> list[list[int]]:
        greedy = self.temperature == 0
        params = [self._params(
            n=1, temperature=self.temperature, top_p=1.0 if greedy else self.top_p,
            max_tokens=self.max_new_tokens, stop=self.stops,
            include_stop_str_in_output=True,
            seed=None if greedy else self._rng.randrange(2**31)) for _ in contexts]
        outputs = self.llm.generate([{"prompt_token_ids": list(c)} for c in contexts],
                                    params, use_tqdm=False)
        return [list(output.outputs[0].token_ids) for output in outputs]

    def sync_weights(self, model: Any) -> None:
        """Load the trained weights into the engine and drop its stale prefix cache."""
        state = merged_state_dict(model)
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": state.items()})
        self.llm.reset_prefix_cache()

    def close(self) -> None:
        engine = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
        if engine is not None and hasattr(engine, "shutdown"):
            engine.shutdown()


