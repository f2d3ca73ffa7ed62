"""The one token-level generation layer (`Generator.generate(prompt_ids, sampling, seeds)
-> Generated`), with transformers (`HFGenerator`) and vLLM (`VLLMGenerator`)
implementations and one stop/EOS rule (`stops`); see `base`. Importing it needs neither
torch nor vLLM."""

from .base import Finish, Generated, Generator, Sampling
from .hf import HFGenerator
from .stops import cut_at_stop, eos_ids
from .vllm import VLLMGenerator

__all__ = ["Finish", "Generated", "Generator", "HFGenerator", "Sampling", "VLLMGenerator",
           "cut_at_stop", "eos_ids"]
