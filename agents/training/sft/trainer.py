"""`SFTTrainer`: supervised cold start on interleaved think / code / output trajectories.

Each trajectory is tokenised exactly as a GRPO rollout of the same turns
(`agents.training.sft.data`), and the loss is the mean negative log-likelihood of the
assistant tokens of the whole optimizer batch (prompt and tool-output tokens have mask
0), so long trajectories are not down-weighted. Learning rate: linear warm-up, then
cosine decay.

The data order of an epoch is a function of (seed, epoch), and the learning rate a
function of the step: a run resumed from a checkpoint (`base.Trainer.resume`) continues
exactly where it stopped. Under `torchrun` / `accelerate launch` each rank trains on its
share of every batch through DistributedDataParallel; rank 0 logs and saves.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from ..base import Trainer
from ..batches import micro_batches, token_logprobs
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


class SFTTrainer(Trainer):
    """Fine-tune a policy on trajectories: `SFTTrainer(config).train()`.

    Args:
        config: the run's settings.
        model, tokenizer: an already loaded policy, trained in place (else `config.model`
            is loaded; a GGUF model is de-quantized first).
    """

    project = "deeptool-sft"
    config: SFTConfig

    def prepare(self) -> None:
        """Read and tokenise the trajectories; the step count follows from them."""
        self.train_data, self.eval_data = self._load_data()
        self.steps_per_epoch = math.ceil(len(self.train_data) / self.config.batch_size)
        self.total_steps = self.config.max_steps or self.config.epochs * self.steps_per_epoch

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

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "sft"}

    def _batches(self, examples: list[Any]) -> list[dict[str, torch.Tensor]]:
        return micro_batches([(e, ()) for e in examples],
                             self.config.gradient_accumulation_steps,
                             pad_id=self.tokenizer.pad_token_id or 0,
                             device=next(self.model.parameters()).device)

    def step_examples(self, step: int) -> list[Any]:
        """This rank's trajectories of optimizer step `step`."""
        size = self.config.batch_size
        epoch, position = divmod(step, self.steps_per_epoch)
        order = epoch_order(len(self.train_data), self.config.seed, epoch)
        chosen = order[position * size:(position + 1) * size]
        return [self.train_data.examples[i] for i in chosen[self.rank::self.world]]

    def train_step(self) -> dict[str, Any]:
        """One optimizer step on the next batch; returns its metrics."""
        start = time.perf_counter()
        lr = learning_rate_at(self.step, self.total_steps, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        examples = self.step_examples(self.step)
        batches = self._batches(examples) if examples else []
        tokens = self.sum_over_ranks(sum(float(b["mask"].sum()) for b in batches))
        nll_sum = 0.0

        def loss_of(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            nonlocal nll_sum
            logp, _ = token_logprobs(self.train_model, batch["ids"], batch["attn"],
                                     start=batch["start"])
            nll = -(logp * batch["mask"]).sum()
            nll_sum += float(nll.detach())
            return nll / max(tokens, 1.0) * self.world

        self.model.train()
        try:
            norm = self.optimizer_step(batches, loss_of)
        finally:
            self.model.eval()
        self.step += 1
        return {"step": self.step, "epoch": (self.step - 1) // self.steps_per_epoch,
                "loss": self.sum_over_ranks(nll_sum) / max(tokens, 1.0), "lr": lr,
                "grad_norm": norm, "tokens": int(tokens),
                "sequences": int(self.sum_over_ranks(len(examples))),
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
