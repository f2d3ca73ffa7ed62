"""The one rollout loop, shared by GRPO and the evaluation harness.

- `scheduler`: `play(episodes, backend, concurrency=...)` schedules episodes continuously
  over a `Batched` (local model) or `Served` (HTTP) backend, env steps on a thread pool,
  sampling seeds per request from (episode seed, turn).
- `token_trajectory`: an episode as the exact token ids trained on (`TokenTrajectory`).
- `token_episodes`: GRPO episodes (`TokenEpisode`, `rollout_episode`, `rollout_vector`);
  `vector_slots` plugs Gymnasium vector envs in.
- `text_episodes`: text-agent episodes for the harness (`TextEpisode`, `agent_backend`).
- `in_process` / `on_ray`: the GRPO trainer's `Rollouts` in its process or on Ray workers.
"""

from .scheduler import Batched, Episode, Request, Served, play, play_in_order, request_seed
from .text_episodes import TextEpisode, TextStep, agent_backend
from .token_episodes import TokenEpisode, play_on_vector, rollout_episode, rollout_vector
from .token_trajectory import TemplateDriftError, TokenTrajectory, tokenize_conversation

__all__ = ["Batched", "Episode", "Request", "Served", "TemplateDriftError", "TextEpisode",
           "TextStep", "TokenEpisode", "TokenTrajectory", "agent_backend", "play",
           "play_in_order", "play_on_vector", "request_seed", "rollout_episode",
           "rollout_vector", "tokenize_conversation"]
