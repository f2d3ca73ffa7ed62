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

from dataclasses import dataclass

import torch


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
