"""`SFTTrainer`: supervised cold start on interleaved think / code / output trajectories.

Each trajectory is tokenised exactly as a GRPO rollout of the same turns
(`agents.sft.data`), and the loss is the mean negative log-likelihood of the assistant
tokens of the whole optimiser batch (prompt and tool-output tokens have mask 0), so long
trajectories are not down-weighted. Learning rate: linear warm-up, then cosine decay.

The data order of an epoch is a function of (seed, epoch), and the learning rate a
function of the step: a run resumed from a checkpoint (weights, optimiser, RNGs, step)
continues exactly where it stopped. Under `torchrun` / `accelerate launch` each rank
trains on its share of every batch through DistributedDataParallel; rank 0 logs and saves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

from .. import checkpoint
from ..grpo.loss import micro_batches, token_logprobs
from ..policy import init_distributed, load_trainable, optimisation, rank_device
from .config import SFTConfig
from .data import SFTData, epoch_order, read_trajectories, split_eval, tokenize


def learning_rate_at(step: int, total: int, config: SFTConfig) -> float:
    """Linear warm-up over `warmup_ratio` of the steps, then cosine to `min_lr_ratio`."""
    warmup = math.ceil(config.warmup_ratio * total)
    if step < warmup:
        return config.learning_rate * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    floor = config.min_lr_ratio
    return config.learning_rate * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


class SFTTrainer:
    """Fine-tune a policy on trajectories: `SFTTrainer(config).train()`.

    Args:
        config: the run's settings.
        model, tokenizer: an already loaded policy, trained in place (else `config.model`
            is loaded; a GGUF model is de-quantized first).
    """

    def __init__(self, config: SFTConfig, *, model: Any = None, tokenizer: Any = None):
        self.config = config
        self.output_dir = Path(config.output_dir)
        self.rank, self.world = init_distributed()
        torch.manual_seed(config.seed)
        self.model, self.tokenizer = load_trainable(
            config, model=model, tokenizer=tokenizer,
            device=rank_device(config.device, self.world))
        self.train_data, self.eval_data = self._load_data()
        self.params, self.optimizer, self.train_model = optimisation(
            self.model, learning_rate=config.learning_rate,
            weight_decay=config.weight_decay, world=self.world)
        self.steps_per_epoch = math.ceil(len(self.train_data) / config.batch_size)
        self.total_steps = config.max_steps or config.epochs * self.steps_per_epoch
        self.step = 0
        if config.resume_from:
            self._resume(config.resume_from)
        self.logger = None
        if self.rank == 0:
            self.logger = checkpoint.MetricsLogger(self.output_dir, config.report_to,
                                                   config.to_dict(), project="deeptool-sft")

    def _load_data(self) -> tuple[SFTData, SFTData | None]:
        config = self.config
        train = read_trajectories(config.train_file)
        held: list[Any] = []
        if config.eval_file:
            held = read_trajectories(config.eval_file)
        else:
            train, held = split_eval(train, config.eval_fraction, config.seed)
        data = tokenize(train, self.tokenizer, max_length=config.max_length,
                        source=config.train_file)
        if not data.examples:
            raise ValueError(f"every trajectory of {config.train_file} is longer than "
                             f"max_length={config.max_length} tokens")
        evaluation = None
        if held:
            evaluation = tokenize(held, self.tokenizer, max_length=config.max_length,
                                  source=config.eval_file or config.train_file)
        return data, evaluation

    def _batches(self, examples: list[Any]) -> list[dict[str, torch.Tensor]]:
        return micro_batches([(e, ()) for e in examples],
                             self.config.gradient_accumulation_steps,
                             pad_id=self.tokenizer.pad_token_id or 0,
                             device=next(self.model.parameters()).device)

    def step_examples(self, step: int) -> list[Any]:
        """This rank's trajectories of optimiser step `step`."""
        size = self.config.batch_size
        epoch, position = divmod(step, self.steps_per_epoch)
        order = epoch_order(len(self.train_data), self.config.seed, epoch)
        chosen = order[position * size:(position + 1) * size]
        return [self.train_data.examples[i] for i in chosen[self.rank::self.world]]

    def _all_ranks_sum(self, value: float) -> float:
        if self.world == 1:
            return value
        total = torch.tensor([value], device=next(self.model.parameters()).device)
        torch.distributed.all_reduce(total)
        return float(total)

    def train_step(self) -> dict[str, Any]:
        """One optimiser step on the next batch; returns its metrics."""
        start, config = time.perf_counter(), self.config
        lr = learning_rate_at(self.step, self.total_steps, config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        examples = self.step_examples(self.step)
        batches = self._batches(examples) if examples else []
        tokens = self._all_ranks_sum(sum(float(b["mask"].sum()) for b in batches))
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        nll_sum = 0.0
        for i, batch in enumerate(batches):
            sync = self.world == 1 or i == len(batches) - 1
            with nullcontext() if sync else self.train_model.no_sync():
                logp, _ = token_logprobs(self.train_model, batch["ids"], batch["attn"],
                                         start=batch["start"])
                nll = -(logp * batch["mask"]).sum()
                (nll / max(tokens, 1.0) * self.world).backward()
            nll_sum += float(nll.detach())
        self.model.eval()
        norm = torch.nn.utils.clip_grad_norm_(self.params, config.max_grad_norm or 1e12)
        self.optimizer.step()
        self.step += 1
        return {"step": self.step, "epoch": (self.step - 1) // self.steps_per_epoch,
                "loss": self._all_ranks_sum(nll_sum) / max(tokens, 1.0), "lr": lr,
                "grad_norm": float(norm), "tokens": int(tokens),
                "sequences": int(self._all_ranks_sum(len(examples))),
                "time": time.perf_counter() - start}

    @torch.no_grad()
    def evaluate(self, data: SFTData | None = None) -> dict[str, float]:
        """Mean NLL per assistant token (and perplexity) of held-out trajectories."""
        data = data or self.eval_data
        if data is None:
            return {}
        nll, tokens = 0.0, 0.0
        size = self.config.batch_size
        for start in range(0, len(data), size):
            for batch in self._batches(data.examples[start:start + size]):
                logp, _ = token_logprobs(self.model, batch["ids"], batch["attn"],
                                         start=batch["start"])
                nll -= float((logp * batch["mask"]).sum())
                tokens += float(batch["mask"].sum())
        loss = nll / max(tokens, 1.0)
        return {"eval_loss": loss, "eval_ppl": math.exp(min(loss, 50.0))}

    def train(self, on_step: Callable[[dict[str, Any]], None] | None = None
              ) -> list[dict[str, Any]]:
        """Train to the last step (continuing a resumed run), then write `final/`;
        returns each step's metrics (`on_step` also gets them as they come)."""
        config, history = self.config, []

        def log(metrics: dict[str, Any]) -> None:
            history.append(metrics)
            if self.logger is not None:
                self.logger.log(metrics)
            if on_step is not None and self.rank == 0:
                on_step(metrics)

        if self.eval_data is not None and self.step == 0:
            log({"step": 0, **self.evaluate()})
        while self.step < self.total_steps:
            metrics = self.train_step()
            last = self.step == self.total_steps
            if self.eval_data is not None and (last or (
                    config.eval_every and self.step % config.eval_every == 0)):
                metrics.update(self.evaluate())
            log(metrics)
            if last or (config.save_every and self.step % config.save_every == 0):
                self.save()
        self.save_final()
        return history

    def save(self) -> Path | None:
        """Checkpoint the current step (rank 0; the others wait for it)."""
        path = None
        if self.rank == 0:
            path = checkpoint.save_checkpoint(
                self.output_dir, self.step, self.model, self.optimizer, self.tokenizer,
                {"config": self.config.to_dict(), "kind": "sft"},
                keep=self.config.keep_checkpoints)
        if self.world > 1:
            torch.distributed.barrier()
        return path

    def save_final(self) -> Path:
        """The trained policy at `output_dir/final` (see `checkpoint.save_final_model`)."""
        return checkpoint.save_final_model(self.output_dir, self.model, self.tokenizer,
                                           lora=self.config.finetune == "lora",
                                           rank=self.rank, world=self.world)

    def _resume(self, resume_from: str) -> None:
        path = checkpoint.resolve_checkpoint(self.output_dir, resume_from)
        if path is None:
            return
        state = checkpoint.load_checkpoint(path)
        checkpoint.load_model_weights(self.model, path, lora=self.config.finetune == "lora")
        self.optimizer.load_state_dict(state["optimizer"])
        if self.rank == 0:
            checkpoint.restore_rng(state["rng"])
        self.step = int(state["step"])

    def close(self) -> None:
        if self.logger is not None:
            self.logger.close()
