"""The policy a trainer updates: a loaded causal LM, de-quantized if it came from a GGUF
file, optionally wrapped in a LoRA adapter (peft), with a chat template.

Shared by `deeptool-train sft` and `deeptool-train grpo`, so a cold-start SFT checkpoint
and the GRPO run that continues from it load the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deeptool_env.settings import NON_NEGATIVE, POSITIVE, Settings, setting

FINETUNE_MODES = ("full", "lora")


@dataclass
class PolicySettings(Settings):
    """How a trainer loads the policy it updates (the fields shared by the trainer configs)."""

    model: str | None = setting(
        None, "model directory, `.gguf` file or hub id; None is the embedded "
        "SmolLM2-135M-Instruct (`agents.models.load_model`)", section="Policy")
    device: str = setting("cpu", "torch device of the policy (`cuda`, `cuda:1`, `cpu`)")
    dtype: str | None = setting(None, "torch dtype name (`bfloat16`, `float32`); None: the "
                                      "model's own (see `agents.models.load_model`)")
    finetune: str = setting("full", "`full` trains every weight, `lora` a peft adapter",
                            choices=FINETUNE_MODES)
    lora_r: int = setting(16, "rank of the LoRA adapter", rule=POSITIVE)
    lora_alpha: int = setting(32, "LoRA scaling alpha (the update is scaled by alpha / r)",
                              rule=POSITIVE)
    lora_dropout: float = setting(0.0, "dropout on the LoRA input", rule=NON_NEGATIVE)
    lora_target_modules: str | list[str] = setting(
        "all-linear", "modules that get an adapter: `all-linear` or a list of names")


def load_trainable(settings: PolicySettings, *, model: Any = None, tokenizer: Any = None,
                   device: str | None = None) -> tuple[Any, Any]:
    """(policy in eval mode, tokenizer with a chat template) of `settings`.

    `model`/`tokenizer` are an already loaded pair (trained in place); otherwise
    `settings.model` is loaded with `agents.models.load_model` (None: the embedded
    SmolLM2). `device` overrides `settings.device` (a distributed rank's own GPU)."""
    from agents.models import dequantized_copy, ensure_chat_template, load_model

    if model is None:
        model, tokenizer = load_model(settings.model, device=device or settings.device,
                                      dtype=settings.dtype)
    elif tokenizer is None:
        raise ValueError("pass the tokenizer together with a loaded model")
    if getattr(model.config, "quantization_config", None) is not None:
        model = dequantized_copy(model).to(model.device)
    if settings.finetune == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(
            r=settings.lora_r, lora_alpha=settings.lora_alpha,
            lora_dropout=settings.lora_dropout, task_type="CAUSAL_LM",
            target_modules=settings.lora_target_modules))
    return model.eval(), ensure_chat_template(tokenizer)
