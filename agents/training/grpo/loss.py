"""The GRPO objective on token tensors: PPO-clip with clip-higher, KL, entropy and LLDS.

Shapes: every per-token tensor is `[batch, length]` and aligned with the *predicted*
tokens (position k holds the log-probability of token k+1 of the sequence); `mask` is 1
on tokens the policy generated and 0 on prompt, observation and padding tokens, which
therefore contribute nothing. Terms (token-level, averaged over the generated tokens of
the whole batch, as in DAPO, so long trajectories are not down-weighted):

    r        = exp(new - old)                                   (old: rollout-time)
    policy   = -min(r * A, clip(r, 1 - clip_low, 1 + clip_high) * A)
    kl (k3)  = exp(ref - new) - (ref - new) - 1                 (Schulman's estimator)
    llds     = relu(ll_old - ll_new) per sequence, ll = mean log-prob of its chosen tokens
    loss     = policy + kl_coef * kl - entropy_coef * entropy + llds_coef * llds

LLDS (likelihood-displacement stabilisation, from the "GRPO collapse" analysis) only
acts on sequences whose likelihood fell below its rollout-time value, which is the
"lazy likelihood displacement" that precedes the collapse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .advantages import group_advantages, token_advantages

VOID = "no_action"


@dataclass
class LossTerms:
    """The loss (with gradient) and its parts (detached), for logging."""

    loss: torch.Tensor
    policy: torch.Tensor
    kl: torch.Tensor
    entropy: torch.Tensor
    llds: torch.Tensor
    clip_low_frac: torch.Tensor
    clip_high_frac: torch.Tensor
    mean_ll: torch.Tensor


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


def sequence_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-row mean of `values` over masked-in tokens (0 for a row without any)."""
    return (values * mask).sum(-1) / mask.sum(-1).clamp(min=1)


def grpo_loss(new_logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
              mask: torch.Tensor, *, clip_low: float = 0.2, clip_high: float = 0.28,
              ref_logp: torch.Tensor | None = None, kl_coef: float = 0.0,
              entropy: torch.Tensor | None = None, entropy_coef: float = 0.0,
              llds_coef: float = 0.0, num_tokens: float | None = None,
              num_sequences: float | None = None) -> LossTerms:
    """The GRPO loss of one (micro-)batch; see the module docstring.

    Args:
        new_logp: current log-probabilities (with gradient).
        old_logp: log-probabilities at rollout time (no gradient).
        advantages: per-token advantages (0 where `mask` is 0).
        mask: 1 on generated tokens, 0 elsewhere.
        ref_logp: reference-model log-probabilities, needed when `kl_coef > 0`.
        entropy: per-token entropy, needed when `entropy_coef > 0`.
        num_tokens, num_sequences: generated tokens and sequences of the *whole* batch
            when this is one micro-batch of it, so that accumulated gradients equal the
            gradient of the whole batch; default this batch's own counts.
    """
    mask = mask.to(new_logp.dtype)
    old_logp = old_logp.detach()
    tokens = float(mask.sum()) if num_tokens is None else float(num_tokens)
    tokens = max(tokens, 1.0)

    def token_mean(values: torch.Tensor) -> torch.Tensor:
        return (values * mask).sum() / tokens

    ratio = torch.exp(new_logp - old_logp)
    clipped = ratio.clamp(1.0 - clip_low, 1.0 + clip_high)
    policy = token_mean(-torch.minimum(ratio * advantages, clipped * advantages))
    loss = policy
    zero = new_logp.new_zeros(())
    kl = zero
    if kl_coef > 0:
        if ref_logp is None:
            raise ValueError("kl_coef > 0 needs ref_logp")
        delta = ref_logp.detach() - new_logp
        kl = token_mean(torch.exp(delta) - delta - 1.0)
        loss = loss + kl_coef * kl
    ent = zero if entropy is None else token_mean(entropy)
    if entropy_coef > 0:
        if entropy is None:
            raise ValueError("entropy_coef > 0 needs the entropy")
        loss = loss - entropy_coef * ent
    has_tokens = (mask.sum(-1) > 0).to(new_logp.dtype)
    sequences = float(has_tokens.sum()) if num_sequences is None else float(num_sequences)
    drop = torch.relu(sequence_mean(old_logp, mask) - sequence_mean(new_logp, mask))
    llds = (drop * has_tokens).sum() / max(sequences, 1.0)
    if llds_coef > 0:
        loss = loss + llds_coef * llds
    with torch.no_grad():
        low = ((ratio < 1.0 - clip_low) & (advantages < 0)).to(mask.dtype)
        high = ((ratio > 1.0 + clip_high) & (advantages > 0)).to(mask.dtype)
        terms = LossTerms(loss, policy.detach(), kl.detach(), ent.detach(), llds.detach(),
                          token_mean(low), token_mean(high), token_mean(new_logp.detach()))
    return terms


def micro_batches(samples: Sequence[tuple[Any, Sequence[float]]], parts: int, *,
                  pad_id: int, device: Any = "cpu") -> list[dict[str, torch.Tensor]]:
    """Split (trajectory, token advantages) pairs into at most `parts` right-padded
    micro-batches of similar lengths (sorted, so little padding): `ids`, `attn` of shape
    `[b, L]`, and `mask`, `adv` aligned with the predicted tokens, `[b, L-1]`."""
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


def has_void_turn(parse_errors: Sequence[str | None]) -> bool:
    """Whether an episode had a void turn: neither code nor an answer (SimpleTIR)."""
    return any(error == VOID for error in parse_errors)


def drop_void_trajectories(trajectories: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """(kept, dropped): trajectories whose `info["parse_errors"]` (one entry per turn,
    from `generation.RecordParseErrors`) contains a void turn are dropped from the loss."""
    kept, dropped = [], []
    for trajectory in trajectories:
        errors = trajectory.info.get("parse_errors", [])
        (dropped if has_void_turn(errors) else kept).append(trajectory)
    return kept, dropped


def training_samples(groups: Sequence[Sequence[Any]], *, process_weight: float = 1.0,
                     filter_void: bool = True) -> tuple[list[tuple[Any, list[float]]], int]:
    """(trajectory, token advantages) pairs of the groups, and how many trajectories the
    void-turn filter dropped. Advantages are computed over the whole group first (the
    dropped trajectories still count towards its mean and std), as in SimpleTIR."""
    samples = []
    for group in groups:
        advantages = group_advantages([t.outcome for t in group],
                                      [t.turn_process for t in group],
                                      process_weight=process_weight)
        for trajectory, turns in zip(group, advantages.turns, strict=True):
            samples.append((trajectory, token_advantages(
                turns, trajectory.turn_of_token, trajectory.loss_mask)))
    if not filter_void:
        return samples, 0
    kept, dropped = drop_void_trajectories([t for t, _ in samples])
    keep = {id(t) for t in kept}
    return [s for s in samples if id(s[0]) in keep], len(dropped)
