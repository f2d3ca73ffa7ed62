"""The GRPO loss on hand-made tensors: clip-higher, masking, zero advantages, KL, LLDS,
micro-batch normalisation, and the void-turn filter."""

from __future__ import annotations

import math

import pytest
import torch

from agents.rollout import TokenTrajectory
from agents.training.batches import first_trained_position, micro_batches, token_logprobs
from agents.training.grpo.loss import grpo_loss
from agents.training.grpo.samples import drop_void_trajectories, has_void_turn

torch.set_num_threads(1)


def _ratios(values: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """(new log-probs with gradient, old log-probs) giving these ratios, one row."""
    old = torch.full((1, len(values)), -1.0)
    new = (old + torch.log(torch.tensor([values]))).requires_grad_(True)
    return new, old


def test_ratio_clipping_uses_separate_low_and_high_bounds():
    ratios = [0.7, 0.85, 1.1, 1.25, 1.4]
    new, old = _ratios(ratios)
    mask = torch.ones_like(old)
    for sign in (1.0, -1.0):
        advantages = torch.full_like(old, sign)
        terms = grpo_loss(new, old, advantages, mask, clip_low=0.2, clip_high=0.3)
        expected = -sum(min(r * sign, min(max(r, 0.8), 1.3) * sign) for r in ratios) / 5
        assert terms.policy.item() == pytest.approx(expected, rel=1e-5)
        (grad,) = torch.autograd.grad(terms.loss, new)
        moving = [abs(g) > 1e-9 for g in grad[0].tolist()]
        if sign > 0:  # above 1 + clip_high (1.3) the gain is clipped: 1.4 gets no gradient
            assert moving == [True, True, True, True, False]
            assert terms.clip_high_frac.item() == pytest.approx(1 / 5)
            assert terms.clip_low_frac.item() == 0
        else:  # below 1 - clip_low (0.8) the loss is clipped: 0.7 gets no gradient
            assert moving == [False, True, True, True, True]
            assert terms.clip_low_frac.item() == pytest.approx(1 / 5)
    # the high bound is its own: 1.25 is clipped with a symmetric 0.2 but not with 0.3
    advantages = torch.ones_like(old)
    symmetric = grpo_loss(new, old, advantages, mask, clip_low=0.2, clip_high=0.2)
    assert symmetric.clip_high_frac.item() == pytest.approx(2 / 5)


def test_masked_tokens_contribute_nothing():
    torch.manual_seed(0)
    old = torch.randn(2, 6)
    new = (old + 0.1 * torch.randn(2, 6)).requires_grad_(True)
    advantages = torch.randn(2, 6)
    mask = torch.tensor([[0, 1, 1, 0, 1, 0], [1, 1, 0, 0, 0, 0]], dtype=torch.float)
    ref = old + 0.3
    entropy = torch.rand(2, 6)
    kwargs = {"kl_coef": 0.5, "entropy_coef": 0.1, "llds_coef": 1.0}
    base = grpo_loss(new, old, advantages, mask, ref_logp=ref, entropy=entropy, **kwargs)
    (grad,) = torch.autograd.grad(base.loss, new)
    assert torch.all(grad[mask == 0] == 0) and torch.any(grad[mask == 1] != 0)
    noise = torch.randn(2, 6) * 5 * (1 - mask)
    shifted = grpo_loss(new + noise, old - noise, advantages + noise, mask, ref_logp=ref + noise,
                        entropy=entropy + noise.abs(), **kwargs)
    assert shifted.loss.item() == pytest.approx(base.loss.item(), rel=1e-6)


def test_zero_advantages_give_zero_policy_loss():
    new, old = _ratios([0.5, 1.0, 1.7])
    terms = grpo_loss(new, old, torch.zeros_like(old), torch.ones_like(old))
    assert terms.policy.item() == 0.0 and terms.loss.item() == 0.0
    (grad,) = torch.autograd.grad(terms.loss, new)
    assert torch.all(grad == 0)


def test_kl_is_zero_when_the_policy_is_the_reference():
    torch.manual_seed(1)
    logp = torch.randn(3, 5).requires_grad_(True)
    mask = torch.ones(3, 5)
    same = grpo_loss(logp, logp.detach(), torch.zeros(3, 5), mask, ref_logp=logp.detach(),
                     kl_coef=1.0)
    assert same.kl.item() == pytest.approx(0.0, abs=1e-7)
    other = grpo_loss(logp, logp.detach(), torch.zeros(3, 5), mask,
                      ref_logp=logp.detach() - 0.5, kl_coef=1.0)
    assert other.kl.item() == pytest.approx(math.exp(-0.5) + 0.5 - 1, rel=1e-5)
    with pytest.raises(ValueError, match="ref_logp"):
        grpo_loss(logp, logp.detach(), torch.zeros(3, 5), mask, kl_coef=0.1)


def test_llds_penalises_only_sequences_whose_likelihood_fell():
    old = torch.full((2, 4), -2.0)
    new = torch.tensor([[-2.5, -2.5, -1.0, -1.0],    # mean -1.75: rose, no penalty
                        [-2.5, -2.5, -2.0, -2.0]],   # mean -2.25: fell by 0.25
                       requires_grad=True)
    mask = torch.ones(2, 4)
    terms = grpo_loss(new, old, torch.zeros(2, 4), mask, llds_coef=2.0)
    assert terms.llds.item() == pytest.approx(0.25 / 2)
    assert terms.loss.item() == pytest.approx(2.0 * 0.25 / 2)
    (grad,) = torch.autograd.grad(terms.loss, new)
    assert torch.all(grad[0] == 0) and torch.all(grad[1] < 0)
    risen = grpo_loss(new.detach() + 1.0, old, torch.zeros(2, 4), mask, llds_coef=2.0)
    assert risen.llds.item() == 0.0 and risen.loss.item() == 0.0


def test_micro_batches_sum_to_the_whole_batch_loss():
    torch.manual_seed(2)
    old = torch.randn(4, 7)
    new = old + 0.3 * torch.randn(4, 7)
    advantages = torch.randn(4, 7)
    mask = (torch.rand(4, 7) > 0.3).float()
    whole = grpo_loss(new, old, advantages, mask, llds_coef=1.0)
    tokens, sequences = float(mask.sum()), float((mask.sum(-1) > 0).sum())
    parts = [grpo_loss(new[s], old[s], advantages[s], mask[s], llds_coef=1.0,
                       num_tokens=tokens, num_sequences=sequences)
             for s in (slice(0, 1), slice(1, 4))]
    assert sum(p.loss.item() for p in parts) == pytest.approx(whole.loss.item(), rel=1e-5)


def _trajectory(ids: list[int], mask: list[int], errors: list[str | None]) -> TokenTrajectory:
    return TokenTrajectory(ids=ids, loss_mask=mask, turn_of_token=[0] * len(ids),
                           info={"parse_errors": errors})


def test_void_turn_filter_drops_the_right_trajectories():
    clean = _trajectory([1, 2], [0, 1], [None, None])
    malformed = _trajectory([1, 2], [0, 1], ["unclosed_tag", None])  # not void
    void_first = _trajectory([1, 2], [0, 1], ["no_action", None])
    void_last = _trajectory([1, 2], [0, 1], [None, "empty_code", "no_action"])
    kept, dropped = drop_void_trajectories([clean, void_first, malformed, void_last])
    assert kept == [clean, malformed] and dropped == [void_first, void_last]
    assert not has_void_turn([]) and has_void_turn(["no_action"])


def test_micro_batches_align_masks_and_logprobs_with_padding():
    from transformers import AutoModelForCausalLM

    from tests.tiny_model import shared_tiny_model

    model = AutoModelForCausalLM.from_pretrained(shared_tiny_model()).eval()
    short = _trajectory([5, 6, 7, 8], [0, 0, 1, 1], [None])
    long = _trajectory([5, 6, 7, 8, 9, 10], [0, 1, 1, 0, 1, 1], [None])
    samples = [(long, [0.0, 1.0, 1.0, 0.0, 2.0, 2.0]), (short, [0.0, 0.0, -1.0, -1.0])]
    (batch,) = micro_batches(samples, 1, pad_id=0)
    assert batch["ids"].tolist() == [[5, 6, 7, 8, 0, 0], [5, 6, 7, 8, 9, 10]]
    assert batch["mask"].tolist() == [[0, 1, 1, 0, 0], [1, 1, 0, 1, 1]]
    assert batch["adv"].tolist() == [[0, -1, -1, 0, 0], [1, 1, 0, 2, 2]]
    with torch.no_grad():
        padded, _ = token_logprobs(model, batch["ids"], batch["attn"])
        alone, _ = token_logprobs(model, batch["ids"][:1, :4], batch["attn"][:1, :4])
    assert torch.allclose(padded[0, :3], alone[0], atol=1e-5)
    assert len(micro_batches(samples, 2, pad_id=0)) == 2


def test_logits_are_computed_only_from_the_first_trained_position():
    """`start` skips the prompt's logits: the same values from there on, zeros before,
    and gradients that match the full computation."""
    pytest.importorskip("transformers")
    from transformers import AutoModelForCausalLM

    from tests.tiny_model import shared_tiny_model

    model = AutoModelForCausalLM.from_pretrained(shared_tiny_model()).eval()
    prompt = _trajectory([5, 6, 7, 8, 9, 10, 11, 12], [0, 0, 0, 0, 0, 1, 1, 1], [None])
    (batch,) = micro_batches([(prompt, [1.0] * 8)], 1, pad_id=0)
    assert batch["start"] == first_trained_position(batch["mask"]) == 4
    full, full_entropy = token_logprobs(model, batch["ids"], batch["attn"], with_entropy=True,
                                        temperature=0.7)
    cut, cut_entropy = token_logprobs(model, batch["ids"], batch["attn"], with_entropy=True,
                                      temperature=0.7, start=batch["start"])
    assert torch.allclose(cut[:, 4:], full[:, 4:], atol=1e-5)
    assert torch.allclose(cut_entropy[:, 4:], full_entropy[:, 4:], atol=1e-5)
    assert not cut[:, :4].any() and first_trained_position(torch.zeros(2, 3)) == 0
    grads = []
    for logp in (full, cut):
        model.zero_grad()
        (logp * batch["mask"]).sum().backward(retain_graph=True)
        grads.append(model.lm_head.weight.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-5)
