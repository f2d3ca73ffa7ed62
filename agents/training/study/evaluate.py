"""Held-out evaluation of a policy under one condition: clean tool output, perturbed tool
output, or the tool switched off (the env's `tool=False`, same turn and token budget).

Every evaluation plays the same episodes: problem i, sample j is seeded by (held-out
seed, i, j), so two evaluations differ only by the policy and the condition, and their
difference per problem is a paired comparison. The reward is always the full DeepTool
reward, so the process terms are measured for every arm (arm A is not trained on them).
"""

from __future__ import annotations

import json
import os
import queue
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

from agents.generation import Sampling
from agents.generation.hf import HFGenerator
from agents.rollout.scheduler import Batched, Request, play_in_order
from agents.rollout.token_episodes import TokenEpisode
from deeptool_env.seeding import derived_seed

from .config import StudyConfig


@dataclass
class EpisodeRecord:
    """What one held-out episode did."""

    problem: int
    sample: int
    correct: bool
    extracted: str | None
    termination: str
    turns: int
    tool_calls: int
    generated_tokens: int
    terms: list[dict[str, float]]


@dataclass
class Evaluation:
    """The episodes of one evaluation (policy x condition), in (problem, sample) order."""

    name: str
    condition: str
    step: int
    episodes: list[EpisodeRecord] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def solve_rate(self) -> float:
        return sum(e.correct for e in self.episodes) / max(1, len(self.episodes))

    def per_problem(self) -> list[float]:
        """Mean correctness of each problem's samples, by problem index."""
        totals: dict[int, list[int]] = {}
        for episode in self.episodes:
            totals.setdefault(episode.problem, []).append(int(episode.correct))
        return [sum(v) / len(v) for _, v in sorted(totals.items())]

    def save(self, path: Path) -> None:
        data = {"name": self.name, "condition": self.condition, "step": self.step,
                "solve_rate": self.solve_rate, "wall_s": self.wall_s,
                "episodes": [asdict(e) for e in self.episodes]}
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=0))
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> Evaluation:
        data = json.loads(path.read_text())
        return cls(data["name"], data["condition"], data["step"],
                   [EpisodeRecord(**e) for e in data["episodes"]], data["wall_s"])


def condition_options(config: StudyConfig, condition: str) -> dict[str, Any]:
    """The env options that make a condition (on top of the episode budgets)."""
    options: dict[str, Any] = {"reward": "deeptool", "sandbox": config.sandbox,
                               "perturbation": "none"}
    if condition == "adversarial":
        options["perturbation"] = config.eval_perturbation
    elif condition == "tool_off":
        options["tool"] = False
    elif condition != "clean":
        raise ValueError(f"unknown condition {condition!r}")
    return options


def episode_options(config: StudyConfig, tokenizer: Any, tasks: Path) -> dict[str, Any]:
    """Budgets every study episode shares (training and evaluation), in model tokens."""
    return {"tasks": str(tasks), "max_turns": config.max_turns,
            "max_episode_tokens": config.max_tokens_per_episode, "max_invalid_turns": 2,
            "token_counter": lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"])}


def episode_seed(config: StudyConfig, problem: int, sample: int) -> int:
    return derived_seed("study-eval", config.heldout_seed, problem, sample, nbytes=4) >> 1


def _record(problem: int, sample: int, trajectory: Any) -> EpisodeRecord:
    info = trajectory.info
    verdict = info.get("verdict") or {}
    return EpisodeRecord(
        problem=problem, sample=sample,
        correct=bool(verdict.get("correct")), extracted=verdict.get("extracted"),
        termination=str(info.get("termination", "")), turns=int(info.get("turn", 0)),
        tool_calls=int(info.get("tool_calls", 0)),
        generated_tokens=int(sum(trajectory.loss_mask)),
        terms=[{k: round(float(v), 4) for k, v in t.items()}
               for t in info.get("turn_reward_terms", [])])


def evaluate(model: Any, tokenizer: Any, config: StudyConfig, tasks: Path, problems: int,
             condition: str, *, name: str, step: int, samples: int | None = None,
             concurrency: int = 64) -> Evaluation:
    """Play `samples` (default `config.eval_samples`) episodes of each of the first
    `problems` problems of `tasks` under `condition` with `model`."""
    started = time.perf_counter()
    samples = samples or config.eval_samples
    jobs = [(i, j) for i in range(problems) for j in range(samples)]
    width = min(concurrency, len(jobs))
    options = {**episode_options(config, tokenizer, tasks),
               **condition_options(config, condition)}
    envs = [gym.make("DeepTool-Math-v0", **options) for _ in range(width)]
    generator = HFGenerator(model, tokenizer, batch_size=width)
    sampling = Sampling(max_new_tokens=config.max_tokens_per_turn,
                        temperature=config.temperature)

    def generate(requests: list[Request]) -> list[list[int]]:
        out = generator.generate([r.prompt for r in requests], sampling,
                                 [r.seed for r in requests])
        return [g.ids for g in out]

    free: queue.SimpleQueue[gym.Env] = queue.SimpleQueue()
    for env in envs:
        free.put(env)
    episodes = (TokenEpisode(free.get_nowait(), tokenizer,
                             seed=episode_seed(config, i, j), options={"index": i},
                             release=free.put) for i, j in jobs)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            played = play_in_order(episodes, Batched(generate), concurrency=width)
    finally:
        model.train(was_training)
        for env in envs:
            env.close()
    records = [_record(i, j, t) for (i, j), t in zip(jobs, played, strict=True)]
    return Evaluation(name, condition, step, records, time.perf_counter() - started)
