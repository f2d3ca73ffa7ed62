"""Seeded, composable adversarial perturbations of tool calls (as in the DeepTool paper).

The policy should notice and recover from bad tool results instead of trusting every one.
Three families: extrinsic environment failures (timeouts, transient errors, truncated, empty,
stale, duplicated or reordered output), corrupted results (changed numbers, fake tracebacks,
misleading hints) and intrinsic generation anomalies (syntax errors, wrong constants in the
code before it runs). `Perturber(config)` applies them per episode; see `perturber.py`.
A `PerturbationPlan` (`reset(options={"perturbations": {turn: kind}})`) schedules kinds
on chosen turns of one episode; see `plan.py`.
"""

from __future__ import annotations

from .base import Context, Kind, PerturbationEvent, ToolOutput
from .config import FAMILIES, KIND_SPECS, KINDS, PRESETS, PerturbationConfig, resolve_perturbation
from .numbers import NUMERIC_MODES, numbers_in
from .perturber import Perturber, injected_values
from .plan import PerturbationPlan, resolve_plan

__all__ = [
    "FAMILIES",
    "KINDS",
    "KIND_SPECS",
    "NUMERIC_MODES",
    "PRESETS",
    "Context",
    "Kind",
    "PerturbationConfig",
    "PerturbationEvent",
    "PerturbationPlan",
    "Perturber",
    "ToolOutput",
    "injected_values",
    "numbers_in",
    "resolve_perturbation",
    "resolve_plan",
]
