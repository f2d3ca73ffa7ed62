"""The one generation layer's contract: token ids in, token ids (+ text, logprobs) out.

Every model call of the project goes through a `Generator`: the chat agents (`HFAgent`,
`VLLMAgent`) render a conversation to prompt ids and call `generate`; the rollout loop
calls it with the exact context ids of each live episode. One stop rule for every
backend: a completion ends with the token that completes a stop string (`</code>`,
`</answer>`) or with an end-of-sequence token, and `ids` are exactly the sampled ids up
to and including that token (never re-tokenised text).

Seeds are per request: a request's sample depends on its own seed only, not on which
other requests share its batch, so results repeat whatever the batching or concurrency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from deeptool_env.protocol import STOP_SEQUENCES

Finish = Literal["stop", "eos", "length"]


@dataclass(frozen=True)
class Sampling:
    """How to sample one completion: temperature 0 is greedy; `top_p` 1.0 is the full
    softmax (the distribution the GRPO loss's log-probabilities use)."""

    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    stops: tuple[str, ...] = STOP_SEQUENCES


@dataclass(frozen=True)
class Generated:
    """One completion: the sampled `ids`, their decoded `text` (special tokens skipped),
    each id's log-probability under the sampling distribution when the backend reports
    it, the prompt's length, and why it ended."""

    ids: list[int]
    text: str
    logprobs: list[float] | None
    prompt_tokens: int
    finish: Finish


@runtime_checkable
class Generator(Protocol):
    """A token-level model: HF transformers (`HFGenerator`) or vLLM (`VLLMGenerator`)."""

    tokenizer: Any

    def generate(self, prompts: Sequence[Sequence[int]], sampling: Sampling,
                 seeds: Sequence[int | None] | None = None) -> list[Generated]:
        """One completion per prompt (ids), in order; `seeds[i]` seeds request i."""
        ...

    def sync_weights(self, model: Any) -> None:
        """Load a trained model's current weights (no-op when generating on it)."""
        ...

    def close(self) -> None:
        """Free the engine."""
        ...
