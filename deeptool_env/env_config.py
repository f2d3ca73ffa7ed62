"""Typed options of `DeepToolMathEnv`, settable through `gym.make(id, **kwargs)`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .sandbox import SandboxConfig
from .settings import POSITIVE, Settings, SettingsError, setting

_WORDPIECE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class EnvConfigError(SettingsError):
    """A bad option of the environment; the message names it and what it accepts."""


def approx_token_count(text: str) -> int:
    """Tokens by a word/punctuation split: close to BPE counts for English and LaTeX.

    Pass `token_counter=lambda s: len(tokenizer.encode(s))` for exact budgets.
    """
    return len(_WORDPIECE.findall(text))


@dataclass
class EnvConfig(Settings):
    """Options of the environment (`gym.make(id, **options)`). Every option is checked when
    the config is made: a bad one raises `EnvConfigError` (a `SettingsError`, so a
    `ValueError`) that names it and says what it accepts."""

    settings_label = "DeepTool env option"
    settings_error = EnvConfigError

    tasks: str = setting("procedural", "a benchmark name (`aime24`, `aime25`, `hmmt25`, "
                         "`amc23`, `math500`, `olympiadbench`), a JSONL path, `procedural` "
                         "(built-in generated problems, no download) or `procedural:<family>`")
    data_dir: str | None = setting(None, "directory of the benchmark files (default "
                                   "`$DEEPTOOL_DATA_DIR`)")
    strict_data: bool = setting(True, "a benchmark file whose count or sha256 is not the "
                                "pinned release is an error; False only warns (for edited "
                                "or extended copies)")
    sandbox: str | SandboxConfig | dict = setting(
        "local", "backend name (`local`, `docker`, `subprocess`), a `SandboxConfig`, or a "
        "dict of `SandboxConfig` fields")
    protocol: str = setting("tags", "how a turn is written: `tags` (`<code>`/`<answer>` "
                            "tags, the default) or `tools` (the chat template's native "
                            "JSON tool calls, `<tool_call>{...}</tool_call>`)",
                            choices=("tags", "tools"))
    max_turns: int = setting(8, "assistant turns per episode; the episode is truncated "
                             "after the last", rule=POSITIVE)
    max_episode_tokens: int = setting(16384, "budget for the whole context (prompt, "
                                      "actions, observations) counted by `token_counter`; "
                                      "the episode is truncated once it is reached",
                                      rule=POSITIVE)
    max_output_chars: int = setting(2048, "tool output shown to the model, head and tail "
                                    "kept", rule=POSITIVE)
    max_action_chars: int = setting(32768, "longest accepted turn (longer ones are "
                                    "`too_long` parse errors)", rule=POSITIVE)
    max_invalid_turns: int = setting(3, "consecutive invalid turns that end the episode "
                                     "(terminated)", rule=POSITIVE)
    tool_timeout_s: float = setting(10.0, "wall-clock limit of one code cell (seconds)",
                                    rule=POSITIVE)
    tool: bool = setting(True, "False switches the Python tool off: a code turn is refused "
                         "(not run) with a message saying so, uses up its turn and tokens "
                         "like any turn but does not count as invalid; measures what the "
                         "tool is worth at the same budget")
    token_counter: Callable[[str], int] | None = setting(
        None, "counts tokens of a text; default `approx_token_count`")
    perturbation: Any = setting(
        "none", "adversarial perturbations of tool results: a preset (`none`, the default "
        "for evaluation, `light`, `adversarial`, `intrinsic`), a `PerturbationConfig`, or a "
        "dict of its fields")
    reward: Any = setting("deeptool", "`deeptool` (outcome plus the action-centric process "
                          "reward, default), `outcome` (the final answer only), a "
                          "`RewardConfig`, or a dict of its fields")

    def __post_init__(self) -> None:
        """Check every option, so a bad one fails here and not in the middle of an episode."""
        super().__post_init__()
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
        return cls.from_dict(kwargs)

    def sandbox_config(self) -> SandboxConfig:
        """The sandbox configuration this env uses."""
        if isinstance(self.sandbox, SandboxConfig):
            return self.sandbox
        if isinstance(self.sandbox, dict):
            return SandboxConfig.from_kwargs(**self.sandbox)
        if isinstance(self.sandbox, str):
            return SandboxConfig(backend=self.sandbox)
        raise SettingsError("sandbox must be a backend name, a SandboxConfig or a dict, got "
                        f"{type(self.sandbox).__name__}")

    def count_tokens(self, text: str) -> int:
        return (self.token_counter or approx_token_count)(text)
