"""Typed options of `DeepToolMathEnv`, settable through `gym.make(id, **kwargs)`."""

from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from .sandbox import SandboxConfig

_WORDPIECE = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_COUNTS = ("max_turns", "max_episode_tokens", "max_output_chars", "max_action_chars",
           "max_invalid_turns")


class EnvConfigError(ValueError):
    """A bad option of the environment; the message names it and what it accepts."""


def approx_token_count(text: str) -> int:
    """Tokens by a word/punctuation split: close to BPE counts for English and LaTeX.

    Pass `token_counter=lambda s: len(tokenizer.encode(s))` for exact budgets.
    """
    return len(_WORDPIECE.findall(text))


@dataclass
class EnvConfig:
    """Options of the environment.

    Attributes:
        tasks: a benchmark name (`aime24`, `aime25`, `hmmt25`, `amc23`, `math500`,
            `olympiadbench`), a JSONL path, `"procedural"` (built-in generated problems,
            no download) or `"procedural:<family>"`.
        data_dir: directory of the benchmark files (default `$DEEPTOOL_DATA_DIR`).
        strict_data: a benchmark file whose count or sha256 is not the pinned release is
            an error; False only warns (for edited or extended copies).
        sandbox: backend name (`"local"`, `"docker"`, `"subprocess"`), a `SandboxConfig`,
            or a dict of `SandboxConfig` fields.
        max_turns: assistant turns per episode; the episode is truncated after the last.
        max_episode_tokens: budget for the whole context (prompt, actions, observations)
            counted by `token_counter`; the episode is truncated once it is reached.
        max_output_chars: tool output shown to the model, head and tail kept.
        max_action_chars: longest accepted turn (longer ones are `too_long` parse errors).
        max_invalid_turns: consecutive invalid turns that end the episode (terminated).
        tool_timeout_s: wall-clock limit of one code cell.
        token_counter: counts tokens of a text; default `approx_token_count`.
        perturbation: adversarial perturbations of tool results: a preset (`"none"`,
            the default for evaluation, `"light"`, `"adversarial"`, `"intrinsic"`), a
            `PerturbationConfig`, or a dict of its fields.
        reward: `"deeptool"` (outcome plus the action-centric process reward, default),
            `"outcome"` (the final answer only), a `RewardConfig`, or a dict of its fields.

    Every option is checked when the config is made: a bad one raises `EnvConfigError` (a
    `ValueError`) that names it and says what it accepts.
    """

    tasks: str = "procedural"
    data_dir: str | None = None
    strict_data: bool = True
    sandbox: str | SandboxConfig | dict = "local"
    max_turns: int = 8
    max_episode_tokens: int = 16384
    max_output_chars: int = 2048
    max_action_chars: int = 32768
    max_invalid_turns: int = 3
    tool_timeout_s: float = 10.0
    token_counter: Callable[[str], int] | None = None
    perturbation: Any = "none"
    reward: Any = "deeptool"

    def __post_init__(self) -> None:
        """Check every option, so a bad one fails here and not in the middle of an episode."""
        for name in _COUNTS:
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
                raise EnvConfigError(f"{name} must be a positive integer, got {value!r}")
            setattr(self, name, int(value))
        timeout = self.tool_timeout_s
        if (not isinstance(timeout, numbers.Real) or isinstance(timeout, bool)
                or not math.isfinite(timeout) or timeout <= 0):
            raise EnvConfigError(f"tool_timeout_s must be a finite number of seconds > 0, got "
                                 f"{timeout!r}")
        if not isinstance(self.tasks, str | os.PathLike):
            raise EnvConfigError(f"tasks must be a benchmark name or a path, got {self.tasks!r}")
        if self.data_dir is not None and not isinstance(self.data_dir, str | os.PathLike):
            raise EnvConfigError(f"data_dir must be a directory path or None, got "
                                 f"{self.data_dir!r}")
        if not isinstance(self.strict_data, bool):
            raise EnvConfigError(f"strict_data must be True or False, got {self.strict_data!r}")
        if self.token_counter is not None and not callable(self.token_counter):
            raise EnvConfigError("token_counter must be a function str -> int or None, got "
                                 f"{self.token_counter!r}")
        self._check_nested()

    def _check_nested(self) -> None:
        from .perturbations import resolve_perturbation
        from .rewards import resolve_reward

        checks = {"sandbox": self.sandbox_config,
                  "perturbation": lambda: resolve_perturbation(self.perturbation),
                  "reward": lambda: resolve_reward(self.reward)}
        for name, check in checks.items():
            try:
                check()
            except (TypeError, ValueError) as error:
                raise EnvConfigError(f"bad {name} option: {error}") from error

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> EnvConfig:
        """Build from `gym.make` keyword arguments, naming unknown ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise EnvConfigError(f"unknown DeepTool env option(s) {unknown}; valid options: "
                                 f"{sorted(known)}")
        return cls(**kwargs)

    def sandbox_config(self) -> SandboxConfig:
        """The sandbox configuration this env uses."""
        if isinstance(self.sandbox, SandboxConfig):
            return self.sandbox
        if isinstance(self.sandbox, dict):
            return SandboxConfig.from_kwargs(**self.sandbox)
        if isinstance(self.sandbox, str):
            return SandboxConfig(backend=self.sandbox)
        raise TypeError("sandbox must be a backend name, a SandboxConfig or a dict, got "
                        f"{type(self.sandbox).__name__}")

    def count_tokens(self, text: str) -> int:
        return (self.token_counter or approx_token_count)(text)
