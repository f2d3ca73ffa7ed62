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

from deeptool_env.settings import POSITIVE, Settings, SettingsError, setting

TOKENS_ENV = "DEEPTOOL_LEADERBOARD_TOKENS"
DB_ENV = "DEEPTOOL_LEADERBOARD_DB"
DEFAULT_DB = "leaderboard.db"
MIN_TOKEN_CHARS = 16
DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 * 1024


class ConfigError(SettingsError):
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
class ServerConfig(Settings):
    """Everything `create_app` needs."""

    settings_label = "leaderboard server option"
    settings_error = ConfigError

    db_url: str = setting(help="SQLAlchemy URL or SQLite file path (default "
                          f"${DB_ENV} or `{DEFAULT_DB}`)", factory=database_url)
    data_dir: str | None = setting(None, "benchmark data the submissions are checked "
                                   "against (default $DEEPTOOL_DATA_DIR)")
    tokens: Tokens = setting(help="known upload tokens (see `load_tokens`)", factory=Tokens)
    max_upload_bytes: int = setting(DEFAULT_MAX_UPLOAD_BYTES, "largest request body, checked "
                                    "while it streams in", rule=POSITIVE)
    rate_limit: int = setting(30, "uploads per `rate_window_s` allowed per token",
                              rule=POSITIVE)
    rate_window_s: float = setting(60.0, "the window of `rate_limit`, in seconds",
                                   rule=POSITIVE)
    max_concurrent_uploads: int = setting(16, "request bodies held in memory at once (more "
                                          "get 503)", rule=POSITIVE)
    max_concurrent_validations: int = setting(2, "submissions validated at once (more get "
                                              "503)", rule=POSITIVE)
    validation_budget_s: float = setting(300.0, "time limit of one validation, parsing "
                                         "included", rule=POSITIVE)
    tokenizers: dict[str, str] = setting(help="model name -> the `tokenizer.json` (or model "
                                         "directory) the server counts its tokens with",
                                         factory=dict)
    title: str = setting("DeepTool Gym leaderboard", "title of the pages")
