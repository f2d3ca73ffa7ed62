"""`SynthesisConfig`: every setting of a trajectory-synthesis run, typed and documented.

One flat dataclass (see `agents.settings`), so a YAML file, the CLI (`--perturb-rate 0.5`)
and Python name a setting the same way; the class docstring documents every field (and is
what `deeptool-train synth --help` shows).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from deeptool_env.perturbations import KIND_SPECS

from ..settings import Settings, check, check_choice, coerce_floats

LLMS = ("openai", "hf")
RECOVERY_WRITERS = ("llm", "template")
# Kinds that change what the tool *shows* (extrinsic and corrupted families). stale_output
# is left out: its true output arrives with the next code turn, which breaks the "re-run
# and see the truth at once" recovery this pipeline writes.
OUTPUT_KINDS = tuple(name for name, kind in KIND_SPECS.items()
                     if kind.stage == "output" and name != "stale_output")
CODE_KINDS = tuple(name for name, kind in KIND_SPECS.items() if kind.stage == "code")
DEFAULT_EXTRINSIC = ("tool_timeout", "transient_error", "truncated_output", "empty_output",
                     "numeric_corruption")
DEFAULT_INTRINSIC = ("syntax_error", "wrong_constant")


@dataclass
class SynthesisConfig(Settings):
    """Settings of one synthesis run (defaults in brackets).

    Problems:
        train_data ["aime_1983_2023"]: a task name (aime_1983_2023, math_train, a
            benchmark) or a JSONL path in the task record format.
        data_dir [None]: folder holding train/<name>/<name>.jsonl (default
            $DEEPTOOL_DATA_DIR).
        strict_data [True]: refuse a data file whose record count is not the pinned one
            (false: only warn).
        require_solution [True]: only problems with a worked solution; false lets the
            teacher solve problems that only have an answer (e.g. math_train).
        limit [None], offset [0]: at most `limit` problems, after skipping `offset`.
        shuffle [False]: visit the problems in a seeded random order.
    Teacher:
        llm ["openai"]: "openai" (any OpenAI-compatible server; the key comes from
            $DEEPTOOL_OPENAI_API_KEY or $OPENAI_API_KEY) or "hf" (local transformers).
        model [None]: the served model name (openai; default the server's first model) or
            a model directory, .gguf file or hub id (hf; default the embedded SmolLM2).
        base_url [None]: API root including /v1 (default $DEEPTOOL_OPENAI_BASE_URL, else
            http://127.0.0.1:8000/v1).
        api_key_env [None]: name of another environment variable that holds the API key
            (the key itself is never stored).
        device ["cpu"]: device of an "hf" teacher.
        temperature [0.7]: teacher sampling temperature (0: greedy).
        top_p [0.95]: teacher nucleus sampling.
        max_new_tokens [4096]: longest teacher reply in tokens (a whole transcript).
        batch_size [8]: problems whose teacher calls go out together (parallel requests,
            or one batched local generation).
    Trajectories:
        max_turns [8]: assistant turns per trajectory, recovery turns included (the env's
            max_turns, quoted in the system prompt).
        min_code_turns [1]: reject rewrites with fewer code turns.
        perturb_rate [0.3]: probability that a code turn gets an injected anomaly, followed
            by a recovery turn.
        max_perturbations [1]: most injections per trajectory.
        extrinsic_kinds [tool_timeout, transient_error, truncated_output, empty_output,
            numeric_corruption]: tool-side anomalies (the tool shows a wrong result; the
            recovery re-runs the code): any output-stage kind but stale_output.
        intrinsic_kinds [syntax_error, wrong_constant]: code-side anomalies (the code
            itself is wrong and really runs; the recovery fixes it).
        intrinsic_share [0.3]: fraction of injections that are intrinsic.
        severity [0.5]: how strong an anomaly is (0..1), as in the env.
        recovery ["llm"]: who writes a recovery turn's thought: "llm" (the teacher, with
            the recovery prompt; a template when its reply is unusable) or "template".
    Execution and output:
        sandbox ["local"]: backend that runs the code (local, docker, subprocess).
        tool_timeout_s [10.0]: wall-clock limit of one code cell.
        out ["data/synth/trajectories.jsonl"]: kept trajectories (SFT JSONL);
            <stem>.rejects.jsonl and <stem>.manifest.json are written beside it.
        seed [0]: seeds the order, the teacher's sampling and the injections.
        progress [True]: show a progress bar.
    """

    train_data: str = "aime_1983_2023"
    data_dir: str | None = None
    strict_data: bool = True
    require_solution: bool = True
    limit: int | None = None
    offset: int = 0
    shuffle: bool = False
    llm: str = "openai"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    device: str = "cpu"
    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 4096
    batch_size: int = 8
    max_turns: int = 8
    min_code_turns: int = 1
    perturb_rate: float = 0.3
    max_perturbations: int = 1
    extrinsic_kinds: tuple[str, ...] = DEFAULT_EXTRINSIC
    intrinsic_kinds: tuple[str, ...] = DEFAULT_INTRINSIC
    intrinsic_share: float = 0.3
    severity: float = 0.5
    recovery: str = "llm"
    sandbox: str = "local"
    tool_timeout_s: float = 10.0
    out: str = "data/synth/trajectories.jsonl"
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        coerce_floats(self)
        self.extrinsic_kinds = _names("extrinsic_kinds", self.extrinsic_kinds, OUTPUT_KINDS)
        self.intrinsic_kinds = _names("intrinsic_kinds", self.intrinsic_kinds, CODE_KINDS)
        check_choice("llm", self.llm, LLMS)
        check_choice("recovery", self.recovery, RECOVERY_WRITERS)
        check("temperature", self.temperature, lambda v: v >= 0, "a number >= 0", float)
        for name in ("top_p", "perturb_rate", "intrinsic_share", "severity"):
            check(name, getattr(self, name), lambda v: 0 <= v <= 1, "a number in [0, 1]",
                  float)
        check("tool_timeout_s", self.tool_timeout_s, lambda v: v > 0, "a positive number",
              float)
        for name in ("max_new_tokens", "batch_size", "max_turns"):
            check(name, getattr(self, name), lambda v: v > 0, "a positive integer", int)
        for name in ("offset", "min_code_turns", "max_perturbations", "seed"):
            check(name, getattr(self, name), lambda v: v >= 0, "an integer >= 0", int)
        if self.limit is not None:
            check("limit", self.limit, lambda v: v > 0, "a positive integer or null", int)
        if self.min_code_turns >= self.max_turns:
            raise ValueError(f"min_code_turns ({self.min_code_turns}) must be below max_turns "
                             f"({self.max_turns}): the last turn is the answer")
        if self.perturb_rate > 0 and self.max_perturbations > 0:
            if not self.extrinsic_kinds and self.intrinsic_share < 1:
                raise ValueError("extrinsic_kinds is empty but intrinsic_share < 1: list "
                                 "some kinds or set --intrinsic-share 1")
            if not self.intrinsic_kinds and self.intrinsic_share > 0:
                raise ValueError("intrinsic_kinds is empty but intrinsic_share > 0: list "
                                 "some kinds or set --intrinsic-share 0")
        if self.api_key_env and self.llm == "openai" and self.api_key_env not in os.environ:
            raise ValueError(f"api_key_env names ${self.api_key_env}, which is not set: "
                             f"export {self.api_key_env}=... or drop --api-key-env")
        if not self.out.endswith(".jsonl"):
            raise ValueError(f"out must be a .jsonl path, got {self.out!r}")

    @property
    def perturbing(self) -> bool:
        return self.perturb_rate > 0 and self.max_perturbations > 0


def _names(name: str, value: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """A tuple of kind names from a list/tuple/comma string, each one of `allowed`."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    items = tuple(value or ())
    for item in items:
        if item not in allowed:
            raise ValueError(f"{name}: unknown or unsupported kind {item!r}; choose from "
                             f"{list(allowed)}")
    if len(set(items)) != len(items):
        raise ValueError(f"{name} lists a kind twice: {list(items)}")
    return items


# Settings that change what a run produces: a rerun into the same `out` must keep them.
RESUME_KEYS = ("train_data", "require_solution", "llm", "model", "temperature", "top_p",
               "max_new_tokens", "max_turns", "min_code_turns", "perturb_rate",
               "max_perturbations", "extrinsic_kinds", "intrinsic_kinds", "intrinsic_share",
               "severity", "recovery", "sandbox", "tool_timeout_s", "seed")
