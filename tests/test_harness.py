"""The evaluation harness: records, resume after a kill, settings checks, CLI, Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import evaluate, read_samples
from benchmarks.agent_spec import agent_factory
from benchmarks.cli import main as bench_main
from benchmarks.records import SAMPLES_FILE

from .harness_agents import InstantSolver

REPO = Path(__file__).resolve().parents[1]
BASE = dict(benchmarks=("procedural:nth_prime",), limit=3, k=2, max_turns=3, progress=False)


def test_every_sample_is_recorded_with_its_trajectory(tmp_path):
    result = evaluate(InstantSolver(), out=str(tmp_path), **BASE)
    records = read_samples(tmp_path)
    assert len(records) == len(result.records) == 6
    assert {r.key for r in records} == {("procedural:nth_prime", r.problem_id, s)
                                        for r in records for s in (0, 1)}
    first = records[0]
    assert first.correct and first.reason == "match" and first.termination == "answer"
    assert first.tool_calls == 1 and len(first.turns) == 2
    assert first.turns[0]["tool"]["status"] == "ok" and "<output>" in first.turns[0]["observation"]
    assert first.final_text.startswith("<answer>") and first.extracted == first.gold
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["k"] == 2 and "finished" in run and run["datasets"]


def test_rerun_resumes_and_never_redoes(tmp_path):
    evaluate(InstantSolver(), out=str(tmp_path), **BASE)
    before = (tmp_path / SAMPLES_FILE).read_text()
    evaluate(InstantSolver(), out=str(tmp_path), **BASE)
    assert (tmp_path / SAMPLES_FILE).read_text() == before


def test_other_settings_are_refused(tmp_path):
    evaluate(InstantSolver(), out=str(tmp_path), **BASE)
    with pytest.raises(ValueError, match="other settings .*k: 2 -> 3"):
        evaluate(InstantSolver(), out=str(tmp_path), **{**BASE, "k": 3})


def test_killed_run_resumes_without_loss_or_duplicates(tmp_path):
    code = ("from benchmarks import evaluate\n"
            "from tests.harness_agents import SlowSolver\n"
            f"evaluate(SlowSolver(), out={str(tmp_path)!r}, benchmarks=('procedural:nth_prime',),"
            " limit=4, k=2, max_turns=3, progress=False, concurrency=1)\n")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO,
                               start_new_session=True)
    samples = tmp_path / SAMPLES_FILE
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if samples.exists() and samples.read_text().count("\n") >= 2:
            break
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    partial = read_samples(tmp_path)
    assert 2 <= len(partial) < 8
    with open(samples, "a") as handle:  # a torn line, as if killed mid-write
        handle.write('{"benchmark": "procedural:nth_prime", "probl')
    evaluate(InstantSolver(), out=str(tmp_path), benchmarks=("procedural:nth_prime",),
             limit=4, k=2, max_turns=3, progress=False)
    records = read_samples(tmp_path)
    assert len(records) == 8 and len({r.key for r in records}) == 8
    assert [r.to_dict() for r in records[:len(partial)]] == [r.to_dict() for r in partial]


def test_agent_specs():
    assert isinstance(agent_factory("tests.harness_agents:InstantSolver", model="x")(),
                      InstantSolver)
    with pytest.raises(ValueError, match="unknown agent"):
        agent_factory("gpt")
    with pytest.raises(TypeError, match="not a subclass"):
        agent_factory("json:JSONDecoder")


def test_cli_run(tmp_path, capsys):
    code = bench_main(["run", "--agent", "tests.harness_agents:InstantSolver",
                       "--benchmarks", "procedural:nth_prime", "--limit", "2", "--k", "1",
                       "--max-turns", "3", "--out", str(tmp_path), "--quiet"])
    assert code == 0
    assert "avg@1 = 1.000" in capsys.readouterr().out
    assert len(read_samples(tmp_path)) == 2


def test_real_benchmark_slice(tmp_path, data_dir):
    result = evaluate(InstantSolver(), out=str(tmp_path), benchmarks=("aime24",), limit=2,
                      k=1, max_turns=2, data_dir=str(data_dir), progress=False)
    assert len(result.records) == 2
    assert all(r.problem_id.startswith("aime24-") for r in result.records)
    assert all(not r.correct for r in result.records)  # the solver only knows primes


def test_ray_local_cluster(tmp_path):
    pytest.importorskip("ray")
    factory = agent_factory("tests.harness_agents:InstantSolver")
    result = evaluate(factory, out=str(tmp_path), ray_address="local", **BASE)
    assert len(result.records) == 6 and all(r.correct for r in result.records)
    local = evaluate(InstantSolver(), out=str(tmp_path / "local"), **BASE)
    assert sorted((r.key, r.correct, r.extracted) for r in result.records) == \
        sorted((r.key, r.correct, r.extracted) for r in local.records)
