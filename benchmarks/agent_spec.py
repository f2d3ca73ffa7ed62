"""`--agent openai|hf|vllm|module:Class` to a picklable agent factory."""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import sys
from typing import Any

from agents import Agent

BUILTIN = {
    "openai": ("agents.openai_agent", "OpenAIChatAgent"),
    "hf": ("agents.hf_agent", "HFAgent"),
    "vllm": ("agents.vllm_agent", "VLLMAgent"),
}


def _resolve_class(spec: str) -> type:
    """The Agent class of `spec`; `module:Class` is imported with the current directory on
    `sys.path` (as `uvicorn module:app` does), so a user's own file works."""
    module_name, _, class_name = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    if spec in BUILTIN:
        module_name, class_name = BUILTIN[spec]
    elif not class_name:
        raise ValueError(f"unknown agent {spec!r}: use openai, hf, vllm or module:Class")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load agent {spec!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise TypeError(f"{spec!r} is not a subclass of agents.Agent")
    return cls


def _build(spec: str, options: dict[str, Any]) -> Agent:
    cls = _resolve_class(spec)
    parameters = inspect.signature(cls).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    accepted = {k: v for k, v in options.items()
                if v is not None and (takes_any or k in parameters)}
    return cls(**accepted)


def agent_factory(spec: str, **options: Any) -> functools.partial:
    """A picklable zero-argument callable building the agent (options it does not take,
    or that are None, are left out). Fails early on an unknown spec."""
    _resolve_class(spec)
    return functools.partial(_build, spec, options)
