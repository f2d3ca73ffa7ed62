"""Trajectory synthesis with a local transformers teacher (`llm="hf"`): the tiny random
Qwen2 of `tests/tiny_model.py` cannot solve anything, so this proves the plumbing (prompts
through a real chat template, batched generation without stop strings, the replay and
the rejects file), not the quality."""

from __future__ import annotations

import json

import pytest

from agents.training.synthesis import SynthesisConfig, synthesize

KNOWN_REASONS = ("parse:", "code_error", "wrong_answer", "too_long", "protocol")


def test_local_teacher_runs_end_to_end_and_rejects_with_reasons(data_dir, tmp_path):
    pytest.importorskip("transformers")
    import torch

    from tests.tiny_model import shared_tiny_model

    torch.set_num_threads(1)
    out = tmp_path / "local.jsonl"
    config = SynthesisConfig(train_data="aime_1983_2023", data_dir=str(data_dir),
                             out=str(out), llm="hf", model=str(shared_tiny_model()),
                             limit=2, batch_size=2, max_new_tokens=24, progress=False)
    summary = synthesize(config)
    assert summary.teacher_calls == 2 and summary.kept == 0
    rejects = [json.loads(line) for line in open(summary.rejects, encoding="utf-8")]
    assert [r["task_id"] for r in rejects] == ["aime_hist-1983-01", "aime_hist-1983-02"]
    for reject in rejects:
        assert reject["reason"].startswith(KNOWN_REASONS) and reject["detail"]
    assert out.exists() and out.read_text() == ""
    manifest = json.loads(out.with_name("local.manifest.json").read_text())
    assert manifest["settings"]["llm"] == "hf"
