"""`Trainer`: the plumbing `SFTTrainer` and `GRPOTrainer` share, so both set up, resume,
log and save the same way.

What the base does: join the process group under `torchrun` / `accelerate launch`
(WORLD_SIZE > 1; rank 0 logs and saves, the others wait at a barrier), seed torch and
numpy with `seed + rank`, load the policy (`policy.load_trainable`), build its AdamW
optimizer and DistributedDataParallel wrapper, resume from a checkpoint (weights,
optimizer, the step, the process RNGs and the subclass's `state_dict()`), log each step
(`metrics.jsonl`, TensorBoard / W&B, `on_step`), and run the loop of `train()`: evaluate
at the start, then `train_step()` until `total_steps`, evaluating every `eval_every`
steps and at the last, saving every `save_every` steps and at the last, and finally
exporting `final/`.

What a subclass provides: `prepare()` (its own parts, built before the optimizer and
the resume), `total_steps`, `train_step()` (one step: advances `self.step`, returns the
step's metrics), `evaluate()` (held-out metrics, `{}` when there is nothing to evaluate)
and, for state beyond the weights and RNGs, `state_dict()` / `load_state_dict()`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from . import checkpoint
from .metrics import MetricsLogger
from .policy import load_trainable

if TYPE_CHECKING:
    from .settings import TrainerSettings


def init_distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group when launched with WORLD_SIZE > 1
    (`torchrun`, `accelerate launch`): NCCL on GPUs (each rank's current device is its
    own, `LOCAL_RANK`, which NCCL's collectives use), gloo on CPUs."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def rank_device(device: str, world: int) -> str:
    """A distributed rank's own GPU (`cuda:LOCAL_RANK`); other devices are unchanged."""
    if world > 1 and device.startswith("cuda"):
        return f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
    return device


class Trainer:
    """The shared part of a trainer (see the module docstring); not used on its own.

    Attributes: `config`, `output_dir`, `rank`, `world`, `model`, `tokenizer`, `params`
    (the trained parameters), `optimizer` (their AdamW), `train_model` (the module the
    forward passes of an update run on: the model, or its DDP wrapper) and `step`.
    """

    project = "deeptool"
    """The Weights & Biases project of the run."""

    total_steps: int

    def __init__(self, config: TrainerSettings, *, model: Any = None, tokenizer: Any = None):
        self.config = config
        self.output_dir = Path(config.output_dir)
        self.rank, self.world = init_distributed()
        torch.manual_seed(config.seed + self.rank)
        np.random.seed(config.seed + self.rank)
        self.model, self.tokenizer = load_trainable(
            config, model=model, tokenizer=tokenizer,
            device=rank_device(config.device, self.world))
        self.prepare()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=config.learning_rate,
                                           weight_decay=config.weight_decay)
        self.train_model = (torch.nn.parallel.DistributedDataParallel(self.model)
                            if self.world > 1 else self.model)
        self.step = 0
        self._logger: MetricsLogger | None = None
        self._on_step: Callable[[dict[str, Any]], None] | None = None
        if config.resume_from:
            self.resume(config.resume_from)

    # The subclass's parts.
    def prepare(self) -> None:
        """Build the subclass's own parts (data, reference model, task sampler) once the
        policy is loaded, before the optimizer is made and a checkpoint restored."""

    def train_step(self) -> dict[str, Any]:
        """One training step; advances `self.step` and returns the step's metrics."""
        raise NotImplementedError

    def evaluate(self) -> dict[str, float]:
        """Held-out metrics (`{}`: nothing to evaluate)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """The subclass's own state a checkpoint keeps (JSON-serialisable)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned (given the whole `trainer_state.json`)."""

    # The run.
    def train(self, on_step: Callable[[dict[str, Any]], None] | None = None
              ) -> list[dict[str, Any]]:
        """Train to `total_steps` (continuing a resumed run), then write `final/`;
        returns each step's metrics (`on_step` also gets them as they come, on rank 0)."""
        config, history = self.config, []
        self._on_step = on_step
        if self.step == 0 and (evaluation := self.evaluate()):
            history.append(self.log({"step": 0, **evaluation}))
        while self.step < self.total_steps:
            metrics = self.train_step()
            last = self.step == self.total_steps
            if last or (config.eval_every and self.step % config.eval_every == 0):
                metrics.update(self.evaluate())
            history.append(self.log(metrics))
            if last or (config.save_every and self.step % config.save_every == 0):
                self.save()
        self.save_final()
        return history

    def optimizer_step(self, batches: Iterable[Any], loss_of: Callable[[Any], torch.Tensor]
                       ) -> float:
        """One optimizer step on the gradient of `loss_of(batch)` summed over
        micro-batches (DDP averages the gradients once, on the last); the gradient is
        clipped to `max_grad_norm`. Returns the gradient norm before clipping."""
        batches = list(batches)
        self.optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(batches):
            sync = self.world == 1 or i == len(batches) - 1
            with nullcontext() if sync else self.train_model.no_sync():
                loss_of(batch).backward()
        norm = torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm or 1e12)
        self.optimizer.step()
        return float(norm)

    def sum_over_ranks(self, value: float) -> float:
        """`value` summed over every rank (itself in a single process)."""
        if self.world == 1:
            return value
        total = torch.tensor([value], device=next(self.model.parameters()).device)
        torch.distributed.all_reduce(total)
        return float(total)

    def log(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """Report one step's metrics (rank 0): a line of `metrics.jsonl`, TensorBoard /
        W&B when configured, and `train`'s `on_step`. Returns `metrics`."""
        if self.rank == 0:
            if self._logger is None:
                self._logger = MetricsLogger(self.output_dir, self.config.report_to,
                                             self.config.to_dict(), project=self.project)
            self._logger.log(metrics)
            if self._on_step is not None:
                self._on_step(metrics)
        return metrics

    # Checkpoints.
    @property
    def lora(self) -> bool:
        return self.config.finetune == "lora"

    def save(self) -> Path | None:
        """Checkpoint the current step (rank 0 writes it; the others wait for it). Under
        torchrun every rank's `state_dict()` is kept (`rank_states`), so each resumes its
        own (GRPO: each rank's task sampler)."""
        path, states = None, [self.state_dict()]
        if self.world > 1:
            states = [{} for _ in range(self.world)]
            torch.distributed.all_gather_object(states, self.state_dict())
        if self.rank == 0:
            state = {"config": self.config.to_dict(), **states[0]}
            if self.world > 1:
                state["rank_states"] = states
            path = checkpoint.save_checkpoint(
                self.output_dir, self.step, self.model, self.optimizer, self.tokenizer,
                state, keep=self.config.keep_checkpoints)
        if self.world > 1:
            torch.distributed.barrier()
        return path

    def save_final(self) -> Path:
        """The trained policy at `output_dir/final` (see `checkpoint.save_final_model`)."""
        return checkpoint.save_final_model(self.output_dir, self.model, self.tokenizer,
                                           lora=self.lora, rank=self.rank, world=self.world)

    def resume(self, resume_from: str) -> None:
        """Continue from a checkpoint (`"latest"`: the run's newest, if any): weights,
        optimizer, step, the process RNGs (rank 0's own) and the subclass's state."""
        path = checkpoint.resolve_checkpoint(self.output_dir, resume_from)
        if path is None:
            return
        state = checkpoint.restore(path, self.model, self.optimizer, lora=self.lora,
                                   global_rng=self.rank == 0)
        ranks = state.get("rank_states", [])
        self.load_state_dict({**state, **ranks[self.rank]} if len(ranks) == self.world
                             else state)
        self.step = int(state["step"])

    def close(self) -> None:
        """Release the metrics reporters (subclasses release their own resources too)."""
        if self._logger is not None:
            self._logger.close()
            self._logger = None
