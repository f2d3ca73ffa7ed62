"""`deeptool-leaderboard validate` judges the results and the submission metadata apart: an
honest `deeptool-bench run` of a custom agent without --model has valid results and
incomplete metadata (model_name), with the fix; the name defaults from run.json when it has
one; the results are still checked in full meanwhile; `--submission`, `submit` and the
server's upload path require complete metadata, the server with the same message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agents.models import DEFAULT_NAME
from benchmarks.cli import main as bench_main
from leaderboard.check import check_results, metadata_problem
from leaderboard.cli import main as leaderboard_main
from leaderboard.results_dir import load_submission, run_model_name
from leaderboard.submission import SubmissionError
from leaderboard.validate import validate_submission

AGENT = "tests.harness_agents:InstantSolver"
FIX = ("fix with --model-name NAME (validate, submit) or a metadata.json beside run.json "
       "(fields: model_name, model_link, decoding, claimed, notes)")
MISSING = f"metadata: incomplete: model_name missing; {FIX}"


def bench_run(out: Path, data_dir: Path, *options: str) -> Path:
    """A real `deeptool-bench run` of the scripted solver on all 40 AMC23 problems, k=1."""
    code = bench_main(["run", "--agent", AGENT, "--benchmarks", "amc23", "--k", "1",
                       "--max-turns", "2", "--data-dir", str(data_dir), "--out", str(out),
                       "--quiet", *options])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def unnamed(tmp_path_factory, data_dir) -> Path:
    """A run of a custom agent without --model: nothing names the model."""
    return bench_run(tmp_path_factory.mktemp("unnamed") / "run", data_dir)


@pytest.fixture(scope="module")
def named(tmp_path_factory, data_dir) -> Path:
    return bench_run(tmp_path_factory.mktemp("named") / "run", data_dir,
                     "--model", "prime-solver-1")


def copy_run(run: Path, out: Path, **run_json: object) -> Path:
    """A copy of `run` with fields of run.json replaced."""
    shutil.copytree(run, out)
    meta = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**meta, **run_json}))
    return out


def validate(capsys, *args: str) -> tuple[int, list[str]]:
    code = leaderboard_main(["validate", *map(str, args)])
    return code, capsys.readouterr().out.splitlines()


def test_unnamed_run_has_valid_results_and_incomplete_metadata(unnamed, data_dir, capsys):
    assert json.loads((unnamed / "run.json").read_text())["model"] is None
    code, lines = validate(capsys, unnamed, "--data-dir", data_dir)
    assert code == 0, lines
    assert not [line for line in lines if line.startswith("[error]")], lines
    assert lines[-3].startswith("results: valid (40 samples of 40 problems; benchmarks "
                                "amc23 avg@k ")
    assert "not ranked" in lines[-3]
    assert lines[-2] == MISSING
    assert lines[-1] == f"{unnamed}: results valid, metadata not ready"
    code, lines = validate(capsys, unnamed, "--data-dir", data_dir, "--submission")
    assert code == 1 and lines[-2] == MISSING and lines[-1].endswith("INVALID as a submission")
    code, lines = validate(capsys, unnamed, "--data-dir", data_dir, "--submission",
                           "--model-name", "my-solver")
    assert code == 0, lines
    assert lines[-2:] == ["metadata: complete (model_name 'my-solver' from --model-name)",
                          f"{unnamed}: valid as a submission"]


def test_named_run_is_a_complete_submission_without_flags(named, data_dir, capsys):
    code, lines = validate(capsys, named, "--data-dir", data_dir, "--submission")
    assert code == 0, lines
    assert lines[-2] == "metadata: complete (model_name 'prime-solver-1' from run.json model)"
    check = check_results(named, str(data_dir))
    assert check.ok and check.bundle is not None
    assert load_submission(check.bundle).metadata.model_name == "prime-solver-1"


def test_model_name_from_run_json(tmp_path):
    assert run_model_name({"agent": AGENT, "model": None}) is None
    assert run_model_name({"agent": "hf"}) == run_model_name({"agent": "vllm"}) == DEFAULT_NAME
    assert run_model_name({"agent": "hf", "extra": {"adapter": "sft-v1"}}) == \
        f"{DEFAULT_NAME} + LoRA adapter sft-v1"
    assert run_model_name({"agent": "openai", "model": "Qwen/Qwen3-1.7B"}) == "Qwen/Qwen3-1.7B"
    local = tmp_path / "checkpoints" / "step-900"
    local.mkdir(parents=True)
    assert run_model_name({"agent": "hf", "model": str(local)}) == "step-900"
    (local / "adapter_config.json").write_text(json.dumps(
        {"base_model_name_or_path": "/models/SmolLM2-135M-Instruct"}))
    assert run_model_name({"agent": "hf", "model": str(local)}) == \
        "SmolLM2-135M-Instruct + LoRA adapter step-900"


def test_embedded_model_run_validates_complete(named, tmp_path, data_dir, capsys):
    run = copy_run(named, tmp_path / "hf", agent="hf", model=None)
    code, lines = validate(capsys, run, "--data-dir", data_dir, "--submission")
    assert code == 0, lines
    assert lines[-2] == f"metadata: complete (model_name '{DEFAULT_NAME}' from run.json agent hf)"


def test_overlay_and_flag_precedence(unnamed, tmp_path, data_dir, capsys):
    run = copy_run(unnamed, tmp_path / "overlay")
    (run / "metadata.json").write_text(json.dumps({"model_name": "from-overlay"}))
    code, lines = validate(capsys, run, "--data-dir", data_dir, "--submission")
    assert code == 0 and lines[-2].endswith("'from-overlay' from metadata.json)"), lines
    code, lines = validate(capsys, run, "--data-dir", data_dir, "--model-name", "flag")
    assert code == 0 and lines[-2].endswith("'flag' from --model-name)"), lines
    with pytest.raises(SubmissionError, match="applies to a results directory"):
        load_submission(load_submission(run).to_bundle(), model_name="x")


def test_invalid_metadata_is_reported_as_metadata(unnamed, tmp_path, data_dir, capsys):
    run = copy_run(unnamed, tmp_path / "bad-link")
    (run / "metadata.json").write_text(json.dumps({"model_link": "javascript:alert(1)"}))
    report = validate_submission(load_submission(run), data_dir=data_dir)
    assert report.results_ok and not report.metadata_ok and not report.ok
    problem = metadata_problem(report.issues)
    assert problem == ("incomplete: model_name missing; invalid: field 'model_link' must be an "
                       f"http:// or https:// URL, got 'javascript:alert(1)'; {FIX}")
    code, lines = validate(capsys, run, "--data-dir", data_dir)
    assert code == 0 and lines[-2] == f"metadata: {problem}"


def test_results_are_checked_in_full_without_a_model_name(unnamed, tmp_path, data_dir, capsys):
    """The run's settings are used while model_name is missing: a perturbation that the
    samples do not have and a forged verdict are errors of the results."""
    run = copy_run(unnamed, tmp_path / "tampered", perturbation="adversarial")
    records = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    line = next(i for i, r in enumerate(records, 1) if not r["correct"])
    records[line - 1]["correct"] = True
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    code, lines = validate(capsys, run, "--data-dir", data_dir)
    assert code == 1
    text = "\n".join(lines)
    assert "perturbation_mismatch" in text and f"tampered_verdict: samples.jsonl line {line} " \
        in text
    assert lines[-3].startswith("results: INVALID (") and lines[-2] == MISSING
    assert lines[-1] == f"{run}: INVALID"


def test_submit_refuses_incomplete_metadata_before_uploading(unnamed, data_dir, capsys):
    code = leaderboard_main(["submit", str(unnamed), "--server", "http://127.0.0.1:9",
                             "--token", "t" * 20, "--data-dir", str(data_dir)])
    out = capsys.readouterr()
    assert code == 1 and "not submitted" in out.err and MISSING in out.out


def test_server_refuses_incomplete_metadata_with_the_same_message(unnamed, tmp_path,
                                                                   data_dir):
    pytest.importorskip("fastapi")
    pytest.importorskip("sqlalchemy")
    from .leaderboard_helpers import LiveServer, server_config

    incomplete = load_submission(unnamed).to_bundle()  # bundled without the client's check
    with LiveServer(server_config(tmp_path, data_dir)) as live:
        refused = live.upload(incomplete)
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert body["detail"] == f"the submission is invalid; {MISSING}"
        assert [(i["code"], i["field"]) for i in body["issues"]] == [
            ("missing_field", "model_name")]
        named = load_submission(unnamed, model_name="my-solver").to_bundle()
        accepted = live.upload(named)
        assert accepted.status_code == 201, accepted.text
        assert [e["model"] for e in live.entries()] == ["my-solver"]
