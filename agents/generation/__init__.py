"""The one token-level generation layer (`Generator.generate(prompt_ids, sampling, seeds)
-> Generated`), with transformers and vLLM implementations; see `base`."""

from .base import Finish, Generated, Generator, Sampling

__all__ = ["Finish", "Generated", "Generator", "Sampling"]
