"""Forwarding for names that moved: `agents.grpo`, `agents.sft` and `agents.synthesis`
now live under `agents.training`. The old packages still work and warn once per name."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def forward(old: str, new: str) -> Callable[[str], Any]:
    """A module `__getattr__` for package `old` that serves `new`'s names with a
    `DeprecationWarning` naming the new import."""

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(importlib.import_module(new), name)
        warnings.warn(f"{old}.{name} moved to {new}.{name}; import it from there",
                      DeprecationWarning, stacklevel=2)
        return value

    return __getattr__
