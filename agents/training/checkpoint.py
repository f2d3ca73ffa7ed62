"""Checkpoints of a training run (SFT or GRPO), and its exported `final/` model.

Checkpoints (`<output_dir>/checkpoints/step-00000012/`) hold the model (the LoRA adapter
only, when training LoRA) in Hugging Face format, the optimizer state, the step, the
trainer's own state and every RNG state, so a resumed run continues where it stopped and
draws the same random numbers. A checkpoint is written to a hidden staging directory and
renamed into place, and the `latest` pointer is replaced atomically too: a run killed
mid-save leaves the previous checkpoint intact and never a half-written one.

The layout: `model/` (weights and tokenizer), `optimizer.pt`, `rng.pt` (`capture_rng`)
and `trainer_state.json` (`step`, the run's `config` and the trainer's own state, e.g.
GRPO's task sampler; under torchrun every rank's, as `rank_states`). Metrics are
`agents.training.metrics`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

LATEST = "latest"
STATE = "trainer_state.json"


def capture_rng() -> dict[str, Any]:
    """The global RNG states of python, numpy and torch (and CUDA), as plain data."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(np.asarray(keys).copy()), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Undo `capture_rng`."""
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy(), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_root(output_dir: str | os.PathLike) -> Path:
    return Path(output_dir) / "checkpoints"


def latest_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint of a run, or None."""
    pointer = checkpoint_root(output_dir) / LATEST
    if not pointer.is_file():
        return None
    path = checkpoint_root(output_dir) / pointer.read_text().strip()
    return path if (path / STATE).is_file() else None


def resolve_checkpoint(output_dir: str | os.PathLike, resume_from: str) -> Path | None:
    """`"latest"` (None when the run has no checkpoint yet) or an explicit directory."""
    if resume_from == LATEST:
        return latest_checkpoint(output_dir)
    path = Path(resume_from)
    if not (path / STATE).is_file():
        raise FileNotFoundError(f"{path} is not a training checkpoint (no {STATE})")
    return path


def save_checkpoint(output_dir: str | os.PathLike, step: int, model: Any, optimizer: Any,
                    tokenizer: Any, trainer_state: dict[str, Any], *, keep: int = 2) -> Path:
    """Write checkpoint `step` atomically, point `latest` at it, keep the newest `keep`."""
    root = checkpoint_root(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        model.save_pretrained(staging / "model")
        tokenizer.save_pretrained(staging / "model")
        torch.save(optimizer.state_dict(), staging / "optimizer.pt")
        torch.save(capture_rng(), staging / "rng.pt")
        state = {"step": step, **trainer_state}
        (staging / STATE).write_text(json.dumps(state, indent=1, default=str))
        target = root / name
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _write_atomic(root / LATEST, name)
    for old in sorted(root.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def save_final_model(output_dir: str | os.PathLike, model: Any, tokenizer: Any, *,
                     lora: bool, rank: int = 0, world: int = 1) -> Path:
    """The trained model in Hugging Face format at `output_dir/final`, for the next stage
    (`deeptool-train grpo --model`, `deeptool-bench run --model`): a LoRA adapter is
    merged into a copy of the base weights. Rank 0 writes it to a staging directory and
    renames it, so `final/` is never half-written; the other ranks wait for it."""
    target = Path(output_dir) / "final"
    if rank == 0:
        if lora:
            import copy

            model = copy.deepcopy(model).merge_and_unload()
        staging = Path(tempfile.mkdtemp(prefix=".final-", dir=Path(output_dir)))
        try:
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    if world > 1:
        torch.distributed.barrier()
    return target


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The state of a checkpoint: `step`, the trainer's state, `optimizer` and `rng`."""
    state = json.loads((path / STATE).read_text())
    state["optimizer"] = torch.load(path / "optimizer.pt", weights_only=True)
    state["rng"] = torch.load(path / "rng.pt", weights_only=True)
    return state


def restore(path: Path, model: Any, optimizer: Any, *, lora: bool,
            global_rng: bool = True) -> dict[str, Any]:
    """Load a checkpoint's weights and optimizer state into a trainer's parts; returns
    its `trainer_state.json` (`step`, `config` and the trainer's own keys).
    `global_rng` also restores the process-wide RNGs (rank 0 of a distributed run:
    they are its own)."""
    state = load_checkpoint(path)
    load_model_weights(model, path, lora=lora)
    optimizer.load_state_dict(state.pop("optimizer"))
    rng = state.pop("rng")
    if global_rng:
        restore_rng(rng)
    return state


def load_model_weights(model: Any, path: Path, *, lora: bool) -> None:
    """Load a checkpoint's weights into the policy: the adapter into a peft model, or the
    whole model's state."""
    if lora:
        from peft import load_peft_weights, set_peft_model_state_dict

        set_peft_model_state_dict(model, load_peft_weights(str(path / "model")))
        return
    from transformers import AutoModelForCausalLM

    saved = AutoModelForCausalLM.from_pretrained(path / "model", dtype=model.dtype)
    model.load_state_dict(saved.state_dict())


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
