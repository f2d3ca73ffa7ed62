"""`--agent openai|hf|vllm|module:Class` to a picklable agent factory, and `as_agent`, which
lets any object with `reset` and `act` (`agents.AgentProtocol`) play in the harness."""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import sys
from typing import Any

from agents import Agent, AgentProtocol
from agents.base import Usage

# spec -> (module, class, constructor): the openai agent is built by `from_env`, so the
# documented DEEPTOOL_OPENAI_* variables fill what the command line leaves unset.
BUILTIN = {
    "openai": ("agents.openai_agent", "OpenAIChatAgent", "from_env"),
    "hf": ("agents.hf_agent", "HFAgent", None),
    "vllm": ("agents.vllm_agent", "VLLMAgent", None),
}
DEFAULT_AGENT = "hf"


def missing_methods(obj: Any) -> list[str]:
    """The methods of `AgentProtocol` that `obj` (an object or a class) lacks."""
    return [name for name in ("reset", "act") if not callable(getattr(obj, name, None))]


def _resolve_class(spec: str) -> type:
    """The agent class of `spec`; `module:Class` is imported with the current directory on
    `sys.path` (as `uvicorn module:app` does), so a user's own file works."""
    module_name, _, class_name = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    if spec in BUILTIN:
        module_name, class_name, _ = BUILTIN[spec]
    elif not class_name:
        raise ValueError(f"unknown agent {spec!r}: use openai, hf, vllm or module:Class")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load agent {spec!r}: {exc}") from exc
    if not isinstance(cls, type):
        raise TypeError(f"{spec!r} is a {type(cls).__name__}, not a class")
    if not issubclass(cls, Agent) and (missing := missing_methods(cls)):
        raise TypeError(f"{spec!r} is not an agent: it is not a subclass of agents.Agent and "
                        f"lacks {', '.join(f'{name}()' for name in missing)} (an agent "
                        "needs reset(observation, info) and act(observation, info) -> str)")
    return cls


def _keywords(cls: type) -> tuple[set[str], bool]:
    """(the keyword arguments `cls(...)` takes, whether it takes any): the `__init__`
    parameters along the MRO for as long as each passes `**kwargs` on to its base."""
    names: set[str] = set()
    for klass in cls.__mro__[:-1]:  # object.__init__ takes nothing
        if "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(vars(klass)["__init__"]).parameters
        names |= {name for name, p in parameters.items() if name != "self"
                  and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            return names, False
    return names, bool(names) or any("__init__" in vars(k) for k in cls.__mro__[:-1])


def _build(spec: str, options: dict[str, Any], strict: dict[str, Any]) -> Agent:
    cls = _resolve_class(spec)
    names, takes_any = _keywords(cls)
    unknown = [key for key in strict if not (takes_any or key in names)]
    if unknown:
        raise TypeError(f"{spec!r} takes no option(s) {unknown}; it takes {sorted(names)}")
    accepted = {k: v for k, v in options.items()
                if v is not None and (takes_any or k in names) and k not in strict}
    constructor = BUILTIN.get(spec, (None, None, None))[2]
    made = getattr(cls, constructor)(**accepted, **strict) if constructor \
        else cls(**accepted, **strict)
    return as_agent(made)


def agent_factory(spec: str, agent_options: dict[str, Any] | None = None,
                  **options: Any) -> functools.partial:
    """A picklable zero-argument callable building the agent. `options` it does not take,
    or that are None, are left out (they are the harness's: `seed`, `concurrency`, ...);
    `agent_options` are the user's own constructor arguments and must all be taken.
    Fails early on an unknown spec."""
    _resolve_class(spec)
    return functools.partial(_build, spec, options, dict(agent_options or {}))


def factory_for(config: Any) -> functools.partial:
    """The agent factory of a `RunConfig`: its `agent` (default `hf`) with the options the
    run gives it (`RunConfig.agent_kwargs`) and the user's `agent_options`."""
    return agent_factory(config.agent or DEFAULT_AGENT, config.agent_options,
                         **config.agent_kwargs())


class ProtocolAgent(Agent):
    """An `Agent` around an object that only has the protocol's `reset` and `act`; what
    else it has (`act_batch`, `usage`, `end_episode`, `close`, `concurrent_episodes`,
    `name`) is used too."""

    def __init__(self, inner: AgentProtocol) -> None:
        self.inner = inner
        self.name = str(getattr(inner, "name", type(inner).__name__))
        self.concurrent_episodes = bool(getattr(inner, "concurrent_episodes", False))

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        self.inner.reset(observation, info)

    def act(self, observation: str, info: dict[str, Any]) -> str:
        return self.inner.act(observation, info)

    def act_batch(self, observations: list[str], infos: list[dict[str, Any]]) -> list[str]:
        batch = getattr(self.inner, "act_batch", None)
        return batch(observations, infos) if callable(batch) \
            else super().act_batch(observations, infos)

    def usage(self, info: dict[str, Any]) -> Usage | None:
        usage = getattr(self.inner, "usage", None)
        return usage(info) if callable(usage) else None

    def end_episode(self, info: dict[str, Any]) -> None:
        if callable(end := getattr(self.inner, "end_episode", None)):
            end(info)

    def close(self) -> None:
        if callable(close := getattr(self.inner, "close", None)):
            close()


def as_agent(obj: Any) -> Agent:
    """`obj` as an `Agent`: itself when it is one, else wrapped when it has the protocol's
    methods; a `TypeError` naming what is missing otherwise."""
    if isinstance(obj, Agent):
        return obj
    if missing := missing_methods(obj):
        raise TypeError(f"{type(obj).__name__} is not an agent: it lacks "
                        f"{', '.join(f'{name}()' for name in missing)}")
    return ProtocolAgent(obj)
