"""Server settings and upload tokens.

Tokens come from a file (one per line, `name:token` or a bare `token`; `#` starts a comment)
and/or the `DEEPTOOL_LEADERBOARD_TOKENS` variable (the same entries separated by commas).
Only SHA-256 digests of the tokens are kept in memory, and a presented token is compared
with every known digest in constant time, so neither the match nor its position leaks
through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

TOKENS_ENV = "DEEPTOOL_LEADERBOARD_TOKENS"
DB_ENV = "DEEPTOOL_LEADERBOARD_DB"
DEFAULT_DB = "leaderboard.db"
MIN_TOKEN_CHARS = 16
DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 * 1024


class ConfigError(ValueError):
    """A setting that cannot work (bad token file, weak token, unknown database URL)."""


def database_url(value: str | os.PathLike[str] | None = None) -> str:
    """A SQLAlchemy URL from a URL or a plain file path (SQLite); default:
    $DEEPTOOL_LEADERBOARD_DB or `leaderboard.db` in the working directory. `postgresql://`
    selects the psycopg 3 driver."""
    text = str(value or os.environ.get(DB_ENV) or DEFAULT_DB)
    if "://" in text:
        scheme, rest = text.split("://", 1)
        if scheme in ("postgres", "postgresql"):  # psycopg 3, the `[leaderboard]` driver
            return f"postgresql+psycopg://{rest}"
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def _parse_entry(entry: str, where: str) -> tuple[str, str]:
    """(name, token) of one `name:token` or bare `token` entry."""
    name, sep, token = entry.rpartition(":")
    if not sep:
        name, token = "", entry
    name, token = name.strip(), token.strip()
    if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
        raise ConfigError(f"{where}: a token needs at least {MIN_TOKEN_CHARS} characters "
                          "and no spaces")
    return name or f"token-{_digest(token).hex()[:8]}", token


@dataclass
class Tokens:
    """Known upload tokens by digest; `check` names the submitter of a presented token."""

    names: dict[bytes, str] = field(default_factory=dict)

    def add(self, name: str, token: str) -> None:
        self.names[_digest(token)] = name

    def check(self, presented: str | None) -> str | None:
        """The submitter name of `presented`, or None; every digest is compared, always."""
        probe = _digest(presented or "")
        found: str | None = None
        for digest, name in self.names.items():
            if hmac.compare_digest(probe, digest) and presented:
                found = name
        return found

    def __len__(self) -> int:
        return len(self.names)


def load_tokens(token_file: str | os.PathLike[str] | None = None,
                env: dict[str, str] | None = None) -> Tokens:
    """Tokens of `token_file` and of $DEEPTOOL_LEADERBOARD_TOKENS (both optional)."""
    tokens = Tokens()
    if token_file is not None:
        path = Path(token_file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read the token file {path}: {exc.strerror}") from exc
        for number, line in enumerate(lines, 1):
            entry = line.split("#", 1)[0].strip()
            if entry:
                tokens.add(*_parse_entry(entry, f"{path}:{number}"))
    source = os.environ if env is None else env
    for index, entry in enumerate(source.get(TOKENS_ENV, "").split(","), 1):
        if entry.strip():
            tokens.add(*_parse_entry(entry.strip(), f"${TOKENS_ENV} entry {index}"))
    return tokens


@dataclass
class ServerConfig:
    """Everything `create_app` needs.

    `max_upload_bytes` bounds a request body (checked while it streams in); `rate_limit`
    uploads per `rate_window_s` seconds are allowed per token; at most
    `max_concurrent_uploads` bodies are held in memory at once and at most
    `max_concurrent_validations` are validated at once (more get 503);
    `validation_budget_s` bounds one validation, parsing included. `tokenizers` maps model
    names to the `tokenizer.json` (or model directory) the server counts their tokens with.
    """

    db_url: str = field(default_factory=database_url)
    data_dir: str | None = None
    tokens: Tokens = field(default_factory=Tokens)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    rate_limit: int = 30
    rate_window_s: float = 60.0
    max_concurrent_uploads: int = 16
    max_concurrent_validations: int = 2
    validation_budget_s: float = 300.0
    tokenizers: dict[str, str] = field(default_factory=dict)
    title: str = "DeepTool Gym leaderboard"

    def __post_init__(self) -> None:
        counts = (self.max_upload_bytes, self.rate_limit, self.max_concurrent_uploads,
                  self.max_concurrent_validations)
        if min(counts) < 1 or self.rate_window_s <= 0 or self.validation_budget_s <= 0:
            raise ConfigError("max_upload_bytes, rate_limit, max_concurrent_uploads, "
                              "max_concurrent_validations, rate_window_s and "
                              "validation_budget_s must be positive")
