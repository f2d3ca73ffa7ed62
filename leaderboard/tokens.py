"""Token counters the server uses to recount trajectories.

Without further knowledge the server counts with the environment's own counter
(`deeptool_env.env_config.approx_token_count`, a word/punctuation split: the count the env
budgets `max_episode_tokens` with). When the server knows the model's tokenizer (a
`tokenizer.json` configured for the model name, `ServerConfig.tokenizers`), it counts with
that tokenizer instead, and can then also check a declared `decoding.max_new_tokens`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from deeptool_env.env_config import approx_token_count

from .config import ConfigError

TOKENIZER_FILE = "tokenizer.json"


@dataclass(frozen=True)
class TokenCounter:
    """`count(text)` tokens; `exact` when it is the model's own tokenizer; `name` says
    which counter it is on the pages."""

    name: str
    exact: bool
    count: Callable[[str], int]


APPROX = TokenCounter("approximate (the environment's word-piece count)", False,
                      approx_token_count)


def tokenizer_file(path: str | os.PathLike[str]) -> Path:
    """The `tokenizer.json` at `path` (the file, or a model directory holding it)."""
    found = Path(path).expanduser()
    if found.is_dir():
        found = found / TOKENIZER_FILE
    if not found.is_file():
        raise ConfigError(f"no tokenizer at {path}: give a {TOKENIZER_FILE} file or a model "
                          f"directory that holds one")
    return found.resolve()


@lru_cache(maxsize=32)
def _load(path: Path) -> TokenCounter:
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:  # pragma: no cover - the [leaderboard] extras bring it
        raise ConfigError("counting with a model's tokenizer needs the `tokenizers` "
                          "package") from exc
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # the library raises a bare Exception on a bad file
        raise ConfigError(f"cannot load the tokenizer {path}: {exc}") from exc

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return TokenCounter(f"the model's tokenizer ({path.parent.name}/{path.name})", True, count)


def counter_for(model: str | None, tokenizers: Mapping[str, str]) -> TokenCounter:
    """The model's tokenizer when `tokenizers` names one for `model`, else `APPROX`."""
    path = tokenizers.get(model or "")
    return APPROX if path is None else _load(tokenizer_file(path))


def parse_tokenizer_option(value: str) -> tuple[str, str]:
    """`MODEL=PATH` of `--tokenizer` as (model name, path)."""
    model, sep, path = value.rpartition("=")
    if not sep or not model.strip() or not path.strip():
        raise ConfigError(f"--tokenizer takes MODEL=PATH (a tokenizer.json or a model "
                          f"directory), got {value!r}")
    return model.strip(), str(tokenizer_file(path.strip()))
