"""`OpenAIChatAgent`: a ChatAgent that talks to any OpenAI-compatible `/chat/completions`.

Works with vLLM, SGLang, the llama.cpp server and hosted providers. Standard library only
(`urllib`); a thread pool of at most `concurrency` sends a `generate_batch` in parallel.

Failures and retries (each request is tried at most `1 + max_retries` times):

- connection errors, timeouts, HTTP 429 and 5xx are retried with exponential backoff and
  jitter; a `Retry-After` header (seconds or HTTP date) replaces that delay;
- any other 4xx raises `OpenAIHTTPError` at once, with the server's own message;
- a 2xx reply that is not the expected JSON raises `OpenAIProtocolError`. Those are
  retried at most `protocol_retries` times (default 1): a truncated body from a proxy is
  transient, a server that always answers garbage is misconfigured and should fail fast.

Environment (read when an argument is not given; `from_env()` reads them all):
`DEEPTOOL_OPENAI_BASE_URL` or `OPENAI_BASE_URL` (default `http://127.0.0.1:8000/v1`),
`DEEPTOOL_OPENAI_API_KEY` or `OPENAI_API_KEY` (may be empty for local servers),
`DEEPTOOL_OPENAI_MODEL` (default: the first model the server lists at `/models`),
`DEEPTOOL_OPENAI_TIMEOUT_S`, `DEEPTOOL_OPENAI_MAX_RETRIES`, `DEEPTOOL_OPENAI_CONCURRENCY`.
The API key is sent only in the `Authorization` header: it is never logged, shown by
`repr` or included in error messages.
"""

from __future__ import annotations

import email.utils
import http.client
import ipaddress
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from .base import ChatAgent, Generation

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"

T = TypeVar("T")


class OpenAIError(RuntimeError):
    """A request to the OpenAI-compatible server failed (after any retries)."""

    retryable = True

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.retry_after, self.attempts = status, retry_after, 1

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} (after {self.attempts} attempts)" if self.attempts > 1 else text


class OpenAIConnectionError(OpenAIError):
    """The server could not be reached, dropped the connection or timed out."""


class OpenAIHTTPError(OpenAIError):
    """The server answered with an error status; 429 and 5xx are retryable."""

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.status == 429 or (self.status or 0) >= 500


class OpenAIProtocolError(OpenAIError):
    """A success status whose body is not a chat completion (bad JSON, missing fields)."""


def _env(*names: str) -> str | None:
    """The first of these environment variables that is set."""
    return next((os.environ[name] for name in names if name in os.environ), None)


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delay-seconds or an HTTP date)."""
    if not value or value.strip().replace(".", "", 1).isdigit():
        return float(value) if value else None
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _server_message(body: bytes) -> str:
    """The error message in an error body (`{"error": {"message": ...}}` or raw text)."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500] or "(empty body)"
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        error = error.get("message") or error.get("detail") or error
    return str(error)[:500]


def parse_completion(data: Any) -> Generation:
    """The Generation in a chat-completion body; `OpenAIProtocolError` if it is not one.

    `content: null` counts as empty text. Reasoning that servers split off
    (`reasoning_content` or `reasoning`) is put back in front as `<think>...</think>`,
    so the env sees the whole turn.
    """
    if isinstance(data, dict) and "error" in data and "choices" not in data:
        message = _server_message(json.dumps(data).encode())
        raise OpenAIProtocolError(f"error in a success reply: {message}")
    try:
        message = data["choices"][0]["message"]
        content = message["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise OpenAIProtocolError(f"reply has no choices[0].message.content ({exc!r}): "
                                  f"{json.dumps(data)[:300]}") from None
    if content is not None and not isinstance(content, str):
        raise OpenAIProtocolError(f"message content is {type(content).__name__}, not text")
    text = content or ""
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning.strip() and "<think>" not in text:
        text = f"<think>{reasoning}</think>{text}"
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    counts = [usage.get(key) for key in ("prompt_tokens", "completion_tokens")]
    return Generation(text, *(n if type(n) is int else None for n in counts))


class OpenAIChatAgent(ChatAgent):
    """A ChatAgent backed by an OpenAI-compatible chat-completions server.

    Args:
        model: model name; None asks the server (`GET /models`, first entry) on first use.
        base_url: API root including `/v1`; api_key: bearer token ("" sends none).
        timeout_s: socket timeout of one request (connect, and each wait for data).
        max_retries: retries of one request; backoff_s / max_backoff_s: the first delay
            and the cap of the backoff (each delay drawn in [d/2, d]) and of Retry-After.
        protocol_retries: retries allowed for malformed success replies.
        concurrency: most requests in flight during `generate_batch`.
        extra_body: more request fields (`{"top_k": 20}`); None drops one (`{"seed": None}`).
        temperature, top_p, max_new_tokens (sent as `max_tokens`), stop, seed: as ChatAgent.
    """

    name = "openai"
    serves_requests = True

    def __init__(self, model: str | None = None, *, base_url: str | None = None,
                 api_key: str | None = None, timeout_s: float = 600.0, max_retries: int = 4,
                 backoff_s: float = 0.5, max_backoff_s: float = 30.0,
                 protocol_retries: int = 1, concurrency: int = 8,
                 extra_body: dict[str, Any] | None = None, **sampling: Any) -> None:
        super().__init__(**sampling)
        if timeout_s <= 0 or max_retries < 0 or protocol_retries < 0 or concurrency < 1:
            raise ValueError("need timeout_s > 0, max_retries >= 0, protocol_retries >= 0 "
                             "and concurrency >= 1")
        self.model = model or _env("DEEPTOOL_OPENAI_MODEL")
        url = base_url or _env("DEEPTOOL_OPENAI_BASE_URL", "OPENAI_BASE_URL")
        self.base_url = (url or DEFAULT_BASE_URL).rstrip("/")
        key = api_key if api_key is not None else _env("DEEPTOOL_OPENAI_API_KEY",
                                                        "OPENAI_API_KEY")
        self._api_key = key or ""
        self.timeout_s, self.max_retries = timeout_s, max_retries
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.protocol_retries, self.concurrency = protocol_retries, concurrency
        self.extra_body = dict(extra_body or {})
        # Local servers must not go through an HTTP(S)_PROXY from the environment.
        handlers = [urllib.request.ProxyHandler({})] if _is_loopback(self.base_url) else []
        self._opener = urllib.request.build_opener(*handlers)

    @classmethod
    def from_env(cls, **overrides: Any) -> OpenAIChatAgent:
        """An agent configured from the environment variables (see the module docstring)."""
        options: dict[str, Any] = {}
        for key, name, kind in (("timeout_s", "DEEPTOOL_OPENAI_TIMEOUT_S", float),
                                ("max_retries", "DEEPTOOL_OPENAI_MAX_RETRIES", int),
                                ("concurrency", "DEEPTOOL_OPENAI_CONCURRENCY", int)):
            if value := os.environ.get(name):
                options[key] = kind(value)
        return cls(**{**options, **overrides})

    def __repr__(self) -> str:
        return (f"OpenAIChatAgent(model={self.model!r}, base_url={self.base_url!r}, "
                f"api_key={'set' if self._api_key else 'none'})")

    def generate_batch(self, conversations: list[list[dict[str, str]]]) -> list[Generation]:
        """Post one chat completion per conversation, at most `concurrency` at a time.

        The first request that fails for good cancels the ones not yet sent, stops the
        retries of the others and is raised, noting which conversation it was.
        """
        if not conversations:
            return []
        model = self.model or self._resolve_model()
        abort = threading.Event()
        if len(conversations) == 1:  # the rollout loop's one request: no pool to start
            return [self._complete(model, conversations[0], abort)]
        with ThreadPoolExecutor(min(self.concurrency, len(conversations)),
                                thread_name_prefix="openai-agent") as pool:
            futures = [pool.submit(self._complete, model, messages, abort)
                       for messages in conversations]
            try:
                wait(futures, return_when=FIRST_EXCEPTION)
                for index, future in enumerate(futures):
                    if future.done() and (exc := future.exception()) is not None:
                        exc.add_note(f"conversation {index} of {len(conversations)}")
                        raise exc
                return [future.result() for future in futures]
            finally:  # also on KeyboardInterrupt: no new requests, no more retries
                abort.set()
                for future in futures:
                    future.cancel()

    def _complete(self, model: str, messages: list[dict[str, str]],
                  abort: threading.Event) -> Generation:
        fields = {"model": model, "messages": messages, "temperature": self.temperature,
                  "top_p": self.top_p, "max_tokens": self.max_new_tokens,
                  "stop": list(self.stop) or None, "seed": self.seed, **self.extra_body}
        payload = {key: value for key, value in fields.items() if value is not None}
        return self._with_retries(lambda: parse_completion(
            self._request("POST", "/chat/completions", payload)), abort)

    def _resolve_model(self) -> str:
        """The first model the server lists (what `vllm serve` and llama.cpp serve)."""
        def first_model() -> str:
            try:
                return str(self._request("GET", "/models", None)["data"][0]["id"])
            except (KeyError, IndexError, TypeError):
                raise OpenAIProtocolError("GET /models listed no model; pass model=") from None

        self.model = self._with_retries(first_model, threading.Event())
        log.info("using model %r from %s/models", self.model, self.base_url)
        return self.model

    def _with_retries(self, call: Callable[[], T], abort: threading.Event) -> T:
        """`call()`, retried as the module docstring says; stops retrying once `abort`."""
        attempt = protocol_failures = 0
        while True:
            try:
                return call()
            except OpenAIError as exc:
                exc.attempts = attempt = attempt + 1
                protocol_failures += isinstance(exc, OpenAIProtocolError)
                if (not exc.retryable or attempt > self.max_retries or abort.is_set()
                        or protocol_failures > self.protocol_retries):
                    raise
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
                delay = random.uniform(delay / 2, delay)
                if exc.retry_after is not None:
                    delay = min(self.max_backoff_s, exc.retry_after)
                log.warning("OpenAI request failed on attempt %d of %d: %s; retrying in "
                            "%.2f s", attempt, 1 + self.max_retries, exc.args[0], delay)
                if abort.wait(delay):
                    raise

    def _request(self, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        """One HTTP request; the decoded JSON body, or an `OpenAIError`."""
        url = self.base_url + path
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   **({"Authorization": f"Bearer {self._api_key}"} if self._api_key else {})}
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(url, data, headers, method=method)
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            message = self._redact(_server_message(exc.read()))
            hint = " (does base_url end in /v1?)" if exc.code == 404 else ""
            wait_s = _retry_after(exc.headers.get("Retry-After"))
            raise OpenAIHTTPError(f"{method} {url} -> HTTP {exc.code}: {message}{hint}",
                                  status=exc.code, retry_after=wait_s) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            kind = "timed out" if isinstance(reason, TimeoutError) else "failed"
            raise OpenAIConnectionError(
                f"{method} {url} {kind} (timeout_s={self.timeout_s}): {reason!r}") from None
        try:
            return json.loads(body)
        except ValueError:
            text = self._redact(body[:300].decode("utf-8", "replace"))
            raise OpenAIProtocolError(f"{method} {url} returned invalid JSON: {text!r}") from None

    def _redact(self, text: str) -> str:
        """`text` without the API key (placeholders such as "EMPTY" are left alone)."""
        return text.replace(self._api_key, "***") if len(self._api_key) >= 8 else text
