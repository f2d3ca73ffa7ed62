"""Scripted agents for the nth-prime procedural family: each plays one strategy."""

from __future__ import annotations

import re

import gymnasium as gym

import deeptool_env  # noqa: F401  (registers the ids)

_N = re.compile(r"p_\{(\d+)\}")
_NUMBER = re.compile(r"-?\d+")


def _code(problem: str) -> str:
    n = _N.search(problem).group(1)
    return f"<think>sympy knows primes</think><code>import sympy\nprint(sympy.prime({n}))</code>"


def _shown_value(observation: str) -> str | None:
    numbers = _NUMBER.findall(observation.replace("<output>", "").replace("</output>", ""))
    return numbers[-1] if numbers else None


def good_solver(observation: str, turn: int, memory: dict) -> str:
    """One tool call, then answer what it printed."""
    if turn == 0:
        return _code(observation)
    return f"<answer>\\boxed{{{_shown_value(observation)}}}</answer>"


trusting_agent = good_solver  # under perturbations it believes whatever it is shown


def recovering_agent(observation: str, turn: int, memory: dict) -> str:
    """Runs the code again until two shown results agree, then answers."""
    if turn == 0:
        memory["code"] = _code(observation)
        return memory["code"]
    value = _shown_value(observation)
    suspicious = ("<output>" not in observation or "Error" in observation
                  or "Note" in observation or value is None)
    if not suspicious and value == memory.get("last") or turn >= 5:
        return f"<answer>\\boxed{{{value or memory.get('last')}}}</answer>"
    if not suspicious:
        memory["last"] = value
    return memory["code"]


def tool_spammer(observation: str, turn: int, memory: dict) -> str:
    """Calls the tool every turn with new trivial code and never answers."""
    return f"<think>more tools</think><code>print({turn} * 7 + 1)</code>"


def answer_guesser(observation: str, turn: int, memory: dict) -> str:
    """Answers at once without computing."""
    return "<think>looks like 101</think><answer>\\boxed{101}</answer>"


def play(agent, episodes: int, perturbation: str = "none", seed: int = 0,
         **options) -> list[float]:
    """Total reward of `agent` over `episodes` nth-prime episodes."""
    options = {"tasks": "procedural:nth_prime", "max_turns": 8, **options}
    env = gym.make("DeepTool-Math-v0", perturbation=perturbation, **options)
    totals = []
    try:
        for episode in range(episodes):
            observation, _ = env.reset(seed=seed + episode)
            memory: dict = {}
            total, done, turn = 0.0, False, 0
            while not done:
                observation, reward, terminated, truncated, _ = env.step(
                    agent(observation, turn, memory))
                total += reward
                turn += 1
                done = terminated or truncated
            totals.append(total)
    finally:
        env.close()
    return totals
