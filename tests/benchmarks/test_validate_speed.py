"""Leaderboard validation of a full six-benchmark k=8 submission, cold.

1305 problems x 8 samples = 10,440 samples, each a two-turn trajectory (a code call whose
output shows a value, then `<think>..</think><answer>\\boxed{v}</answer>`). Per problem, a
seeded mix of answers: the gold, the gold of another problem of the same benchmark (LaTeX
that often needs sympy), an integer off by one, and no answer. The `correct` flags are the
grader's own verdicts and the token counters fit the trajectories (`episode_tokens` is the
env's count, `completion_tokens` a quarter of the actions' bytes), so the submission is
valid. Each round starts cold: empty grader cache and a fresh worker pool (its start-up is
timed too). Goal: under 60 s on 2 cores.

Run with `python -m pytest tests/benchmarks/test_validate_speed.py --benchmark-only`.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from benchmarks.runner import SIX_BENCHMARKS
from deeptool_env.env_config import approx_token_count
from deeptool_env.grading import clear_cache, grade_many, shutdown_pool
from deeptool_env.protocol import USER_TEMPLATE, system_prompt
from deeptool_env.tasks import BENCHMARK_SHA256, Task, canonical_name, load_tasks
from leaderboard.submission import Submission
from leaderboard.validate import validate_submission

K = 8
MAX_TURNS = 8


def _data_dir() -> Path:
    env = os.environ.get("DEEPTOOL_DATA_DIR")
    root = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if not (root / "benchmarks").is_dir():
        pytest.skip(f"benchmark data not found at {root}; set DEEPTOOL_DATA_DIR")
    return root


def _answer(task: Task, others: list[Task], rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.5:
        return task.answer
    if roll < 0.75:
        return rng.choice(others).answer
    if roll < 0.93:
        text = task.answer.strip()
        return str(int(text) + rng.choice((-1, 1))) if text.lstrip("-").isdigit() else "17"
    return None


def _record(task: Task, sample: int, value: str | None) -> dict[str, Any]:
    shown = value if value is not None else "nan"
    final = ("<think>The computation above gives the value; checking the constraints once "
             "more, it is consistent.</think>"
             + (f"<answer>\\boxed{{{value}}}</answer>" if value is not None
                else "<answer>I could not finish.</answer>"))
    tool = {"status": "ok", "shown_status": "ok", "wall_ms": 12.5, "exit_code": 0,
            "truncated": False}
    turns = [
        {"action": "<think>Let me compute it.</think><code>import sympy\nprint(result)</code>",
         "observation": f"<output>\n{shown}\n</output>", "parse_error": None, "tool": tool,
         "perturbation": None, "reward_terms": {}},
        {"action": final, "observation": "", "parse_error": None, "tool": None,
         "perturbation": None, "reward_terms": {}},
    ]
    prompt = f"{system_prompt(MAX_TURNS)}\n\n{USER_TEMPLATE.format(problem=task.problem)}"
    episode = approx_token_count(prompt) + sum(approx_token_count(t["action"])
                                               + approx_token_count(t["observation"])
                                               for t in turns)
    completion = sum(len(t["action"].encode()) // 4 for t in turns)
    return {"benchmark": task.benchmark, "problem_id": task.id, "sample": sample,
            "gold": task.answer, "correct": False, "reason": "mismatch", "extracted": None,
            "final_text": final, "turns": turns, "termination": "answer", "reward": 0.0,
            "tool_calls": 1, "tool_errors": 0, "tool_timeouts": 0, "parse_errors": 0,
            "prompt_tokens": 900, "completion_tokens": completion, "episode_tokens": episode,
            "wall_s": 3.2, "perturbation": "none", "seed": sample, "extra": {}}


@pytest.fixture(scope="module")
def full_submission(tmp_path_factory) -> Path:
    """metadata.json + samples.jsonl of a valid full submission, written to a tmp dir."""
    data_dir, rng = _data_dir(), random.Random(0)
    rows, tasks = [], []
    for name in (canonical_name(b) for b in SIX_BENCHMARKS):
        taskset = list(load_tasks(name, data_dir=data_dir))
        for task in taskset:
            for sample in range(K):
                rows.append(_record(task, sample, _answer(task, taskset, rng)))
                tasks.append(task)
    verdicts = grade_many([(r["final_text"], t.answer, t.benchmark, t.meta)
                           for r, t in zip(rows, tasks, strict=True)])
    for row, verdict in zip(rows, verdicts, strict=True):
        row.update(correct=verdict.correct, reason=verdict.reason, extracted=verdict.extracted)
    meta = {"model_name": "synthetic", "agent": "scripted", "k": K, "max_turns": MAX_TURNS,
            "perturbation": "none", "package_version": "0.1.0",
            "datasets": {name: BENCHMARK_SHA256[name] for name in BENCHMARK_SHA256}}
    out = tmp_path_factory.mktemp("full-submission")
    (out / "metadata.json").write_text(json.dumps(meta))
    with open(out / "samples.jsonl", "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return out


@pytest.mark.benchmark(group="leaderboard: validate 10,440 samples, cold")
def test_validate_full_submission_cold(benchmark, full_submission) -> None:
    data_dir = _data_dir()

    def cold() -> tuple[tuple, dict]:
        clear_cache()
        shutdown_pool()
        return (), {}

    def run():
        sub = Submission.from_files((full_submission / "metadata.json").read_bytes(),
                                    (full_submission / "samples.jsonl").read_bytes())
        return validate_submission(sub, data_dir=data_dir)

    report = benchmark.pedantic(run, setup=cold, rounds=2)
    assert report.ok, [str(i) for i in report.issues[:5]]
    assert report.counts["graded"] == 1305 * K
    benchmark.extra_info.update(samples=report.counts["graded"],
                                samples_per_s=round(1305 * K / benchmark.stats.stats.mean),
                                avg_at_k=report.summary["mean_avg_at_k_unweighted"])
    assert benchmark.stats.stats.max < 60
