"""Token batches of trajectories and the policy's log-probabilities on them, shared by the
SFT and GRPO trainers.

Shapes: `ids` and `attn` are `[batch, L]`; every per-token tensor (`mask`, `adv`, the
log-probabilities) is `[batch, L-1]` and aligned with the *predicted* tokens: position k
holds token k+1 of the sequence. `mask` is 1 on tokens the policy generated and 0 on
prompt, observation and padding tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def token_logprobs(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, *,
                   temperature: float = 1.0, with_entropy: bool = False,
                   entropy_grad: bool = True, start: int = 0
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probabilities of tokens 1..L-1 of each row (and the entropy of each
    prediction), `[batch, L-1]`. Logits are divided by the sampling temperature so the
    probabilities are those of the distribution the rollouts were drawn from. The
    entropy is kept out of the graph unless `entropy_grad` (it is then only logged).

    Only predictions from position `start` on are computed (`logits_to_keep`): the
    prompt before the first trained token needs no vocabulary-sized logits, which are
    most of the memory of a batch (rows x positions x vocabulary floats). Positions
    before `start` read 0. The log-softmax is `chosen - logsumexp`, so no second
    vocabulary-sized tensor is kept for the backward pass."""
    length = input_ids.shape[1]
    start = max(0, min(start, length - 1))
    logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False,
                   logits_to_keep=length - start).logits[:, :-1].float()
    if temperature > 0 and temperature != 1.0:
        logits = logits / temperature
    normaliser = torch.logsumexp(logits, dim=-1)
    chosen = logits.gather(-1, input_ids[:, start + 1:].unsqueeze(-1)).squeeze(-1) - normaliser
    entropy = None
    if with_entropy:
        with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
            probs = torch.softmax(logits, dim=-1)
            entropy = normaliser - (probs * logits).sum(-1)
    if start:
        pad = chosen.new_zeros(chosen.shape[0], start)
        chosen = torch.cat([pad, chosen], dim=1)
        entropy = None if entropy is None else torch.cat([pad, entropy], dim=1)
    return chosen, entropy


def first_trained_position(mask: torch.Tensor) -> int:
    """The first position (of the `[batch, L-1]` predicted-token alignment) that any row
    trains on; the prompt before it needs no logits."""
    columns = mask.any(dim=0).nonzero()
    return int(columns[0]) if len(columns) else 0


def micro_batches(samples: Sequence[tuple[Any, Sequence[float]]], parts: int, *,
                  pad_id: int, device: Any = "cpu") -> list[dict[str, torch.Tensor]]:
    """Split (trajectory, token advantages) pairs into at most `parts` right-padded
    micro-batches of similar lengths (sorted, so little padding): `ids`, `attn` of shape
    `[b, L]`, `mask`, `adv` aligned with the predicted tokens, `[b, L-1]`, and `start`,
    the batch's `first_trained_position`. SFT passes no advantages (`()`: zeros)."""
    order = sorted(range(len(samples)), key=lambda i: len(samples[i][0].ids))
    batches = []
    for chunk in np.array_split(np.asarray(order, dtype=int), min(parts, len(order))):
        rows = [samples[i] for i in chunk]
        width = max(len(t.ids) for t, _ in rows)

        def padded(values: list[Sequence[Any]], fill: Any, width: int = width) -> Any:
            return [list(v) + [fill] * (width - len(v)) for v in values]

        def tensor(values: Any, dtype: torch.dtype) -> torch.Tensor:
            return torch.tensor(values, dtype=dtype, device=device)

        batches.append({
            "ids": tensor(padded([t.ids for t, _ in rows], pad_id), torch.long),
            "attn": tensor(padded([[1] * len(t.ids) for t, _ in rows], 0), torch.long),
            "mask": tensor(padded([t.loss_mask for t, _ in rows], 0), torch.float)[:, 1:],
            "adv": tensor(padded([a for _, a in rows], 0.0), torch.float)[:, 1:]})
        batches[-1]["start"] = first_trained_position(batches[-1]["mask"])
    return batches
