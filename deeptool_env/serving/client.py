"""`DeepToolEnvClient`: OpenEnv's `EnvClient` typed for this server's models.

    from deeptool_env.serving import DeepToolAction, DeepToolEnvClient

    with DeepToolEnvClient(base_url="http://127.0.0.1:8000").sync() as env:
        result = env.reset(seed=0)
        result = env.step(DeepToolAction(content="<code>\\nx = 41\\n</code>"))
        result = env.step(DeepToolAction(content="<code>\\nprint(x + 1)\\n</code>"))
        print(result.observation.text, result.reward, result.done)

Pass `headers={"Authorization": f"Bearer {token}"}` when the server has a token.
"""

from __future__ import annotations

from typing import Any

from openenv.core.client_types import StepResult
from openenv.core.env_client import EnvClient

from .models import DeepToolAction, DeepToolObservation, DeepToolState


class DeepToolEnvClient(EnvClient[DeepToolAction, DeepToolObservation, DeepToolState]):
    """One WebSocket session (one sandbox session) on a `deeptool-env serve` server."""

    def _step_payload(self, action: DeepToolAction) -> dict[str, Any]:
        return action.model_dump(exclude={"metadata"})

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[DeepToolObservation]:
        fields = dict(payload.get("observation") or {})
        fields.update(reward=payload.get("reward"), done=bool(payload.get("done")))
        observation = DeepToolObservation.model_validate(fields)
        return StepResult(observation=observation, reward=observation.reward,
                          done=observation.done)

    def _parse_state(self, payload: dict[str, Any]) -> DeepToolState:
        return DeepToolState.model_validate(payload)
