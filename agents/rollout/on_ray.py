"""GRPO rollouts spread over Ray workers (`GRPOConfig.rollout_workers > 0`).

`RayRollouts` spreads the (task index, seed) jobs of a step over Ray actors, each a
`RolloutWorker` with its own copy of the policy, envs and generator (a `Rollouts`, so
each worker runs the same rollout loop): the jobs are cut into contiguous chunks, one per
worker, and the results come back in job order. Sampling seeds are per request, derived
from the job seeds, so a seeded run repeats whatever the worker count, and a resumed run
too (the job seeds come from the checkpointed task RNG).

Weights: the workers are built from the trainer's own model (config, generation config,
LoRA config and state dict shipped once through the object store), so a model object
handed to the trainer works as well as a path. After each update the trainer `ray.put`s
the parameters it trains (all of them in full fine-tuning, only the adapter with LoRA)
once, under a new version number; every worker loads them before its next rollouts and
refuses to play with another version than the trainer's.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import torch

from .in_process import EnvPools, Job, Rollouts
from .token_trajectory import TokenTrajectory


def trained_tensors(model: Any) -> dict[str, torch.Tensor]:
    """The parameters the optimiser changes, on the CPU (a LoRA model: the adapter)."""
    return {name: p.detach().cpu() for name, p in model.named_parameters() if p.requires_grad}


def policy_spec(model: Any, tokenizer: Any) -> dict[str, Any]:
    """What a worker needs to rebuild `model` exactly: configs, weights and tokenizer."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    peft = copy.deepcopy(model.peft_config["default"]) if base is not model else None
    return {"config": base.config, "generation_config": base.generation_config,
            "dtype": next(model.parameters()).dtype, "peft_config": peft,
            "state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "tokenizer": tokenizer}


def build_policy(spec: dict[str, Any], device: str) -> Any:
    """The model of `policy_spec`, in eval mode on `device`."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(spec["config"], dtype=spec["dtype"])
    model.generation_config = spec["generation_config"]
    if spec["peft_config"] is not None:
        from peft import get_peft_model

        model = get_peft_model(model, spec["peft_config"])
    model.load_state_dict(spec["state"])
    return model.to(device).eval()


class RolloutWorker:
    """A Ray actor: a copy of the policy that plays chunks of jobs at a weight version."""

    def __init__(self, config: Any, spec: dict[str, Any], seed: int) -> None:
        cpus = int(config.rollout_worker_cpus)
        torch.set_num_threads(max(1, cpus))
        device = "cuda" if config.rollout_worker_gpus > 0 and torch.cuda.is_available() \
            else "cpu"
        self.model = build_policy(spec, device)
        self.rollouts = Rollouts(config, self.model, spec["tokenizer"], seed=seed)
        self.version = 0

    def ready(self) -> bool:
        return True

    def load(self, version: int, tensors: dict[str, torch.Tensor]) -> int:
        """Copy the trainer's updated parameters in; returns the new version."""
        params = dict(self.model.named_parameters())
        unknown = sorted(set(tensors) - set(params))
        if unknown:
            raise KeyError(f"the worker's policy has no parameters {unknown[:3]}")
        with torch.no_grad():
            for name, tensor in tensors.items():
                params[name].copy_(tensor)
        self.rollouts.sync_weights(self.model)
        self.version = version
        return version

    def play(self, pool: str, jobs: list[Job], version: int) -> list[TokenTrajectory]:
        if version != self.version:
            raise RuntimeError(f"rollout worker has weights version {self.version}, "
                               f"the trainer {version}: refusing to play with stale weights")
        return self.rollouts.play(pool, jobs)

    def weights(self, names: list[str] | None = None) -> dict[str, torch.Tensor]:
        """The worker's current tensors (all, or `names`), to check the sync."""
        state = self.model.state_dict()
        return {k: v.detach().cpu() for k, v in state.items() if names is None or k in names}

    def apply(self, fn: Any) -> Any:
        """`fn(worker)` run on the worker: a probe for tests and debugging."""
        return fn(self)

    def close(self) -> None:
        self.rollouts.close()


def split(jobs: list[Job], parts: int) -> list[list[Job]]:
    """`jobs` in `parts` contiguous chunks of near-equal size (empty ones dropped)."""
    size, extra = divmod(len(jobs), parts)
    bounds = [i * size + min(i, extra) for i in range(parts + 1)]
    return [jobs[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def warn_if_short(resources: dict[str, float], config: Any) -> None:
    """Warn when the cluster lacks the workers' CPUs or GPUs (Ray would wait for them
    silently, e.g. for an autoscaler)."""
    for kind, each in (("CPU", config.rollout_worker_cpus), ("GPU", config.rollout_worker_gpus)):
        need = each * config.rollout_workers
        if need > resources.get(kind, 0.0):
            warnings.warn(f"{config.rollout_workers} rollout workers need {need:g} {kind}s, "
                          f"the Ray cluster has {resources.get(kind, 0.0):g}: they will wait "
                          "for resources (lower rollout_workers or rollout_worker_cpus)",
                          stacklevel=3)


class RayRollouts(EnvPools):
    """Plays jobs on `config.rollout_workers` Ray actors. Connects to (or starts) Ray at
    `config.ray_address`; a Ray instance it started is shut down by `close()`."""

    def __init__(self, config: Any, model: Any, tokenizer: Any, *, seed: int) -> None:
        super().__init__(config, tokenizer)  # the trainer's own envs: task lists only
        try:
            import ray
        except ImportError as exc:
            raise ImportError("rollout_workers > 0 needs Ray: "
                              "pip install 'deeptool-gym[ray]'") from exc
        self.ray, self.workers = ray, []
        self.version, self._loads = 0, []
        self.started = not ray.is_initialized()
        if self.started:
            ray.init(address=config.ray_address, include_dashboard=False,
                     log_to_driver=False)
        try:
            warn_if_short(ray.cluster_resources(), config)
            actor = ray.remote(num_cpus=config.rollout_worker_cpus,
                               num_gpus=config.rollout_worker_gpus)(RolloutWorker)
            spec = ray.put(policy_spec(model, tokenizer))
            self.workers = [actor.remote(config, spec, seed + 1000 * i)
                            for i in range(config.rollout_workers)]
            ray.get([worker.ready.remote() for worker in self.workers])  # built, or raise
        except BaseException:
            self.close(graceful=False)
            raise

    def play(self, pool: str, jobs: list[Job]) -> list[TokenTrajectory]:
        played = [worker.play.remote(pool, chunk, self.version)
                  for worker, chunk in zip(self.workers, split(jobs, len(self.workers)),
                                           strict=False)]
        results = self.ray.get(self._loads + played)[len(self._loads):]
        self._loads = []
        return [trajectory for chunk in results for trajectory in chunk]

    def sync_weights(self, model: Any) -> None:
        """Put the trained parameters in the object store once, as the next version; each
        worker loads them before anything else it is asked (actor calls run in order)."""
        self.version += 1
        tensors = self.ray.put(trained_tensors(model))
        self._loads += [worker.load.remote(self.version, tensors) for worker in self.workers]

    def close(self, graceful: bool = True) -> None:
        """Close the workers' envs (unless not `graceful`: after a failed start), end the
        actors, and Ray when it was started here."""
        super().close()
        try:
            if graceful:
                self.ray.get([worker.close.remote() for worker in self.workers], timeout=60)
        except Exception as exc:  # a dead or stuck worker: it is killed below
            warnings.warn(f"a rollout worker did not close cleanly: {exc!r}", stacklevel=2)
        finally:
            for worker in self.workers:
                self.ray.kill(worker)
            self.workers = []
            if self.started:
                self.ray.shutdown()
