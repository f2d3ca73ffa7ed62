"""The scripted teacher: a transcript for a procedural problem, written from its parameters.

    text = template_transcript(task, random.Random(0))  # None when there is no template

Procedural tasks (`deeptool_env.tasks.procedural`) carry their generator inputs in
`task.meta["family"]` / `task.meta["params"]`, so a solution can be written without a
model: one code turn that computes the answer from the problem's own numbers (and prints
it), then the answer turn boxing `task.answer`. The thoughts are short first-person
phrasings picked by `rng`, so the data is not one fixed string. The output is the format a
teacher LLM writes (`parse.parse_rewrite` reads it), so the rest of the pipeline (replay
in the real env, grading, injected anomalies and recoveries) is the same.

Each family's writer lives in a `templates_<topic>.py` module and registers itself in
`WRITERS`; what the writers share (`Solution`, `Recipe`, the registry) is in
`templates_common`. Bump `TEMPLATE_VERSION` whenever a thought, a code template or a
writer's coverage changes: it is stored in the provenance and the run manifest, so data
made by different templates is never mixed.
"""

from __future__ import annotations

import random

from agents.base import Generation
from deeptool_env.tasks import Task

from . import (  # noqa: F401  (each module registers its writers in WRITERS on import)
    templates_algebra,
    templates_arithmetic,
    templates_combinatorics,
    templates_counting,
    templates_number_theory,
    templates_primes,
)
from .templates_common import WRITERS

TEMPLATE_VERSION = "templates-v2"


def template_transcript(task: Task, rng: random.Random) -> str | None:
    """A teacher-format transcript solving `task`, or None when it has no template
    (not a procedural task, or a family / variant without one)."""
    family, params = task.meta.get("family"), task.meta.get("params")
    write = WRITERS.get(family) if isinstance(family, str) else None
    if write is None or not isinstance(params, dict):
        return None
    try:
        solution = write(params, task, rng)
    except (KeyError, TypeError, ValueError):  # params of another generator version
        return None
    if solution is None:
        return None
    return (f"<think>{solution.thought}</think><code>\n{solution.code.strip()}\n</code>\n"
            f"<think>{solution.conclusion}</think><answer>\\boxed{{{task.answer}}}</answer>")


def template_reply(task: Task, rng: random.Random) -> Generation | None:
    """`template_transcript` as a teacher reply (no tokens: no model ran), or None."""
    text = template_transcript(task, rng)
    return None if text is None else Generation(text, prompt_tokens=0, completion_tokens=0)


def has_template(task: Task) -> bool:
    """Whether `task`'s family has a writer (its variant may still lack one)."""
    return task.meta.get("family") in WRITERS

