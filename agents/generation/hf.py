"""`HFGenerator`: the generation layer on a transformers model, with its own decode loop.

Why not `model.generate`: the loop here gives every request its own `torch.Generator`
(seeded from its seed, so a row's sample never depends on the other rows of its batch),
checks stop strings on each live row's decoded tail only when its new token can end one,
drops finished rows from the batch and its KV cache at once, and returns each sampled
token's log-probability. A batch is left-padded; position ids come from the attention
mask, so a row's logits are those of the row alone.

Works on any causal LM whose forward takes `past_key_values` (a `DynamicCache`),
`position_ids` and `logits_to_keep`, peft (LoRA) models included: generation runs on the
trained model itself, so `sync_weights` has nothing to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Finish, Generated, Sampling
from .prefix_cache import PrefixCache
from .stops import StopScanner, eos_ids

# `generate_kwargs` the loop honours, as transformers logits processors (applied to each
# row with its own ids, before temperature, as `generate` does).
SUPPORTED_KWARGS = ("repetition_penalty", "sequence_bias", "no_repeat_ngram_size",
                    "bad_words_ids")


def logits_processors(generate_kwargs: dict[str, Any], eos: Sequence[int]) -> list[Any]:
    """The processors of `generate_kwargs`; anything else is a clear ValueError."""
    unsupported = sorted(set(generate_kwargs) - set(SUPPORTED_KWARGS))
    if unsupported:
        raise ValueError(f"generate_kwargs {unsupported} are not supported by the "
                         f"generation loop; supported: {list(SUPPORTED_KWARGS)}")
    from transformers import (
        NoBadWordsLogitsProcessor,
        NoRepeatNGramLogitsProcessor,
        RepetitionPenaltyLogitsProcessor,
        SequenceBiasLogitsProcessor,
    )

    makers = {"repetition_penalty": RepetitionPenaltyLogitsProcessor,
              "sequence_bias": SequenceBiasLogitsProcessor,
              "no_repeat_ngram_size": NoRepeatNGramLogitsProcessor,
              "bad_words_ids": lambda ids: NoBadWordsLogitsProcessor(ids, list(eos))}
    return [makers[key](value) for key, value in generate_kwargs.items()]


class HFGenerator:
    """Token-level generation on a transformers (or peft) model.

    Args:
        model, tokenizer: the causal LM and its tokenizer.
        batch_size: prompts decoded together (sorted by length first); bounds memory.
        generate_kwargs: logits processors by their `generate` names (`SUPPORTED_KWARGS`).
        prefix_cache_mb: memory for the KV states of earlier sequences (`PrefixCache`):
            a prompt extending one (an episode's next turn) or sharing its start (the
            system prompt) prefills only the rest; 0 turns it off. Dropped whenever the
            model's weights change.

    Log-probabilities are those of the temperature-scaled full softmax (temperature 1 when
    greedy), after `generate_kwargs` processors: the distribution the GRPO loss uses. With
    `top_p < 1` the token is drawn from the renormalised nucleus, but the reported
    log-probability is still the full softmax's (not renormalised over the nucleus).
    The caller's global torch RNG is never used.
    """

    def __init__(self, model: Any, tokenizer: Any, *, batch_size: int = 8,
                 generate_kwargs: dict[str, Any] | None = None,
                 prefix_cache_mb: float = 256) -> None:
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        self.eos = eos_ids(model, tokenizer)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.eos[0] if self.eos else 0)
        self.processors = logits_processors(dict(generate_kwargs or {}), self.eos)
        self.prefix = PrefixCache(int(prefix_cache_mb * 2**20)) if prefix_cache_mb else None

    def generate(self, prompts: Sequence[Sequence[int]], sampling: Sampling,
                 seeds: Sequence[int | None] | None = None) -> list[Generated]:
        """One completion per prompt, in order; batches of `batch_size` similar lengths."""
        if any(len(p) == 0 for p in prompts):
            raise ValueError("every prompt needs at least one token")
        seeds = list(seeds) if seeds is not None else [None] * len(prompts)
        if len(seeds) != len(prompts):
            raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts")
        if self.prefix is not None:  # in-place updates bump every tensor's version
            self.prefix.check_version(sum(p._version for p in self.model.parameters()))
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        results: dict[int, Generated] = {}
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            done = self._decode([list(prompts[i]) for i in chunk], sampling,
                                [seeds[i] for i in chunk])
            results.update(zip(chunk, done, strict=True))
        return [results[i] for i in range(len(prompts))]

    def _generators(self, seeds: list[int | None], device: Any) -> list[Any]:
        import torch

        generators = []
        for seed in seeds:
            generator = torch.Generator(device=device)
            if seed is None:
                generator.seed()  # fresh entropy, not the global RNG
            else:
                generator.manual_seed(int(seed))
            generators.append(generator)
        return generators

    def _prefill(self, prompts: list[list[int]], device: Any) -> tuple[Any, ...]:
        """(last-position logits, KV cache, attention mask, position ids) of the batch.

        Identical prompts (a GRPO group's samples) are run once and their cache rows
        repeated, so a group of G costs one prompt's prefill; a prompt's prefix held by
        the `PrefixCache` is loaded (left-padded) instead of recomputed, and only the
        rest runs (left-padded after it; the mask's holes are padding)."""
        import torch
        from transformers import DynamicCache

        unique: dict[tuple[int, ...], int] = {}
        slots = [unique.setdefault(tuple(p), len(unique)) for p in prompts]
        cache = DynamicCache(config=self.model.config)
        reused = self._load_prefixes(list(unique), cache, device)
        rests = [p[n:] for p, n in zip(unique, reused, strict=True)]
        held, width = max(reused), max(len(r) for r in rests)
        ids = torch.tensor([[self.pad_id] * (width - len(r)) + list(r) for r in rests],
                           device=device)
        mask = torch.tensor([[0] * (held - n) + [1] * n + [0] * (width - len(r))
                             + [1] * len(r) for n, r in zip(reused, rests, strict=True)],
                            device=device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = self._forward(ids, mask, positions[:, held:], cache)
        if len(unique) < len(prompts):
            index = torch.tensor(slots, device=device)
            cache.batch_select_indices(index)
            logits, mask, positions = logits[index], mask[index], positions[index]
        return logits, cache, mask, positions[:, -1:]

    def _load_prefixes(self, prompts: list[tuple[int, ...]], cache: Any,
                       device: Any) -> list[int]:
        """Fill `cache` with the longest cached prefix of each prompt (left-padded to
        the longest); returns how many tokens of each prompt it holds."""
        from transformers.cache_utils import DynamicLayer

        if self.prefix is None or any(type(layer) is not DynamicLayer
                                      for layer in cache.layers):
            return [0] * len(prompts)
        found = [self.prefix.longest(p) for p in prompts]
        held = max(n for n, _ in found)
        if held == 0:
            return [0] * len(prompts)
        for layer, state in enumerate(cache.layers):
            padded = []
            for part in (0, 1):
                sample = next(e for n, e in found if n).kv[layer][part]
                heads, _, dim = sample.shape
                block = sample.new_zeros((len(prompts), heads, held, dim))
                for row, (n, entry) in enumerate(found):
                    if n:
                        block[row, :, held - n:] = entry.kv[layer][part][:, :n]
                padded.append(block.to(device))
            state.update(*padded)
        return [n for n, _ in found]

    def _remember(self, ids: list[int], cache: Any, row: int, mask: Any) -> None:
        """Keep a finished row's KV state (over `ids`, its unpadded positions)."""
        if self.prefix is None:
            return
        valid = mask[row].bool()
        self.prefix.store(ids, [(layer.keys[row][:, valid], layer.values[row][:, valid])
                                for layer in cache.layers])

    def _forward(self, ids: Any, mask: Any, positions: Any, cache: Any) -> Any:
        return self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                          past_key_values=cache, use_cache=True,
                          logits_to_keep=1).logits[:, -1].float()

    def _decode(self, prompts: list[list[int]], sampling: Sampling,
                seeds: list[int | None]) -> list[Generated]:
        """The decode loop over one left-padded batch; finished rows leave it."""
        import torch

        device = next(self.model.parameters()).device
        scanner = StopScanner(self.tokenizer, sampling.stops, self.eos)
        generators = self._generators(seeds, device) if sampling.temperature > 0 else []
        live = list(range(len(prompts)))
        out: list[list[int]] = [[] for _ in prompts]
        logprobs: list[list[float]] = [[] for _ in prompts]
        finish: list[Finish] = ["length"] * len(prompts)
        with torch.no_grad():
            logits, cache, mask, position = self._prefill(prompts, device)
            for step in range(sampling.max_new_tokens):
                if self.processors:
                    logits = self._process(logits, [prompts[r] + out[r] for r in live])
                tokens, chosen = sample(logits, sampling, [generators[r] for r in live]
                                        if generators else [])
                keep = []
                for j, (row, token) in enumerate(zip(live, tokens.tolist(), strict=True)):
                    out[row].append(token)
                    logprobs[row].append(chosen[j])
                    ended = scanner.finish(out[row])
                    if ended is None and step + 1 < sampling.max_new_tokens:
                        keep.append(j)
                    else:
                        finish[row] = ended or "length"
                        self._remember(prompts[row] + out[row][:-1], cache, j, mask)
                if not keep:
                    break
                if len(keep) < len(live):
                    index = torch.tensor(keep, device=device)
                    cache.batch_select_indices(index)
                    tokens, mask, position = tokens[index], mask[index], position[index]
                    live = [live[j] for j in keep]
                position = position + 1
                mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=-1)
                logits = self._forward(tokens[:, None], mask, position, cache)
        return [Generated(out[r], scanner.text(out[r]), logprobs[r], len(prompts[r]),
                          finish[r]) for r in range(len(prompts))]

    def _process(self, logits: Any, rows: list[list[int]]) -> Any:
        """`generate_kwargs` processors, row by row on each row's own ids (no padding)."""
        if not self.processors:
            return logits
        import torch

        processed = []
        for j, row in enumerate(rows):
            scores = logits[j:j + 1]
            row_ids = torch.tensor([row], device=logits.device)
            for processor in self.processors:
                scores = processor(row_ids, scores)
            processed.append(scores)
        return torch.cat(processed)

    def sync_weights(self, model: Any) -> None:
        """Nothing to do: generation runs on the trained model itself."""

    def close(self) -> None:
        """Nothing to free: the model belongs to the caller."""


def sample(logits: Any, sampling: Sampling, generators: list[Any]) -> tuple[Any, list[float]]:
    """(next token per row, its log-probability) from float32 `logits` [rows, vocab].

    Greedy at temperature 0; otherwise inverse-CDF sampling with one uniform draw per row
    from that row's own generator, over the temperature-scaled softmax restricted to the
    `top_p` nucleus. Log-probabilities: see `HFGenerator`."""
    import torch

    temperature = sampling.temperature if sampling.temperature > 0 else 1.0
    logp = torch.log_softmax(logits / temperature, dim=-1)
    if sampling.temperature <= 0:
        tokens = logits.argmax(dim=-1)
    else:
        probs = logp.exp()
        if sampling.top_p < 1.0:
            probs = nucleus(probs, sampling.top_p)
        cdf = probs.cumsum(dim=-1)
        draws = torch.stack([torch.rand((), generator=g, device=logits.device)
                             for g in generators])
        tokens = torch.searchsorted(cdf, (draws * cdf[:, -1])[:, None], right=True)[:, 0]
        tokens = tokens.clamp(max=logits.shape[-1] - 1)
    return tokens, logp.gather(-1, tokens[:, None])[:, 0].tolist()


def nucleus(probs: Any, top_p: float) -> Any:
    """`probs` with every token outside the smallest set of mass >= `top_p` zeroed (the
    most likely token always stays), as transformers' `TopPLogitsWarper`."""

    ordered, order = probs.sort(dim=-1, descending=True)
    outside = ordered.cumsum(dim=-1) - ordered >= top_p
    outside[:, 0] = False
    return probs.scatter(-1, order, ordered.masked_fill(outside, 0.0))
