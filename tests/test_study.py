"""The learning study's plumbing on the tiny random Qwen2: every stage runs, writes its
files, resumes without redoing work, and the statistics are right on known data.

The study itself (the embedded SmolLM2, about 2 hours) is `configs/study-cpu.yaml`; a
smaller run of the real model is the slow test at the end.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from agents.training.study import (
    StudyConfig,
    bootstrap_mean,
    build_report,
    paired_difference,
    run_study,
)
from agents.training.study.tasks import split_tasks, write_task_files
from deeptool_env.settings import SettingsError


def small(tmp_path, model: str | None, **overrides) -> StudyConfig:
    settings = dict(
        model=model, families=("modpow", "nth_prime"), train_problems=16,
        validation_problems=4, heldout_problems=4, sft_trajectories=8, sft_max_steps=1,
        sft_check_every=1, sft_batch_size=4, sft_target=1.0, arms=("B",), seeds=(0,),
        grpo_steps=2, eval_every=2, group_size=2, prompts_per_step=2, eval_samples=1,
        max_tokens_per_turn=160, max_tokens_per_episode=2048, lora_target_modules="all-linear",
        work_dir=str(tmp_path / "work"), results_dir=str(tmp_path / "results"),
        progress=False, bootstrap=200)
    settings.update(overrides)
    return StudyConfig(**settings)


def test_bootstrap_interval_covers_the_mean_and_pairs_cancel_shared_noise():
    values = [1.0] * 30 + [0.0] * 70
    interval = bootstrap_mean(values, resamples=2000)
    assert interval.value == pytest.approx(0.3)
    assert interval.low < 0.3 < interval.high and interval.high - interval.low < 0.25
    rng = np.random.default_rng(1)
    before = rng.random(64)
    after = before + 0.05  # every problem up by 5 points
    difference = paired_difference(after, before, resamples=500)
    assert difference.value == pytest.approx(0.05)
    assert difference.excludes_zero() and difference.high - difference.low < 1e-9
    with pytest.raises(ValueError, match="same problems"):
        paired_difference([1.0], [1.0, 0.0])


def test_splits_are_disjoint_and_the_config_refuses_shared_seeds(tmp_path):
    config = small(tmp_path, None)
    paths = write_task_files(config)
    problems = [set(json.loads(line)["problem"] for line in paths[s].read_text().splitlines())
                for s in ("train", "validation", "heldout")]
    assert not (problems[0] & problems[1] or problems[0] & problems[2]
                or problems[1] & problems[2])
    row = json.loads(paths["heldout"].read_text().splitlines()[0])
    assert row["family"] in config.families and "params" in row
    assert len(problems[0]) == 16 and len(problems[2]) == 4
    assert [t.id for t in split_tasks(config, "heldout")] == [
        json.loads(line)["id"] for line in paths["heldout"].read_text().splitlines()]
    with pytest.raises(SettingsError, match="differ"):
        small(tmp_path, None, heldout_seed=101)
    with pytest.raises(SettingsError, match="arms"):
        small(tmp_path, None, arms=("D",))
    with pytest.raises(SettingsError, match="multiple"):
        small(tmp_path, None, grpo_steps=3, eval_every=2)


def test_the_whole_study_runs_and_resumes_on_the_tiny_model(tmp_path, tiny):
    config = small(tmp_path, tiny)
    summary = run_study(config)
    results = tmp_path / "results"
    state = json.loads((results / "state.json").read_text())
    assert {"synth", "sft", "start_eval", "B-s0"} <= set(state)
    assert state["synth"]["kept"] > 0 and state["sft"]["stopped_at"] == 1
    evals = {p.stem for p in (results / "evals").glob("*.json")}
    for condition in ("clean", "adversarial", "tool_off"):
        assert f"start-{condition}" in evals and f"B-s0-step002-{condition}" in evals
    episodes = json.loads((results / "evals" / "start-tool_off.json").read_text())["episodes"]
    assert len(episodes) == 4 and all(e["tool_calls"] == 0 for e in episodes)
    assert (results / "runs" / "B-s0.metrics.jsonl").exists()
    assert (results / "curves.png").stat().st_size > 1000
    table = (results / "results.md").read_text()
    assert "SFT start" in table and "B-s0" in table
    assert [row["run"] for row in summary["runs"]] == ["B-s0"]
    assert summary["runs"][0]["finished"] and set(summary["arm_b_beats_start"]) == {"B-s0"}
    assert not (tmp_path / "work" / "grpo" / "B-s0" / "final").exists()  # no full models kept

    # Rerun: nothing is redone. Then lose B's end and state: only B's last step reruns.
    stamps = {p.name: p.stat().st_mtime_ns for p in (results / "evals").glob("*.json")}
    run_study(config)
    assert stamps == {p.name: p.stat().st_mtime_ns for p in (results / "evals").glob("*.json")}
    del state["B-s0"]
    (results / "state.json").write_text(json.dumps(state))
    for path in (results / "evals").glob("B-s0-step002-*.json"):
        path.unlink()
    run_study(config)
    redone = {p.name for p in (results / "evals").glob("*.json")
              if stamps.get(p.name) != p.stat().st_mtime_ns}
    assert redone == {f"B-s0-step002-{c}.json" for c in ("clean", "adversarial", "tool_off")}
    assert build_report(config)["runs"][0]["finished"]


@pytest.mark.parametrize("name", ["study-cpu", "study-gpu"])
def test_the_shipped_configs_load(name):
    from pathlib import Path

    config = StudyConfig.from_yaml(Path(__file__).parent.parent / "configs" / f"{name}.yaml")
    assert set(config.arms) == {"A", "B", "C"} and len(config.seeds) >= 2
    assert config.heldout_problems >= 64


@pytest.mark.slow
def test_a_small_study_of_the_embedded_model(tmp_path):
    """The real model through every stage at a tenth of the CPU study (about 30 min):
    the SFT start must have learned the protocol (tool calls on held-out problems), and
    the report must hold a finished row for arm B."""
    pytest.importorskip("peft")
    config = small(tmp_path, None, families=("modpow", "nth_prime"), train_problems=256,
                   validation_problems=16, heldout_problems=16, sft_trajectories=96,
                   sft_max_steps=16, sft_check_every=8, sft_target=0.2, grpo_steps=4,
                   eval_every=4, group_size=4, prompts_per_step=2, eval_samples=1,
                   max_tokens_per_turn=96, max_tokens_per_episode=768,
                   lora_target_modules=StudyConfig().lora_target_modules)
    summary = run_study(config)
    start = json.loads((tmp_path / "results" / "evals" / "start-clean.json").read_text())
    assert sum(e["tool_calls"] for e in start["episodes"]) >= 8
    assert summary["runs"][0]["finished"]


def test_sft_data_longer_than_the_turn_budget_is_refused(tmp_path, tiny):
    from agents.models import load_model
    from agents.training.study.trainers import check_turn_budget

    _, tokenizer = load_model(tiny)
    data = tmp_path / "t.jsonl"
    turn = "<think>x</think><code>\n" + "print(1)\n" * 40 + "</code>"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "p"},
                                             {"role": "assistant", "content": turn}]}) + "\n")
    check_turn_budget(str(data), tokenizer, 10_000)
    with pytest.raises(SettingsError, match="max_tokens_per_turn=16"):
        check_turn_budget(str(data), tokenizer, 16)
