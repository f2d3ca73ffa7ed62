"""The whole training pipeline through its command lines, as docs/training.md runs it:
`deeptool-train synth` (a teacher on a real HTTP server) -> `sft` -> `grpo` from the SFT
model -> `deeptool-bench run` on the GRPO model, with the random tiny Qwen2 as student."""

from __future__ import annotations

import json
import os

import pytest
import torch

from agents.cli import main as train
from tests.fake_openai_server import FakeOpenAIServer
from tests.test_synthesis import CORRECT, teacher

os.environ["HF_HUB_OFFLINE"] = "1"
torch.set_num_threads(1)
pytest.importorskip("transformers")


def test_synth_then_sft_then_grpo_then_benchmark(data_dir, tmp_path, monkeypatch, capsys):
    from benchmarks.cli import main as bench
    from tests.tiny_model import shared_tiny_model

    monkeypatch.setenv("DEEPTOOL_OPENAI_API_KEY", "sk-pipeline")
    synthesised, sft, grpo = tmp_path / "synth.jsonl", tmp_path / "sft", tmp_path / "grpo"
    with FakeOpenAIServer(teacher) as server:
        assert train(["synth", "--train-data", "aime_1983_2023", "--data-dir",
                      str(data_dir), "--base-url", server.base_url, "--out",
                      str(synthesised), "--limit", "5", "--progress", "false"]) == 0
    kept = [json.loads(line) for line in synthesised.read_text().splitlines()]
    assert {r["task_id"] for r in kept} == CORRECT

    assert train(["sft", "--model", str(shared_tiny_model()), "--train-file",
                  str(synthesised), "--output-dir", str(sft), "--batch-size", "3",
                  "--epochs", "2", "--learning-rate", "1e-3"]) == 0
    assert train(["grpo", "--model", str(sft / "final"), "--train-data",
                  "procedural:modpow", "--output-dir", str(grpo), "--group-size", "2",
                  "--prompts-per-step", "1", "--max-turns", "1", "--max-tokens-per-turn",
                  "8", "--max-steps", "1", "--filter-void-turns", "false"]) == 0
    capsys.readouterr()
    assert bench(["run", "--model", str(grpo / "final"), "--benchmarks", "procedural",
                  "--limit", "2", "--k", "1", "--max-turns", "1", "--max-new-tokens", "8",
                  "--out", str(tmp_path / "results"), "--quiet"]) == 0
    records = [json.loads(line) for line in
               (tmp_path / "results" / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 2
    assert (grpo / "final" / "config.json").is_file()
