"""`evaluate`: run an agent on benchmarks, k samples a problem, resumable, with progress.

Every finished sample is appended to `<out>/samples.jsonl` at once; `<out>/run.json`
holds the settings. Running again with the same `out` skips the samples already there
(and refuses settings that differ, which would mix two runs in one file).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

import deeptool_env
from agents import Agent
from deeptool_env.seeding import derived_seed
from deeptool_env.tasks import BENCHMARKS, canonical_name, load_tasks

from .episodes import WorkItem, play_episodes
from .progress import Progress
from .records import RUN_FILE, SampleRecord, SampleWriter, read_samples, write_json_atomic

SIX_BENCHMARKS = tuple(BENCHMARKS)  # the six, in the paper's order (deeptool_env.tasks.names)
# Settings that must match for a rerun to resume into the same results directory.
RESUME_KEYS = ("benchmarks", "k", "max_turns", "max_episode_tokens", "perturbation",
               "limit", "seed", "temperature", "top_p", "max_new_tokens", "model", "agent")


@dataclass
class RunConfig:
    """What to evaluate and how (the CLI flags of `deeptool-bench run`)."""

    out: str = "results"
    benchmarks: tuple[str, ...] = SIX_BENCHMARKS
    k: int = 8
    max_turns: int = 8
    max_episode_tokens: int = 16384
    perturbation: str = "none"
    limit: int | None = None
    seed: int = 0
    concurrency: int = 8
    data_dir: str | None = None
    sandbox: str = "local"
    tool_timeout_s: float = 10.0
    model: str | None = None
    agent: str = "custom"
    temperature: float | None = None
    top_p: float | None = None
    max_new_tokens: int | None = None
    ray_address: str | None = None
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.k < 1 or self.max_turns < 1 or self.concurrency < 1:
            raise ValueError("k, max_turns and concurrency must be at least 1")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")
        self.benchmarks = tuple(_benchmark_name(b) for b in self.benchmarks)


def _benchmark_name(name: str) -> str:
    return name if name.startswith("procedural") else canonical_name(name)


@dataclass
class RunResult:
    """What `evaluate` returns: the records of the run and the directory they are in."""

    out: Path
    records: list[SampleRecord]
    settings: dict[str, Any]

    def summary(self, **kwargs: Any):
        """Metrics of the run (see `benchmarks.metrics.summarize`)."""
        from .metrics import summarize

        return summarize(self.records, **kwargs)


def _sample_seed(base: int, benchmark: str, index: int, sample: int) -> int:
    return derived_seed(base, benchmark, index, sample, nbytes=6)


def _settings(config: RunConfig, tasksets: dict[str, Any]) -> dict[str, Any]:
    data = asdict(config)
    data["benchmarks"] = list(config.benchmarks)
    data["datasets"] = {name: ts.provenance() for name, ts in tasksets.items()}
    data["package_version"] = deeptool_env.__version__
    return data


def _check_resume(out: Path, settings: dict[str, Any]) -> None:
    import json

    path = out / RUN_FILE
    if not path.exists():
        return
    previous = json.loads(path.read_text())
    differ = [k for k in RESUME_KEYS if previous.get(k) != settings.get(k)]
    if differ:
        changes = ", ".join(f"{k}: {previous.get(k)!r} -> {settings.get(k)!r}" for k in differ)
        raise ValueError(f"{out} holds a run with other settings ({changes}); use another "
                         "--out, or the same settings to resume it")


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


def evaluate(agent: Agent | Callable[[], Agent], config: RunConfig | None = None,
             **overrides: Any) -> RunResult:
    """Evaluate `agent` (or a factory of agents, needed for `ray_address`) and return the
    records; finished samples are on disk as they complete."""
    config = config or RunConfig(**overrides)
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
    write_json_atomic(out / RUN_FILE, {**settings, "started": time.time()})
    records = list(existing)
    with SampleWriter(out) as writer, Progress(len(todo) + len(existing), existing,
                                               enabled=config.progress) as progress:
        for record in _play(agent, config, tasksets, todo):
            writer.write(record)
            records.append(record)
            progress.update(record)
    write_json_atomic(out / RUN_FILE, {**settings, "finished": time.time()})
    return RunResult(out, records, settings)


def _env_factory(config: RunConfig, tasksets: dict[str, Any]) -> Callable[[str], gym.Env]:
    def make(name: str) -> gym.Env:
        return gym.make("DeepTool-Math-v0", tasks=name, data_dir=config.data_dir,
                        max_turns=config.max_turns, max_episode_tokens=config.max_episode_tokens,
                        perturbation=config.perturbation, sandbox=config.sandbox,
                        tool_timeout_s=config.tool_timeout_s)

    return make


def _play(agent: Agent | Callable[[], Agent], config: RunConfig, tasksets: dict[str, Any],
          todo: list[WorkItem]) -> Iterator[SampleRecord]:
    if config.ray_address:
        from .distributed import play_on_ray

        yield from play_on_ray(agent, config, todo)
        return
    instance = agent if isinstance(agent, Agent) else agent()
    concurrency = config.concurrency if instance.concurrent_episodes else 1
    yield from play_episodes(todo, instance, _env_factory(config, tasksets),
                             concurrency=concurrency, perturbation=config.perturbation)
