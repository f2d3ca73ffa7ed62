"""SFT cold start: trajectory files, masking, learning, resume, LoRA merge and the CLI,
on the random tiny Qwen2 and trajectories played for real through the env."""

from __future__ import annotations

import json
import os

import gymnasium as gym
import pytest
import torch

from agents.training.sft import SFTConfig, TrajectoryFileError, read_trajectories
from tests.scripted_agents import good_solver

os.environ["HF_HUB_OFFLINE"] = "1"
torch.set_num_threads(1)
pytest.importorskip("transformers")


def played_trajectories(count: int, seed: int = 0) -> list[dict]:
    """Episodes of the scripted nth-prime solver, recorded as the env's messages."""
    env = gym.make("DeepTool-Math-v0", tasks="procedural:nth_prime", max_turns=4)
    records = []
    try:
        for episode in range(count):
            observation, start = env.reset(seed=seed + episode)
            memory: dict = {}
            done, turn = False, 0
            while not done:
                observation, _, terminated, truncated, info = env.step(
                    good_solver(observation, turn, memory))
                turn += 1
                done = terminated or truncated
            assert info["verdict"]["correct"]
            records.append({"id": start["task_id"], "messages": env.unwrapped.messages})
    finally:
        env.close()
    return records


@pytest.fixture(scope="module")
def trajectory_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sft") / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in played_trajectories(12)))
    return path


def sft_config(tiny, trajectory_file, out, **overrides) -> SFTConfig:
    fields = {"model": tiny, "train_file": str(trajectory_file), "output_dir": str(out),
              "batch_size": 4, "epochs": 1, "learning_rate": 3e-3, "warmup_ratio": 0.0,
              "eval_fraction": 0.25, "seed": 1}
    return SFTConfig(**{**fields, **overrides})


def test_trajectory_files_are_validated_with_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = {"messages": [{"role": "user", "content": "q"},
                         {"role": "assistant", "content": "<answer>1</answer>"}]}
    cases = {"{not json": "not JSON", json.dumps({"turns": []}): "`messages` list",
             json.dumps({"messages": [{"role": "robot", "content": "x"}]}): "message 0",
             json.dumps({"messages": [{"role": "user", "content": "q"}]}): "no assistant"}
    for line, message in cases.items():
        path.write_text(json.dumps(good) + "\n\n" + line + "\n")
        with pytest.raises(TrajectoryFileError, match=f"bad.jsonl:3: .*{message}"):
            read_trajectories(path)
    with pytest.raises(FileNotFoundError, match="deeptool-train synth"):
        read_trajectories(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="train_file is required"):
        SFTConfig()
    with pytest.raises(ValueError, match="did you mean 'learning_rate'"):
        SFTConfig.from_dict({"train_file": "x", "learning_rat": 1})


def test_only_assistant_tokens_are_trained_on(tiny, trajectory_file, tmp_path):
    from agents.training.sft import SFTTrainer

    trainer = SFTTrainer(sft_config(tiny, trajectory_file, tmp_path))
    example = trainer.train_data.examples[0]
    tokenizer = trainer.tokenizer
    trained = tokenizer.decode([t for t, m in zip(example.ids, example.loss_mask,
                                                  strict=True) if m])
    masked = tokenizer.decode([t for t, m in zip(example.ids, example.loss_mask,
                                                 strict=True) if not m])
    assert "sympy.prime(" in trained and "\\boxed{" in trained
    assert "<output>" in masked and "<output>" not in trained and "Problem" in masked
    assert len(trainer.train_data) == 9 and len(trainer.eval_data) == 3
    trainer.close()


def test_sft_learns_the_trajectories_and_resumes_exactly(tiny, trajectory_file, tmp_path):
    from agents.training.sft import SFTTrainer

    straight = SFTTrainer(sft_config(tiny, trajectory_file, tmp_path / "a", epochs=4,
                                     save_every=5, keep_checkpoints=3))
    history = straight.train()
    straight.close()
    first, last = history[0], history[-1]
    assert len(history) == 1 + 4 * 3 and last["step"] == 12
    assert last["eval_loss"] < 0.7 * first["eval_loss"]  # held-out NLL falls
    assert all(h["tokens"] > 0 and h["sequences"] in (1, 4) for h in history[1:])
    lines = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == list(range(13))

    midway = tmp_path / "a" / "checkpoints" / "step-00000005"
    resumed = SFTTrainer(sft_config(tiny, trajectory_file, tmp_path / "b", epochs=4,
                                    resume_from=str(midway)))
    assert resumed.step == 5
    resumed.train()
    for name, value in straight.model.state_dict().items():
        assert torch.allclose(value, resumed.model.state_dict()[name], atol=1e-6), name
    resumed.close()


def test_lora_sft_writes_a_merged_model_the_agents_load(tiny, trajectory_file, tmp_path):
    from agents.models import load_model
    from agents.training.sft import SFTTrainer

    trainer = SFTTrainer(sft_config(tiny, trajectory_file, tmp_path, finetune="lora",
                                    lora_r=4, learning_rate=1e-2, max_steps=2))
    base = {k: v.clone() for k, v in trainer.model.get_base_model().state_dict().items()
            if "lora" not in k}
    trainer.train()
    trainer.close()
    merged, _ = load_model(tmp_path / "final")
    changed = [k for k, v in merged.state_dict().items()
               if k.replace(".weight", ".base_layer.weight") in base
               and not torch.equal(v, base[k.replace(".weight", ".base_layer.weight")])]
    assert changed  # the adapter was merged into the saved weights
    assert not any("lora" in k for k in merged.state_dict())


def test_cli_trains_and_reports(tiny, trajectory_file, tmp_path, capsys):
    from agents.cli import main

    assert main(["sft", "--model", tiny, "--train-file", str(trajectory_file),
                 "--output-dir", str(tmp_path), "--max-steps", "2", "--batch-size", "4",
                 "--max-length", "494"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1])["step"] == 2
    assert "longer than max_length dropped" in err and (tmp_path / "final").is_dir()
    with pytest.raises(SystemExit):
        main(["sft", "--train-file", str(tmp_path / "none.jsonl"), "--model", tiny])


def greedy_accuracy(model, tokenizer, seeds: list[int]) -> float:
    """Share of held-out nth-prime episodes the policy solves with greedy decoding."""
    from agents.generation import HFGenerator, Sampling
    from agents.rollout import Batched, TokenEpisode, play_in_order
    from agents.rollout.in_process import env_options
    from agents.training.grpo.config import GRPOConfig

    config = GRPOConfig(max_turns=3, max_tokens_per_turn=64)
    envs = [gym.make(config.env, **env_options(config, tokenizer, "procedural:nth_prime"))
            for _ in seeds]
    generator, greedy = HFGenerator(model, tokenizer), Sampling(64, temperature=0)
    backend = Batched(lambda requests: [g.ids for g in generator.generate(
        [r.prompt for r in requests], greedy)])
    played = play_in_order([TokenEpisode(env, tokenizer, seed=s)
                            for env, s in zip(envs, seeds, strict=True)],
                           backend, concurrency=len(seeds))
    for env in envs:
        env.close()
    return sum(t.outcome for t in played) / len(played)


@pytest.mark.slow
def test_cold_start_teaches_smollm2_the_protocol(tmp_path):
    """SmolLM2-135M never writes the action tags; after SFT on 24 played trajectories of
    one family it solves held-out problems of that family (about 3 min on 2 cores)."""
    from agents.training.sft import SFTTrainer

    pytest.importorskip("gguf")
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in played_trajectories(24)))
    trainer = SFTTrainer(SFTConfig(train_file=str(path), output_dir=str(tmp_path / "run"),
                                   epochs=2, batch_size=8, learning_rate=5e-5,
                                   warmup_ratio=0.1))
    seeds = list(range(1000, 1012))
    before = greedy_accuracy(trainer.model, trainer.tokenizer, seeds)
    trainer.train()
    after = greedy_accuracy(trainer.model, trainer.tokenizer, seeds)
    trainer.close()
    print(f"held-out nth-prime accuracy: {before:.2f} before SFT, {after:.2f} after")
    assert before <= 0.25 and after >= 0.75


def test_two_rank_ddp_matches_one_process(tiny, trajectory_file, tmp_path):
    """`torchrun --nproc-per-node 2` (gloo on CPU) trains each rank on half of every batch
    and ends with the weights of a single process on the whole batch."""
    import subprocess
    import sys

    from safetensors.torch import load_file

    args = ["-m", "agents.cli", "sft", "--model", tiny, "--train-file",
            str(trajectory_file), "--batch-size", "8", "--epochs", "2",
            "--learning-rate", "3e-3", "--warmup-ratio", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for ranks, out in ((1, "one"), (2, "two")):
        launcher = [sys.executable] if ranks == 1 else [
            sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
        subprocess.run([*launcher, *args, "--output-dir", str(tmp_path / out)], env=env,
                       check=True, capture_output=True, timeout=300)
    one = load_file(tmp_path / "one" / "final" / "model.safetensors")
    two = load_file(tmp_path / "two" / "final" / "model.safetensors")
    assert max(float((one[k] - two[k]).abs().max()) for k in one) < 1e-4
    steps = [json.loads(line) for line in (tmp_path / "two" / "metrics.jsonl").open()]
    assert [s["sequences"] for s in steps] == [8, 4, 8, 4]  # 12 trajectories, batch 8
