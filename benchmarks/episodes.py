"""Play episodes of the env with an agent, many at once, and turn each into a record.

`play_episodes` keeps up to `concurrency` episodes in flight; at every round it asks the
agent for one turn of every active episode through `act_batch` (so HTTP agents send their
requests in parallel and local models generate a batch), then steps each env.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from agents import Agent
from deeptool_env.audit import agent_info

from .records import SampleRecord


@dataclass(frozen=True)
class WorkItem:
    """One sample to play: problem `index` of `benchmark`, sample number `sample`."""

    benchmark: str
    index: int
    sample: int
    seed: int


@dataclass
class _Live:
    item: WorkItem
    env: gym.Env
    observation: str
    info: dict[str, Any]
    started: float
    turns: list[dict[str, Any]] = field(default_factory=list)
    reward: float = 0.0


def _turn_entry(action: str, observation: str, info: dict[str, Any]) -> dict[str, Any]:
    return {"action": action, "observation": observation,
            "parse_error": info.get("parse_error"), "tool": info.get("tool"),
            "perturbation": info.get("perturbation"),
            "observation_clean": info.get("observation_clean"),
            "reward_terms": info.get("reward_terms")}


def _record(live: _Live, last_info: dict[str, Any], agent: Agent,
            perturbation: str) -> SampleRecord:
    env = live.env.unwrapped
    task = env.task
    verdict = last_info.get("verdict") or {}
    answered = last_info.get("termination") == "answer"
    tools = [t["tool"] for t in live.turns if t["tool"]]
    usage = agent.usage(live.info)
    return SampleRecord(
        benchmark=live.item.benchmark, problem_id=task.id, sample=live.item.sample,
        gold=task.answer, correct=bool(verdict.get("correct")),
        reason=verdict.get("reason", "no_answer"), extracted=verdict.get("extracted"),
        final_text=live.turns[-1]["action"] if answered else "",
        turns=live.turns, termination=last_info.get("termination", "unknown"),
        reward=live.reward, tool_calls=len(tools),
        tool_errors=sum(t["status"] == "error" for t in tools),
        tool_timeouts=sum(t["status"] == "timeout" for t in tools),
        parse_errors=sum(t["parse_error"] is not None for t in live.turns),
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        episode_tokens=int(last_info.get("tokens", 0)),
        wall_s=round(time.perf_counter() - live.started, 4),
        perturbation=perturbation, seed=live.item.seed)


def play_episodes(items: Iterable[WorkItem], agent: Agent,
                  make_env: Callable[[str], gym.Env], *, concurrency: int = 1,
                  perturbation: str = "none") -> Iterator[SampleRecord]:
    """Yield a record for every work item as soon as its episode ends."""
    pending = iter(items)
    envs: dict[str, list[gym.Env]] = {}
    live: list[_Live] = []
    try:
        while True:
            while len(live) < max(1, concurrency):
                item = next(pending, None)
                if item is None:
                    break
                live.append(_start(item, agent, envs, make_env))
            if not live:
                return
            actions = agent.act_batch([e.observation for e in live], [e.info for e in live])
            still = []
            for episode, action in zip(live, actions, strict=True):
                observation, reward, terminated, truncated, info = episode.env.step(action)
                episode.turns.append(_turn_entry(action, observation, info))
                episode.reward += float(reward)
                episode.observation = observation
                episode.info = {**agent_info(info), **_keys(episode)}
                if terminated or truncated:
                    yield _record(episode, info, agent, perturbation)
                    _finish(episode, agent, envs)
                else:
                    still.append(episode)
            live = still
    finally:
        for episode in live:
            _finish(episode, agent, envs)
        for pool in envs.values():
            for env in pool:
                env.close()


def _keys(episode: _Live) -> dict[str, Any]:
    item = episode.item
    return {"episode_key": (item.benchmark, item.index, item.sample)}


def _start(item: WorkItem, agent: Agent, envs: dict[str, list[gym.Env]],
           make_env: Callable[[str], gym.Env]) -> _Live:
    pool = envs.setdefault(item.benchmark, [])
    env = pool.pop() if pool else make_env(item.benchmark)
    observation, info = env.reset(seed=item.seed, options={"index": item.index})
    episode = _Live(item, env, observation, {}, time.perf_counter())
    episode.info = {**agent_info(info), **_keys(episode)}
    agent.reset(observation, episode.info)
    return episode


def _finish(episode: _Live, agent: Agent, envs: dict[str, list[gym.Env]]) -> None:
    end = getattr(agent, "end_episode", None)
    if end is not None:
        end(episode.info)
    envs.setdefault(episode.item.benchmark, []).append(episode.env)
