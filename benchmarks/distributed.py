"""Ray mode: the same episodes spread over a Ray cluster (`--ray-address`).

Work items are cut into chunks; each Ray task builds its own agent (from a picklable
factory) and envs, plays its chunk through the same rollout loop as a local run
(`play_episodes`) and returns the records, which the driver writes as each chunk
completes. Results are identical in content to a local run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from agents import Agent

from .episodes import WorkItem, play_episodes
from .records import SampleRecord

CHUNK = 4


def _play_chunk(factory: Callable[[], Agent], config: Any, items: list[WorkItem]
                ) -> list[dict[str, Any]]:
    from .runner import _env_factory

    agent = factory()
    try:
        concurrency = config.concurrency if agent.concurrent_episodes else 1
        return [r.to_dict() for r in play_episodes(items, agent, _env_factory(config, {}),
                                                   concurrency=concurrency,
                                                   perturbation=config.perturbation)]
    finally:
        agent.close()


def play_on_ray(agent: Agent | Callable[[], Agent], config: Any, todo: list[WorkItem]
                ) -> Iterator[SampleRecord]:
    """Play `todo` on the Ray cluster at `config.ray_address` ("local" starts one)."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError("Ray mode needs ray: pip install 'deeptool-gym[ray]'") from exc
    if isinstance(agent, Agent):
        raise TypeError("Ray mode needs an agent factory (a picklable callable that builds "
                        "the agent on each worker), not an agent instance")
    if not ray.is_initialized():
        address = None if config.ray_address == "local" else config.ray_address
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True)
    remote = ray.remote(num_cpus=1)(_play_chunk)
    pending = [remote.remote(agent, config, todo[i:i + CHUNK])
               for i in range(0, len(todo), CHUNK)]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for data in ray.get(done[0]):
            yield SampleRecord.from_dict(data)
