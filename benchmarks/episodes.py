"""Play episodes of the env with an agent, many at once, and turn each into a record.

`play_episodes` runs the work items through the one rollout loop (`agents.rollout`): up
to `concurrency` episodes live, each episode's next turn asked for as soon as its
observation is ready and a finished episode's slot refilled at once (an HTTP agent keeps
`concurrency` requests in flight, a local model gets every ready turn in one batch), env
steps on a thread pool. Records come out as episodes end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from agents import Agent
from agents.rollout import TextEpisode, agent_backend, play

from .records import SampleRecord


@dataclass(frozen=True)
class WorkItem:
    """One sample to play: problem `index` of `benchmark`, sample number `sample`."""

    benchmark: str
    index: int
    sample: int
    seed: int


def _turn_entry(action: str, observation: str, info: dict[str, Any]) -> dict[str, Any]:
    return {"action": action, "observation": observation,
            "parse_error": info.get("parse_error"), "tool": info.get("tool"),
            "perturbation": info.get("perturbation"),
            "observation_clean": info.get("observation_clean"),
            "reward_terms": info.get("reward_terms")}


def _record(episode: TextEpisode, item: WorkItem, agent: Agent,
            perturbation: str) -> SampleRecord:
    task = episode.env.unwrapped.task
    last_info = episode.steps[-1].info
    turns = [_turn_entry(s.action, s.observation, s.info) for s in episode.steps]
    verdict = last_info.get("verdict") or {}
    answered = last_info.get("termination") == "answer"
    tools = [t["tool"] for t in turns if t["tool"]]
    usage = agent.usage(episode.info)
    return SampleRecord(
        benchmark=item.benchmark, problem_id=task.id, sample=item.sample,
        gold=task.answer, correct=bool(verdict.get("correct")),
        reason=verdict.get("reason", "no_answer"), extracted=verdict.get("extracted"),
        final_text=turns[-1]["action"] if answered else "",
        turns=turns, termination=last_info.get("termination", "unknown"),
        reward=sum(s.reward for s in episode.steps), tool_calls=len(tools),
        tool_errors=sum(t["status"] == "error" for t in tools),
        tool_timeouts=sum(t["status"] == "timeout" for t in tools),
        parse_errors=sum(t["parse_error"] is not None for t in turns),
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        episode_tokens=int(last_info.get("tokens", 0)),
        wall_s=round(time.perf_counter() - episode.started, 4),
        perturbation=perturbation, seed=item.seed)


def play_episodes(items: Iterable[WorkItem], agent: Agent,
                  make_env: Callable[[str], gym.Env], *, concurrency: int = 1,
                  perturbation: str = "none") -> Iterator[SampleRecord]:
    """Yield a record for every work item as soon as its episode ends."""
    envs: dict[str, list[gym.Env]] = {}
    started: list[tuple[WorkItem, TextEpisode]] = []

    def episodes() -> Iterator[TextEpisode]:
        for item in items:
            pool = envs.setdefault(item.benchmark, [])
            env = pool.pop() if pool else make_env(item.benchmark)
            started.append((item, TextEpisode(agent, env, seed=item.seed,
                                              options={"index": item.index},
                                              key=(item.benchmark, item.index, item.sample))))
            yield started[-1][1]

    done: set[int] = set()
    try:
        with closing(play(episodes(), agent_backend(agent, concurrency),
                          concurrency=max(1, concurrency))) as results:
            for position, episode in results:
                done.add(position)
                item = started[position][0]
                record = _record(episode, item, agent, perturbation)
                _finish(episode, item, agent, envs)
                yield record
    finally:
        for position, (item, episode) in enumerate(started):
            if position not in done:
                _finish(episode, item, agent, envs)
        for pool in envs.values():
            for env in pool:
                env.close()


def _finish(episode: TextEpisode, item: WorkItem, agent: Agent,
            envs: dict[str, list[gym.Env]]) -> None:
    end = getattr(agent, "end_episode", None)
    if end is not None:
        end(episode.info)
    envs.setdefault(item.benchmark, []).append(episode.env)
