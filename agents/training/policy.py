"""The policy a trainer updates: a loaded causal LM, de-quantized if it came from a GGUF
file, optionally wrapped in a LoRA adapter (peft), with a chat template.

Shared by `deeptool-train sft` and `deeptool-train grpo`, so a cold-start SFT checkpoint
and the GRPO run that continues from it load the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .settings import Settings, check, check_choice, coerce_floats

FINETUNE_MODES = ("full", "lora")


@dataclass
class PolicySettings(Settings):
    """How a trainer loads the policy it updates (fields shared by the trainer configs).

    Policy:
        model [None]: model directory, `.gguf` file or hub id; None is the embedded
            SmolLM2-135M-Instruct (`agents.models.load_model`).
        device ["cpu"], dtype [None]: see `agents.models.load_model`.
        finetune ["full"]: `"full"` or `"lora"` (peft).
        lora_r [16], lora_alpha [32], lora_dropout [0.0],
            lora_target_modules ["all-linear"]: the LoRA adapter.
    """

    model: str | None = None
    device: str = "cpu"
    dtype: str | None = None
    finetune: str = "full"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_target_modules: str | list[str] = "all-linear"

    def __post_init__(self) -> None:
        coerce_floats(self)
        check_choice("finetune", self.finetune, FINETUNE_MODES)
        check("lora_r", self.lora_r, lambda v: v > 0, "a positive integer", int)
        check("lora_dropout", self.lora_dropout, lambda v: v >= 0, "a number >= 0", float)


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
