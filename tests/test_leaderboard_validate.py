"""Leaderboard submission format and validator: a real harness run on AMC23 with an oracle
agent is valid; every kind of tampering or malformation is rejected with its code and line."""

from __future__ import annotations

import copy
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from agents import Agent
from benchmarks import evaluate
from benchmarks.metrics import grader_equivalent, maj_at_k, summarize
from benchmarks.runner import RunConfig
from deeptool_env.tasks import load_tasks
from leaderboard import submission as submission_module
from leaderboard.regrade import majority_equivalence
from leaderboard.results_dir import load_submission
from leaderboard.schema import ERROR, INFO, WARNING
from leaderboard.submission import Limits, Submission, SubmissionError, from_bundle
from leaderboard.validate import ValidationReport, validate_submission

from .record_factory import make_record

K = 2


class OracleAgent(Agent):
    """Prints the gold with one tool call, then answers it, or a wrong value when
    (problem index + sample) % 3 == 0, so the run has right and wrong samples."""

    name = "oracle"
    concurrent_episodes = True

    def __init__(self, golds: dict[str, str]) -> None:
        self.golds = golds
        self.tasks: dict[Any, str] = {}

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        self.tasks[info["episode_key"]] = info["task_id"]

    def act(self, observation: str, info: dict[str, Any]) -> str:
        key = info["episode_key"]
        gold = self.golds[self.tasks[key]]
        if "turn" not in info:  # the first turn: the reset info has no turn number
            return f"<think>compute</think><code>print({gold!r})</code>"
        _, index, sample = key
        value = gold if (index + sample) % 3 else "-12345"
        return f"<think>the tool says {gold}</think><answer>\\boxed{{{value}}}</answer>"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_dir) -> Path:
    """A real harness run: all 40 AMC23 problems, k=2, with claimed metrics and a link."""
    out = tmp_path_factory.mktemp("amc23-run")
    golds = {t.id: t.answer for t in load_tasks("amc23", data_dir=data_dir)}
    config = RunConfig(out=str(out), benchmarks=("amc23",), k=K, max_turns=3,
                       data_dir=str(data_dir), model="oracle-7b", agent="oracle", progress=False)
    result = evaluate(OracleAgent(golds), config)
    clean = summarize(result.records).benchmarks["amc23"]
    claimed = {"amc23": {"avg_at_k": clean.avg_at_k, "pass_at_k": clean.pass_at_k,
                         "maj_at_k": clean.maj_at_k}, "mean": clean.avg_at_k}
    (out / "metadata.json").write_text(json.dumps(
        {"model_link": "https://example.org/oracle-7b", "notes": "test run", "claimed": claimed}))
    return out


@pytest.fixture(scope="module")
def base(run_dir) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sub = load_submission(run_dir)
    rows = [json.loads(line) for line in sub.samples_bytes.decode().splitlines()]
    return sub.meta, rows


def build(meta: dict[str, Any], rows: list[Any], **kw: Any) -> Submission:
    samples = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n"
    return Submission.from_files(json.dumps(meta).encode(), samples.encode(), **kw)


def check(sub: Submission, data_dir: Path, **kw: Any) -> ValidationReport:
    return validate_submission(sub, data_dir=data_dir, **kw)


def codes(report: ValidationReport, level: str = ERROR) -> set[str]:
    return {i.code for i in report.issues if i.level == level}


def issue(report: ValidationReport, code: str):
    return next(i for i in report.issues if i.code == code)


@pytest.fixture
def edit(base):
    """Deep copies of the base metadata and rows, to tamper with."""
    return copy.deepcopy(base[0]), copy.deepcopy(base[1])


def first(rows: list[dict[str, Any]], correct: bool) -> int:
    return next(i for i, r in enumerate(rows) if r["correct"] is correct)


def test_valid_run_passes_and_summary_is_recomputed(run_dir, data_dir) -> None:
    sub = load_submission(run_dir)
    report = check(sub, data_dir)
    assert report.ok, [str(i) for i in report.issues]
    assert not codes(report) and not codes(report, WARNING)
    assert report.counts["samples"] == report.counts["graded"] == 40 * K
    bench = report.summary["benchmarks"]["amc23"]
    assert bench["n_problems"] == 40 and 0.5 < bench["avg_at_k"] < 0.8
    assert bench["avg_at_k"] == sub.metadata.claimed["amc23"]["avg_at_k"]
    assert sub.metadata.model_name == "oracle-7b" and sub.metadata.k == K
    again = load_submission(sub.to_bundle())
    assert sub.to_bundle() == load_submission(run_dir).to_bundle()  # deterministic bytes
    assert check(again, data_dir).summary == report.summary


def test_forged_claimed_metrics(edit, data_dir) -> None:
    meta, rows = edit
    meta["claimed"]["amc23"]["avg_at_k"] += 0.05
    meta["claimed"]["mean"] = 0.99
    report = check(build(meta, rows), data_dir)
    assert not report.ok and codes(report) == {"claim_mismatch"}
    assert {i.field for i in report.issues} == {"claimed.amc23.avg_at_k", "claimed.mean"}
    lenient = check(build(meta, rows), data_dir, strict_claims=False)
    assert lenient.ok and codes(lenient, WARNING) == {"claim_mismatch"}


def test_flipped_verdict_rejected_with_line(edit, data_dir) -> None:
    meta, rows = edit
    i = first(rows, False)
    rows[i].update(correct=True, reason="match")
    report = check(build(meta, rows), data_dir)
    assert codes(report) == {"tampered_verdict"}
    assert issue(report, "tampered_verdict").line == i + 1
    assert f"line {i + 1}" in issue(report, "tampered_verdict").message


def test_claimed_false_that_regrades_true_is_recorded(edit, base, data_dir) -> None:
    meta, rows = edit
    i = first(rows, True)
    rows[i].update(correct=False, reason="mismatch")
    report = check(build(meta, rows), data_dir)
    assert report.ok and codes(report, INFO) == {"verdict_upgraded"}
    assert report.counts["upgraded"] == 1
    assert report.summary == check(build(*base), data_dir).summary


def test_duplicate_sample_rejected(edit, data_dir) -> None:
    meta, rows = edit
    rows.append(rows[3])
    report = check(build(meta, rows), data_dir)
    assert codes(report) == {"duplicate_sample"}
    assert issue(report, "duplicate_sample").line == len(rows)
    assert "duplicates line 4" in issue(report, "duplicate_sample").message


def test_wrong_dataset_hash_rejected(edit, data_dir) -> None:
    meta, rows = edit
    meta["datasets"]["amc23"] = "0" * 64
    report = check(build(meta, rows), data_dir)
    assert "dataset_hash_mismatch" in codes(report)
    assert issue(report, "dataset_hash_mismatch").field == "datasets.amc23"


def test_unknown_benchmark_and_problem(edit, data_dir) -> None:
    meta, rows = edit
    rows[0]["benchmark"] = "gsm8k"
    rows[1]["problem_id"] = "amc23-nope"
    report = check(build(meta, rows), data_dir)
    assert {"unknown_benchmark", "unknown_problem"} <= codes(report)
    assert issue(report, "unknown_benchmark").line == 1
    assert issue(report, "unknown_problem").line == 2


def test_missing_problem_and_k_checks(edit, data_dir) -> None:
    meta, rows = edit
    gone = rows[0]["problem_id"]
    rows = [r for r in rows if r["problem_id"] != gone]
    report = check(build(meta, rows), data_dir)
    assert codes(report) == {"missing_problem", "claim_mismatch"}
    assert gone in issue(report, "missing_problem").message
    meta, rows = edit
    rows[-1]["sample"] = 5
    report = check(build(meta, rows), data_dir)
    assert {"sample_index_out_of_range", "k_mismatch"} <= codes(report)
    assert issue(report, "sample_index_out_of_range").line == len(rows)
    meta["k"] = 3
    assert "k_mismatch" in codes(check(build(meta, rows[:-1]), data_dir))


def test_answer_only_in_tool_output_flagged(edit, data_dir) -> None:
    meta, rows = edit
    i = first(rows, True)
    text = "<think>the tool printed it</think>The answer is the printed value above"
    rows[i]["final_text"] = rows[i]["turns"][-1]["action"] = text
    report = check(build(meta, rows), data_dir)
    assert {"answer_in_tool_output", "tampered_verdict"} <= codes(report)
    assert issue(report, "answer_in_tool_output").line == i + 1


def test_final_text_not_last_action(edit, data_dir) -> None:
    meta, rows = edit
    i = first(rows, False)
    rows[i]["final_text"] = rows[i]["final_text"].replace("-12345", rows[i]["gold"])
    rows[i].update(correct=True, extracted=rows[i]["gold"])
    report = check(build(meta, rows), data_dir)
    assert {"final_text_mismatch", "answer_in_tool_output"} <= codes(report)
    assert issue(report, "final_text_mismatch").line == i + 1


def test_counters_and_perturbation_must_match(edit, data_dir) -> None:
    meta, rows = edit
    rows[2]["tool_calls"] = 0
    rows[3]["perturbation"] = "adversarial"
    report = check(build(meta, rows), data_dir)
    assert codes(report) == {"counter_mismatch", "perturbation_mismatch"}
    assert issue(report, "counter_mismatch").line == 3


def test_malformed_lines_reported_with_line_numbers(edit, data_dir) -> None:
    meta, rows = edit
    rows[4] = '{"benchmark": "amc23", oops'
    del rows[5]["correct"]
    rows[6]["reward"] = "high"
    rows[7]["surprise"] = 1
    rows[8]["turns"][0]["action"] = 3
    report = check(build(meta, rows), data_dir)
    found = {(i.code, i.line, i.field) for i in report.issues}
    assert ("bad_json", 5, None) in found
    assert {("missing_field", 6, "correct"), ("wrong_type", 7, "reward"),
            ("unknown_field", 8, "surprise"), ("wrong_type", 9, "turns[0].action")} <= found
    assert "samples.jsonl line 5: not valid JSON" in issue(report, "bad_json").message


def test_metadata_schema_errors(edit, data_dir) -> None:
    meta, rows = edit
    meta.update(model_name="x" * 201, model_link="javascript:alert(1)", notes="n" * 2001, k=0,
                colour="blue", decoding={"top_p": 2})
    del meta["agent"]
    report = check(build(meta, rows), data_dir)
    fields = {(i.code, i.field) for i in report.issues}
    assert {("invalid_value", "model_name"), ("invalid_value", "model_link"),
            ("invalid_value", "notes"), ("invalid_value", "k"), ("unknown_field", "colour"),
            ("missing_field", "agent"), ("invalid_value", "decoding.top_p")} <= fields
    assert not report.ok


def test_oversized_rejected_before_parsing(base, monkeypatch, run_dir) -> None:
    def explode(*_: Any) -> None:
        raise AssertionError("parsed an oversized submission")

    monkeypatch.setattr(submission_module, "parse_sample", explode)
    monkeypatch.setattr(submission_module, "metadata_from_bytes", explode)
    small = Limits(samples_bytes=1000)
    with pytest.raises(SubmissionError) as err:
        build(*base, limits=small)
    assert err.value.code == "too_large"
    with pytest.raises(SubmissionError, match="over the limit"):
        load_submission(run_dir, limits=small)
    monkeypatch.undo()
    data = load_submission(run_dir).to_bundle()
    monkeypatch.setattr(submission_module, "parse_sample", explode)
    with pytest.raises(SubmissionError, match="samples.jsonl is .* over the limit"):
        from_bundle(data, limits=small)


def test_overlong_line_and_bad_bundles(base, tmp_path) -> None:
    sub = build(*base, limits=Limits(line_bytes=100))
    assert {i.code for i in sub.issues} == {"line_too_long"} and not sub.records
    with pytest.raises(SubmissionError) as err:
        load_submission(b"not a bundle")
    assert err.value.code == "bad_bundle"
    path = tmp_path / "extra.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(__file__, arcname="evil.py")
    with pytest.raises(SubmissionError, match="not expected"):
        load_submission(path)
    bomb = tmp_path / "bomb.tar.gz"  # 4 MiB of pax header, a few KiB compressed
    with tarfile.open(bomb, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("samples.jsonl")
        info.pax_headers = {"comment": "x" * (4 << 20)}
        tar.addfile(info, io.BytesIO(b""))
    assert bomb.stat().st_size < 64 << 10
    with pytest.raises(SubmissionError) as err:
        load_submission(bomb, limits=Limits(samples_bytes=1000, metadata_bytes=1000))
    assert err.value.code == "too_large"


def test_results_dir_overlay_rules(run_dir, tmp_path) -> None:
    for name in ("run.json", "samples.jsonl"):
        (tmp_path / name).write_bytes((run_dir / name).read_bytes())
    run = json.loads((tmp_path / "run.json").read_text())
    run["model"] = None
    (tmp_path / "run.json").write_text(json.dumps(run))
    sub = load_submission(tmp_path)
    assert sub.metadata is None
    assert [(i.code, i.field) for i in sub.issues] == [("missing_field", "model_name")]
    (tmp_path / "metadata.json").write_text(json.dumps({"k": 1}))
    with pytest.raises(SubmissionError, match="may not be set"):
        load_submission(tmp_path)


def test_issue_list_is_capped(edit, data_dir) -> None:
    meta, rows = edit
    for r in rows:
        r["tool_calls"] = 9
    report = check(build(meta, rows), data_dir, max_issues=10)
    assert len(report.issues) == 10 and report.issues_omitted == len(rows) - 10
    assert report.issue_counts == {"counter_mismatch": len(rows)}


def test_time_budget_and_missing_data(base, data_dir, tmp_path) -> None:
    report = check(build(*base), data_dir, budget_s=0.0)
    assert "budget_exceeded" in codes(report) and not report.ok
    report = validate_submission(build(*base), data_dir=tmp_path)
    assert codes(report) == {"data_unavailable", "claim_mismatch"}


def test_majority_table_matches_the_grader() -> None:
    answers = [("\\frac{1}{2}", True), ("0.5", True), ("2", False), ("2", False),
               ("1/2", True), ("x+1", False), ("1+x", False), ("1+x", False)]
    samples = [make_record("math500", "p", i, ok, extracted=a)
               for i, (a, ok) in enumerate(answers)]
    flags = [ok for _, ok in answers]
    equivalent, in_time = majority_equivalence([samples], timeout_s=10.0)
    extracted = [a for a, _ in answers]
    assert in_time
    assert maj_at_k(extracted, flags, equivalent) == maj_at_k(extracted, flags,
                                                              grader_equivalent)
    same = [make_record("math500", "q", i, True, extracted="7") for i in range(3)]
    lookup, _ = majority_equivalence([same], timeout_s=10.0)
    assert lookup("7", "8") is False  # decided problem: nothing graded
