"""`DeepToolOpenEnv`: one `DeepTool-*-v0` Gymnasium env behind OpenEnv's `Environment`.

OpenEnv's server makes one of these per WebSocket session (and a throw-away one per plain
HTTP request); the Gymnasium env, and with it the sandbox session, is made on the first
`reset`, so the throw-away ones (`/metadata`, `/state`, stateless `/step`) cost nothing.
Every call into the Gymnasium env holds one lock: the session's executor thread and MCP
tool calls may both reach it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import gymnasium as gym
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import EnvironmentMetadata

from ..registration import register_envs
from .models import DeepToolAction, DeepToolObservation, DeepToolState, TurnAudit
from .tools import build_tool_server


class EpisodeError(RuntimeError):
    """A request that the session cannot serve now (no episode, session closed)."""


NO_EPISODE = ("no episode in this session: send reset first. Over plain HTTP every /step "
              "gets a fresh env (OpenEnv's stateless routes); play episodes over the "
              "WebSocket /ws (EnvClient) instead")


def observation_from_step(text: str, reward: float, terminated: bool, truncated: bool,
                          info: dict[str, Any]) -> DeepToolObservation:
    """Map one `env.step` result (and its `info`) onto the typed wire observation."""
    tool = info.get("tool") or {}
    audit = None
    if tool:
        audit = TurnAudit(perturbed=bool(info.get("perturbed")),
                          perturbation=info.get("perturbation"),
                          observation_clean=info.get("observation_clean", ""),
                          real_status=tool.get("status", ""))
    verdict = info.get("verdict") or {}
    return DeepToolObservation(
        text=text, reward=float(reward), done=terminated or truncated,
        terminated=terminated, truncated=truncated, termination=info.get("termination"),
        turn=info.get("turn", 0), action_kind=info.get("action_kind", "invalid"),
        parse_error=info.get("parse_error"),
        reward_terms={k: float(v) for k, v in (info.get("reward_terms") or {}).items()},
        tool_status=tool.get("shown_status"), tool_wall_ms=tool.get("wall_ms"),
        tokens=info.get("tokens", 0), correct=verdict.get("correct"),
        turn_rewards=info.get("turn_rewards"), audit=audit)


class DeepToolOpenEnv(Environment[DeepToolAction, DeepToolObservation, DeepToolState]):
    """A `DeepTool-*-v0` env as an OpenEnv environment (one episode at a time)."""

    SUPPORTS_CONCURRENT_SESSIONS = True  # each instance has its own sandbox session

    def __init__(self, env_id: str = "DeepTool-Math-v0",
                 env_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self._env: gym.Env | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._tools = None
        self._state = DeepToolState(env_id=env_id)

    # -- OpenEnv API ----------------------------------------------------------------------

    def reset(self, seed: int | None = None, episode_id: str | None = None,
              **options: Any) -> DeepToolObservation:
        """Start an episode; `options` are the env's reset options (task_id, index,
        perturbations)."""
        with self._lock:
            env = self._gym_env()
            try:
                text, info = env.reset(seed=seed, options=options or None)
            except Exception:
                # Gymnasium's passive checker breaks the next step after a failed first
                # reset: start the next reset from a fresh env.
                self._env = None
                env.close()
                raise
            self._state = DeepToolState(env_id=self.env_id, episode_id=episode_id,
                                        task_id=info.get("task_id"), done=False)
        return DeepToolObservation(text=text, tokens=info.get("tokens", 0),
                                   task_id=info.get("task_id"),
                                   benchmark=info.get("benchmark"))

    def step(self, action: DeepToolAction, timeout_s: float | None = None,
             **kwargs: Any) -> DeepToolObservation:
        """Play one assistant turn (`timeout_s` is ignored: the env's tool timeout rules)."""
        if not isinstance(action, DeepToolAction):
            raise EpisodeError(f"expected a DeepToolAction {{'content': str}}, got "
                               f"{type(action).__name__}")
        return self.play(action.content)

    def play(self, content: str) -> DeepToolObservation:
        """Step the episode with one assistant turn (shared by `step` and the MCP tools)."""
        with self._lock:
            if self._closed:
                raise EpisodeError("this session is closed (its client left or it idled "
                                   "out); open a new connection")
            if self._env is None or self._state.done:
                raise EpisodeError(NO_EPISODE)
            text, reward, terminated, truncated, info = self._env.step(content)
            obs = observation_from_step(text, reward, terminated, truncated, info)
            self._state.step_count += 1
            self._state.total_reward += obs.reward or 0.0
            self._state.done = obs.done
        return obs

    @property
    def state(self) -> DeepToolState:
        return self._state.model_copy()

    def get_metadata(self) -> EnvironmentMetadata:
        from .. import __version__

        return EnvironmentMetadata(
            name=self.env_id, version=__version__, author="DeepTool Gym",
            description="Tool-integrated math reasoning: each step is one assistant turn; "
                        "code runs in the episode's sandbox session, an answer is graded. "
                        "Play episodes over the WebSocket /ws (stateful).")

    def close(self) -> None:
        """Release the Gymnasium env and its sandbox session; safe to call twice."""
        with self._lock:
            self._closed = True
            if self._env is not None:
                self._env.close()
                self._env = None

    # -- MCP (OpenEnv lists and calls the tools of `mcp_server`) --------------------------

    @property
    def mcp_server(self) -> Any:
        """A FastMCP server with the tools `python(code)` and `answer(text)`, made on
        first use."""
        if self._tools is None:
            self._tools = build_tool_server(self)
        return self._tools

    async def play_async(self, content: str) -> DeepToolObservation:
        """`play` off the event loop (MCP tool calls arrive on it)."""
        return await asyncio.to_thread(self.play, content)

    # -- pieces ---------------------------------------------------------------------------

    def _gym_env(self) -> gym.Env:
        if self._closed:
            raise EpisodeError("this session is closed; open a new connection")
        if self._env is None:
            register_envs()
            self._env = gym.make(self.env_id, **self.env_kwargs)
        return self._env
