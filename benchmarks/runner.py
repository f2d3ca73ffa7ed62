"""`evaluate`: run an agent on benchmarks, k samples a problem, resumable, with progress.

Every finished sample is appended to `<out>/samples.jsonl` at once; `<out>/run.json`
holds the settings. Running again with the same `out` skips the samples already there
(and refuses settings that differ, which would mix two runs in one file).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import gymnasium as gym

import deeptool_env
from agents import AgentProtocol
from deeptool_env import EnvConfig
from deeptool_env.run_records import require_same_settings
from deeptool_env.seeding import derived_seed
from deeptool_env.settings import (
    NON_NEGATIVE,
    POSITIVE,
    Settings,
    SettingsError,
    like,
    reject_unknown,
    setting,
)
from deeptool_env.tasks import BENCHMARKS, canonical_name, load_tasks
from deeptool_env.tasks.jsonl import DATA_DIR_ENV

from .agent_spec import as_agent
from .episodes import WorkItem, play_episodes
from .progress import Progress
from .records import RUN_FILE, SampleRecord, SampleWriter, read_samples, write_json_atomic

SIX_BENCHMARKS = tuple(BENCHMARKS)  # the six, in the paper's order (deeptool_env.tasks.names)
# Settings that must match for a rerun to resume into the same results directory.
RESUME_KEYS = ("benchmarks", "k", "max_turns", "max_episode_tokens", "perturbation",
               "limit", "seed", "temperature", "top_p", "max_new_tokens", "model", "agent",
               "env_options")
# The env options RunConfig has fields for (the rest go through `env_options`).
_ENV_FIELDS = ("tasks", "data_dir", "max_turns", "max_episode_tokens", "perturbation",
               "sandbox", "tool_timeout_s")


@dataclass
class RunConfig(Settings):
    """What to evaluate and how: the options of `deeptool-bench run`, and of `evaluate`."""

    agent: str | None = setting(
        None, "`openai`, `hf` (local transformers), `vllm` (offline vLLM) or `module:Class` "
        "(imported from the working directory: a subclass of agents.Agent or any class with "
        "reset() and act()); None: `hf` on the command line, `custom` for "
        "`evaluate(agent_object)`", section="Agent")
    model: str | None = setting(None, "model name or path (hf default: the embedded "
                                "SmolLM2-135M; openai default: $DEEPTOOL_OPENAI_MODEL, else "
                                "the server's first model)")
    base_url: str | None = setting(None, "OpenAI-compatible server, with /v1 (default "
                                   "$DEEPTOOL_OPENAI_BASE_URL, $OPENAI_BASE_URL, else "
                                   "http://127.0.0.1:8000/v1); the key is read from "
                                   "$DEEPTOOL_OPENAI_API_KEY or $OPENAI_API_KEY")
    temperature: float | None = setting(None, "sampling temperature (None: the agent's "
                                        "default, 0.6 for the chat agents)")
    top_p: float | None = setting(None, "nucleus sampling (None: the agent's default, 0.95)")
    max_new_tokens: int | None = setting(None, "tokens per assistant turn (None: the agent's "
                                         "default, 2048)", rule=POSITIVE)
    request_timeout_s: float | None = setting(None, "openai: socket timeout of one request "
                                              "(default $DEEPTOOL_OPENAI_TIMEOUT_S, else "
                                              "600)", rule=POSITIVE)
    max_retries: int | None = setting(None, "openai: retries of a failed request (default "
                                      "$DEEPTOOL_OPENAI_MAX_RETRIES, else 4)", rule=NON_NEGATIVE)
    agent_options: dict[str, Any] = setting(
        help="any other keyword arguments of the agent's constructor, e.g. `{device: cuda, "
        "batch_size: 4, threads: 1}` (hf; `threads`: torch CPU threads, default chosen for "
        "the machine) or `{extra_body: {top_k: 20}}` (openai)", factory=dict)
    benchmarks: tuple[str, ...] = setting(
        ("auto",), "comma-separated names (aime24,aime25,hmmt25,amc23,math500,"
        "olympiadbench) read from the data directory, `hf:<name>` from the Hugging Face Hub "
        "(extra `deeptool-gym[hub]`), `procedural[:family]`, or `auto`: the six when a "
        "data directory is given or in $DEEPTOOL_DATA_DIR, else procedural", section="Run")
    k: int = setting(8, "samples per problem (avg@k, pass@k)", rule=POSITIVE)
    limit: int | None = setting(None, "only the first N problems of each benchmark (None: "
                                "all; 50 of a procedural family)", rule=POSITIVE)
    seed: int = setting(0, "seeds every sample (and the agent's sampling)")
    concurrency: int | None = setting(None, "episodes in flight (for the openai agent also "
                                      "requests in flight); None: "
                                      "$DEEPTOOL_OPENAI_CONCURRENCY for the openai agent, "
                                      "else 8", rule=POSITIVE)
    out: str = setting("results", "results directory; a rerun with the same one resumes")
    ray_address: str | None = setting(None, "run on a Ray cluster (`local` starts one)")
    progress: bool = setting(True, "show a progress bar")
    extra: dict[str, Any] = setting(help="free-form notes recorded in run.json",
                                    factory=dict)
    max_turns: int = like(EnvConfig, "max_turns", section="Environment (gym.make options)")
    max_episode_tokens: int = like(EnvConfig, "max_episode_tokens")
    perturbation: str = like(EnvConfig, "perturbation")
    data_dir: str | None = like(EnvConfig, "data_dir")
    sandbox: str = like(EnvConfig, "sandbox")
    tool_timeout_s: float = like(EnvConfig, "tool_timeout_s")
    env_options: dict[str, Any] = setting(
        help="further `gym.make` options, e.g. `{max_output_chars: 4096, reward: outcome}`",
        factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.concurrency is None:
            variable = os.environ.get("DEEPTOOL_OPENAI_CONCURRENCY")
            self.concurrency = int(variable) if variable and self.agent == "openai" else 8
        self.data_dir = self.data_dir or os.environ.get(DATA_DIR_ENV) or None
        if "auto" in self.benchmarks:
            self.benchmarks = SIX_BENCHMARKS if self.data_dir else ("procedural",)
        self.benchmarks = tuple(_benchmark_name(b) for b in self.benchmarks)
        reject_unknown("env option", self.env_options, [f.name for f in fields(EnvConfig)])
        if own := [name for name in self.env_options if name in _ENV_FIELDS]:
            raise SettingsError(f"env_options: {own} are options of their own "
                                f"({', '.join('--' + n.replace('_', '-') for n in own)})")
        EnvConfig.from_dict(self.env_options)

    def agent_kwargs(self) -> dict[str, Any]:
        """The options the run gives its agent (those the agent does not take, or that are
        None, are left out; see `benchmarks.agent_spec.factory_for`)."""
        return {"model": self.model, "base_url": self.base_url, "seed": self.seed,
                "temperature": self.temperature, "top_p": self.top_p,
                "max_new_tokens": self.max_new_tokens, "concurrency": self.concurrency,
                "timeout_s": self.request_timeout_s, "max_retries": self.max_retries}


def _benchmark_name(name: str) -> str:
    """The canonical name (`hf:<name>` reads the benchmark from the Hugging Face Hub)."""
    if name.startswith("procedural"):
        return name
    if name.startswith("hf:"):
        return "hf:" + canonical_name(name[3:])
    return canonical_name(name)


@dataclass
class RunResult:
    """What `evaluate` returns: the records of the run and the directory they are in."""

    out: Path
    records: list[SampleRecord]
    settings: dict[str, Any]
    played: int = 0  # samples this call played (0: the run was already complete)

    def summary(self, **kwargs: Any):
        """Metrics of the run (see `benchmarks.metrics.summarize`)."""
        from .metrics import summarize

        return summarize(self.records, **kwargs)


def _sample_seed(base: int, benchmark: str, index: int, sample: int) -> int:
    return derived_seed(base, benchmark, index, sample, nbytes=6)


def _settings(config: RunConfig, tasksets: dict[str, Any]) -> dict[str, Any]:
    data = asdict(config)
    data["agent_options"] = {key: "***" if "key" in key.lower() or "token" in key.lower()
                             else value for key, value in config.agent_options.items()}
    data["benchmarks"] = list(config.benchmarks)
    data["datasets"] = {name: ts.provenance() for name, ts in tasksets.items()}
    data["package_version"] = deeptool_env.__version__
    return data


def _previous(out: Path) -> dict[str, Any]:
    """The settings run.json in `out` holds ({} when there is none)."""
    path = out / RUN_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def _check_resume(out: Path, settings: dict[str, Any]) -> None:
    previous, defaults = _previous(out), RunConfig.defaults()
    if not previous:
        return
    stored = {key: previous.get(key, defaults[key]) for key in RESUME_KEYS}
    require_same_settings(stored, settings, keys=RESUME_KEYS, holder=str(out),
                          fix="use another --out, or the same settings to resume it")


def plan(config: RunConfig, tasksets: dict[str, Any], done: set[tuple[str, str, int]]
         ) -> list[WorkItem]:
    """The samples still to play, problem by problem."""
    items = []
    for name, taskset in tasksets.items():
        for index in range(len(taskset)):
            problem_id = taskset[index].id
            for sample in range(config.k):
                if (name, problem_id, sample) not in done:
                    items.append(WorkItem(name, index, sample,
                                          _sample_seed(config.seed, name, index, sample)))
    return items


def evaluate(agent: AgentProtocol | Callable[[], AgentProtocol],
             config: RunConfig | None = None, **overrides: Any) -> RunResult:
    """Evaluate `agent` (any object with `reset`/`act`, or a factory of agents, needed for
    `ray_address`) and return the records; finished samples are on disk as they
    complete."""
    config = _described(config or RunConfig(**overrides), agent)
    out = Path(config.out)
    tasksets = {name: load_tasks(name, data_dir=config.data_dir,
                                 limit=config.limit or (50 if name.startswith("procedural")
                                                        else None))
                for name in config.benchmarks}
    settings = _settings(config, tasksets)
    _check_resume(out, settings)
    out.mkdir(parents=True, exist_ok=True)
    existing = read_samples(out)
    todo = plan(config, tasksets, {r.key for r in existing})
    # The run started when its first sample was played: a resume keeps that time.
    started = _previous(out).get("started") if existing else None
    settings = {**settings, "started": started or time.time()}
    write_json_atomic(out / RUN_FILE, settings)
    records = list(existing)
    with SampleWriter(out) as writer, Progress(len(todo) + len(existing), existing,
                                               enabled=config.progress) as progress:
        for record in _play(agent, config, tasksets, todo):
            writer.write(record)
            records.append(record)
            progress.update(record)
    settings = {**settings, "finished": time.time()}
    write_json_atomic(out / RUN_FILE, settings)
    return RunResult(out, records, settings, played=len(records) - len(existing))


def _is_agent(obj: Any) -> bool:
    """An agent object (with `reset`/`act`), not a factory of them (a class is a factory)."""
    return not isinstance(obj, type) and isinstance(obj, AgentProtocol)


def _described(config: RunConfig, agent: Any) -> RunConfig:
    """`config` with what the agent object says of itself where the config says nothing:
    its sampling settings (and `agent` is "custom": any object may resume the run)."""
    if not _is_agent(agent):
        return config
    changes = {name: getattr(agent, name) for name in ("temperature", "top_p",
                                                       "max_new_tokens")
               if getattr(config, name) is None and getattr(agent, name, None) is not None}
    if config.agent is None:
        changes["agent"] = "custom"
    return replace(config, **changes) if changes else config


def _env_factory(config: RunConfig, tasksets: dict[str, Any]) -> Callable[[str], gym.Env]:
    options = {name: getattr(config, name) for name in _ENV_FIELDS if name != "tasks"}

    def make(name: str) -> gym.Env:
        return gym.make("DeepTool-Math-v0", tasks=name, **options, **config.env_options)

    return make


def _play(agent: AgentProtocol | Callable[[], AgentProtocol], config: RunConfig,
          tasksets: dict[str, Any], todo: list[WorkItem]) -> Iterator[SampleRecord]:
    if config.ray_address:
        from .distributed import play_on_ray

        yield from play_on_ray(agent, config, todo)
        return
    instance = as_agent(agent if _is_agent(agent) else agent())
    concurrency = config.concurrency if instance.concurrent_episodes else 1
    yield from play_episodes(todo, instance, _env_factory(config, tasksets),
                             concurrency=concurrency, perturbation=config.perturbation)
