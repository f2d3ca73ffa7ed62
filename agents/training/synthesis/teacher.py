"""The teacher LLM: building it from the config, calling it, describing it without secrets.

Any `agents.ChatAgent` works (its `generate_batch` is called directly); `llm: template`
builds none (the scripted teacher, `templates.py`, needs no model). A teacher reply
is a whole multi-turn transcript, so the agent's stop sequences (which end a *policy*
turn at `</code>`) are switched off for the duration of each call.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agents.base import ChatAgent, Generation
from deeptool_env.settings import SettingsError

from .config import SynthesisConfig
from .templates import TEMPLATE_VERSION


def build_teacher(config: SynthesisConfig) -> ChatAgent:
    """The teacher the config names: an OpenAI-compatible client or a local HF model."""
    sampling = {"temperature": config.temperature, "top_p": config.top_p,
                "max_new_tokens": config.max_new_tokens, "seed": config.seed, "stop": ()}
    if config.llm == "hf":
        from agents.hf_agent import HFAgent

        return HFAgent(config.model, device=config.device, batch_size=config.batch_size,
                       **sampling)
    from agents.openai_agent import OpenAIChatAgent

    api_key = os.environ[config.api_key_env] if config.api_key_env else None
    return OpenAIChatAgent.from_env(model=config.model, base_url=config.base_url,
                                    api_key=api_key, concurrency=config.batch_size,
                                    **sampling)


def teacher_for(config: SynthesisConfig, llm: ChatAgent | None) -> ChatAgent | None:
    """The teacher of a run: `llm` if given, else built from the config; None for the
    scripted teacher (`llm: template`), which takes no model."""
    if config.llm == "template":
        if llm is not None:
            raise SettingsError("llm is template (the scripted teacher), but a teacher "
                                f"{type(llm).__name__} was passed: pass llm=None or set "
                                "SynthesisConfig(llm='openai' or 'hf')")
        return None
    return llm or build_teacher(config)


def public_url(url: str | None) -> str | None:
    """`url` without credentials, query or fragment (safe to store)."""
    if not url:
        return url
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def describe_teacher(llm: ChatAgent | None, config: SynthesisConfig) -> dict[str, Any]:
    """Who wrote the data: adapter, model, endpoint (no key) and sampling settings; for
    the scripted teacher (`llm` None) adapter "template" and `TEMPLATE_VERSION`."""
    if llm is None:
        return {"adapter": "template", "class": None, "model": None, "endpoint": None,
                "template_version": TEMPLATE_VERSION, "sampling": None}
    model = getattr(llm, "model", None)
    if not isinstance(model, str):
        model = getattr(getattr(model, "config", None), "_name_or_path", None) or config.model
    return {"adapter": getattr(llm, "name", type(llm).__name__),
            "class": type(llm).__name__, "model": model,
            "endpoint": public_url(getattr(llm, "base_url", None)),
            "sampling": {"temperature": llm.temperature, "top_p": llm.top_p,
                         "max_new_tokens": llm.max_new_tokens, "seed": llm.seed}}


@contextmanager
def no_stop(llm: ChatAgent) -> Iterator[None]:
    saved = llm.stop
    llm.stop = ()
    try:
        yield
    finally:
        llm.stop = saved


def generate(llm: ChatAgent, conversations: list[list[dict[str, str]]]
             ) -> list[Generation | Exception]:
    """One reply per conversation, in one batch. A request the server refuses for good
    (an error that is not retryable, e.g. HTTP 400 for a too long prompt) becomes that
    conversation's result instead of failing the batch; anything else is raised."""
    if not conversations:
        return []
    with no_stop(llm):
        try:
            return list(llm.generate_batch(conversations))
        except Exception as exc:  # noqa: BLE001 - sorted out below
            if getattr(exc, "retryable", True):
                raise
        results: list[Generation | Exception] = []
        for conversation in conversations:
            try:
                results.append(llm.generate_batch([conversation])[0])
            except Exception as exc:  # noqa: BLE001
                if getattr(exc, "retryable", True):
                    raise
                results.append(exc)
        return results
