"""`SynthesisConfig`: every setting of a trajectory-synthesis run, typed and documented.

One flat dataclass (see `deeptool_env.settings`), so a YAML file, the CLI
(`--perturb-rate 0.5`) and Python name a setting the same way; each field's help is what
`deeptool-train synth --help` shows. The env options it forwards (`data_dir`, `max_turns`,
`sandbox`, ...) and the perturbation settings are declared `like` the env's own, and the
injections they describe are an env `PerturbationConfig` (`SynthesisConfig.perturbation()`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from deeptool_env.env_config import EnvConfig
from deeptool_env.perturbations import KIND_SPECS, PerturbationConfig
from deeptool_env.sandbox import SandboxConfig
from deeptool_env.settings import (
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    Settings,
    SettingsError,
    like,
    setting,
)

LLMS = ("openai", "hf", "template")
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
    """Settings of one synthesis run: problems, teacher, trajectories, execution."""

    train_data: str = setting("aime_1983_2023", "a task name (aime_1983_2023, math_train, a "
                              "benchmark) or a JSONL path in the task record format",
                              section="Problems")
    data_dir: str | None = like(EnvConfig, "data_dir", help="folder holding "
                                "train/<name>/<name>.jsonl (default $DEEPTOOL_DATA_DIR)")
    strict_data: bool = like(EnvConfig, "strict_data")
    require_solution: bool = setting(True, "only problems with a worked solution; false lets "
                                     "the teacher solve problems that only have an answer "
                                     "(e.g. math_train); not used with `--llm template`")
    limit: int | None = setting(None, "at most this many problems", rule=POSITIVE)
    offset: int = setting(0, "problems skipped first", rule=NON_NEGATIVE)
    shuffle: bool = setting(False, "visit the problems in a seeded random order")
    llm: str = setting("openai", "`openai` (any OpenAI-compatible server; the key comes from "
                       "$DEEPTOOL_OPENAI_API_KEY or $OPENAI_API_KEY), `hf` (local "
                       "transformers) or `template` (scripted teacher for procedural "
                       "problems: each family's solution written from the task's generator "
                       "parameters; no model, so the model and sampling settings are unused; "
                       "other problems are rejected as no_template)", choices=LLMS,
                       section="Teacher")
    model: str | None = setting(None, "the served model name (openai; default the server's "
                                "first model) or a model directory, .gguf file or hub id "
                                "(hf; default the embedded SmolLM2)")
    base_url: str | None = setting(None, "API root including /v1 (default "
                                   "$DEEPTOOL_OPENAI_BASE_URL, else http://127.0.0.1:8000/v1)")
    api_key_env: str | None = setting(None, "name of another environment variable that holds "
                                      "the API key (the key itself is never stored)")
    device: str = setting("cpu", "device of an `hf` teacher")
    temperature: float = setting(0.7, "teacher sampling temperature (0: greedy)",
                                 rule=NON_NEGATIVE)
    top_p: float = setting(0.95, "teacher nucleus sampling", rule=FRACTION)
    max_new_tokens: int = setting(4096, "longest teacher reply in tokens (a whole "
                                  "transcript)", rule=POSITIVE)
    batch_size: int = setting(8, "problems whose teacher calls go out together (parallel "
                              "requests, or one batched local generation)", rule=POSITIVE)
    max_turns: int = like(EnvConfig, "max_turns", help="assistant turns per trajectory, "
                          "recovery turns included (the env's max_turns, quoted in the "
                          "system prompt)", section="Trajectories")
    min_code_turns: int = setting(1, "reject rewrites with fewer code turns",
                                  rule=NON_NEGATIVE)
    perturb_rate: float = like(PerturbationConfig, "rate", default=0.3, help="probability "
                               "that a code turn gets an injected anomaly, followed by a "
                               "recovery turn")
    max_perturbations: int = like(PerturbationConfig, "max_per_episode", default=1,
                                  help="most injections per trajectory")
    extrinsic_kinds: tuple[str, ...] = setting(
        DEFAULT_EXTRINSIC, "tool-side anomalies (the tool shows a wrong result; the "
        "recovery re-runs the code): any output-stage kind but stale_output")
    intrinsic_kinds: tuple[str, ...] = setting(
        DEFAULT_INTRINSIC, "code-side anomalies (the code itself is wrong and really runs; "
        "the recovery fixes it)")
    intrinsic_share: float = setting(0.3, "fraction of injections that are intrinsic",
                                     rule=FRACTION)
    severity: float = like(PerturbationConfig, "severity")
    recovery: str | None = setting(None, "who writes a recovery turn's thought: `llm` (the "
                                   "teacher, with the recovery prompt; a template when its "
                                   "reply is unusable) or `template` (default: `template` "
                                   "with `--llm template`, which allows nothing else; `llm` "
                                   "otherwise)", choices=RECOVERY_WRITERS)
    sandbox: str = like(SandboxConfig, "backend", section="Execution and output")
    tool_timeout_s: float = like(EnvConfig, "tool_timeout_s")
    out: str = setting("data/synth/trajectories.jsonl", "kept trajectories (SFT JSONL); "
                       "<stem>.rejects.jsonl and <stem>.manifest.json are written beside it")
    seed: int = setting(0, "seeds the order, the teacher's sampling and the injections",
                        rule=NON_NEGATIVE)
    progress: bool = setting(True, "show a progress bar")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.recovery is None:
            self.recovery = "template" if self.llm == "template" else "llm"
        if self.llm == "template" and self.recovery != "template":
            raise SettingsError("recovery llm needs a teacher LLM, but llm is template (the "
                                "scripted teacher): drop --recovery or set --recovery "
                                "template")
        self.extrinsic_kinds = _names("extrinsic_kinds", self.extrinsic_kinds, OUTPUT_KINDS)
        self.intrinsic_kinds = _names("intrinsic_kinds", self.intrinsic_kinds, CODE_KINDS)
        if self.min_code_turns >= self.max_turns:
            raise SettingsError(f"min_code_turns ({self.min_code_turns}) must be below "
                                f"max_turns ({self.max_turns}): the last turn is the answer")
        if self.perturbing:
            if not self.extrinsic_kinds and self.intrinsic_share < 1:
                raise SettingsError("extrinsic_kinds is empty but intrinsic_share < 1: list "
                                    "some kinds or set --intrinsic-share 1")
            if not self.intrinsic_kinds and self.intrinsic_share > 0:
                raise SettingsError("intrinsic_kinds is empty but intrinsic_share > 0: list "
                                    "some kinds or set --intrinsic-share 0")
        if self.api_key_env and self.llm == "openai" and self.api_key_env not in os.environ:
            raise SettingsError(f"api_key_env names ${self.api_key_env}, which is not set: "
                                f"export {self.api_key_env}=... or drop --api-key-env")
        if not self.out.endswith(".jsonl"):
            raise SettingsError(f"out must be a .jsonl path, got {self.out!r}")
        self.perturbation()  # the env's own checks of the injections it describes

    @property
    def perturbing(self) -> bool:
        return self.perturb_rate > 0 and self.max_perturbations > 0

    def perturbation(self) -> PerturbationConfig:
        """The injections as the env's perturbation settings: each code turn with
        probability `perturb_rate`, at most `max_perturbations` a trajectory, each kind
        weighted by its side's share (`intrinsic_share`) split evenly over its kinds."""
        shares = ((self.extrinsic_kinds, 1 - self.intrinsic_share),
                  (self.intrinsic_kinds, self.intrinsic_share))
        kinds = {kind: share / len(names) for names, share in shares if share > 0
                 for kind in names}
        return PerturbationConfig(rate=self.perturb_rate, severity=self.severity,
                                  kinds=kinds, max_per_episode=self.max_perturbations,
                                  name="synthesis")


def _names(name: str, value: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The kind names of `value`, each one of `allowed`, none twice."""
    items = tuple(value)
    for item in items:
        if item not in allowed:
            raise SettingsError(f"{name}: unknown or unsupported kind {item!r}; choose "
                                f"from {list(allowed)}")
    if len(set(items)) != len(items):
        raise SettingsError(f"{name} lists a kind twice: {list(items)}")
    return items


# Settings that change what a run produces: a rerun into the same `out` must keep them.
RESUME_KEYS = ("train_data", "require_solution", "llm", "model", "temperature", "top_p",
               "max_new_tokens", "max_turns", "min_code_turns", "perturb_rate",
               "max_perturbations", "extrinsic_kinds", "intrinsic_kinds", "intrinsic_share",
               "severity", "recovery", "sandbox", "tool_timeout_s", "seed")
