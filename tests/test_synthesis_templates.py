"""The scripted teacher (`llm: template`): every procedural family and variant, at
difficulties 1-3, is written, parsed, replayed through the real env (local sandbox) and
kept correct; problems without a template are rejected; injections still work."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from agents.training.synthesis import (
    TEMPLATE_VERSION,
    SettingsMismatchError,
    SynthesisConfig,
    parse_rewrite,
    synthesize,
    template_transcript,
)
from agents.training.synthesis import pipeline as synth_pipeline
from agents.training.synthesis.templates import WRITERS
from deeptool_env.settings import SettingsError
from deeptool_env.tasks import Task
from deeptool_env.tasks.procedural.catalog import FAMILIES
from deeptool_env.tasks.procedural.taskset import generate


def _variant(task: Task) -> tuple[Any, ...]:
    """What makes a task a different case for its template."""
    params = task.meta["params"]
    target = params.get("target")
    kind = None if target is None else (
        "sum" if all(c == 1 for c in target) else
        "variable" if sum(c != 0 for c in target) == 1 else "combination")
    return (task.meta["difficulty"], params.get("variant"), params.get("distinct"), kind,
            tuple(sorted(params)))


def _cases() -> list[Task]:
    """One task per (family, difficulty, variant) among the first indices of seed 7."""
    seen: dict[tuple[Any, ...], Task] = {}
    for family in sorted(WRITERS):
        for difficulty in (1, 2, 3):
            for index in range(24):
                task = generate(family, 7, index, difficulty)
                seen.setdefault((family, *_variant(task)), task)
    return list(seen.values())


CASES = _cases()


def _row(task: Task) -> dict[str, Any]:
    """The task as a JSONL row, meta keys flattened at the top level."""
    return {"id": task.id, "problem": task.problem, "answer": task.answer,
            "benchmark": task.benchmark, **task.meta}


def _config(tmp_path: Path, train_data: str, **changes: Any) -> SynthesisConfig:
    values: dict[str, Any] = {"llm": "template", "train_data": train_data,
                              "sandbox": "local", "perturb_rate": 0.0, "batch_size": 16,
                              "out": str(tmp_path / "out" / "t.jsonl"), "progress": False}
    return SynthesisConfig(**{**values, **changes})


def test_templates_cover_every_family_and_variant():
    assert set(WRITERS) == set(FAMILIES)
    variants: dict[str, set[Any]] = {}
    for task in CASES:
        family, (_, variant, distinct, kind, _) = task.meta["family"], _variant(task)
        case = next((v for v in (variant, distinct, kind) if v is not None), None)
        variants.setdefault(family, set()).add(case)
    assert variants["totient_sum"] == {"sum", "fractions", "visible"}
    assert variants["divisor_sums"] == {"floor", "divisor_count", "divisor_sum", "remainder"}
    assert variants["prime_factors"] == {"largest", "distinct_sum", "divisor_count"}
    assert variants["partitions"] == {True, False}
    assert variants["linear_system"] == {"variable", "sum", "combination"}


@pytest.mark.parametrize("task", CASES, ids=lambda task: f"{task.id}-{_variant(task)[1]}")
def test_every_variant_parses_and_computes_the_answer_in_process(task):
    text = template_transcript(task, random.Random(0))
    assert text is not None
    parsed = parse_rewrite(text, max_turns=8)
    assert parsed.ok, (parsed.error, parsed.detail)
    assert [turn.kind for turn in parsed.turns] == ["code", "answer"]
    assert parsed.turns[-1].body == f"\\boxed{{{task.answer}}}"
    assert task.answer in parsed.turns[-1].thought or "\\frac" in task.answer
    # the phrasing varies with the rng, the code does not
    texts = {template_transcript(task, random.Random(seed)) for seed in range(12)}
    assert len(texts) > 1


def test_every_variant_is_kept_correct_through_the_real_env(tmp_path, monkeypatch):
    plain = {"id": "plain-1", "problem": "What is $1 + 1$?", "answer": "2"}
    unknown = {**_row(CASES[0]), "id": "odd-1", "family": "no_such_family"}
    data = tmp_path / "tasks.jsonl"
    data.write_text("".join(json.dumps(row) + "\n"
                            for row in [*map(_row, CASES), plain, unknown]))
    config = _config(tmp_path, str(data))
    summary = synthesize(config)
    assert summary.skipped_no_solution == 0  # require_solution does not apply
    assert summary.teacher_calls == 0
    rejects = {r["task_id"]: r for r in map(json.loads, open(summary.rejects))}
    assert {tid: r["reason"] for tid, r in rejects.items()} == {
        "plain-1": "no_template", "odd-1": "no_template"}
    kept = {r["task_id"]: r for r in map(json.loads, open(summary.out))}
    assert set(kept) == {task.id for task in CASES}
    for record in kept.values():
        assert record["verdict"]["correct"] is True
        assert record["provenance"]["teacher"]["adapter"] == "template"
        assert record["provenance"]["teacher"]["template_version"] == TEMPLATE_VERSION
    manifest = json.loads((tmp_path / "out" / "t.manifest.json").read_text())
    assert manifest["settings"]["template_version"] == TEMPLATE_VERSION
    # data made by other templates is never mixed into this output
    monkeypatch.setattr(synth_pipeline, "TEMPLATE_VERSION", "templates-v0")
    with pytest.raises(SettingsMismatchError, match="template_version"):
        synthesize(config)


def test_injections_with_template_recovery(tmp_path):
    config = _config(tmp_path, "procedural:modpow+prime_count+digit_sums", limit=9,
                     perturb_rate=1.0, intrinsic_share=0.5)
    assert config.recovery == "template"
    summary = synthesize(config)
    assert summary.kept == 9, summary.render()
    records = [json.loads(line) for line in open(summary.out)]
    assert all(record["injections"] for record in records)
    families = {injection["family"] for r in records for injection in r["injections"]}
    assert families == {"extrinsic", "intrinsic"}
    for record in records:
        roles = [turn["role"] for turn in record["turns"]]
        assert roles[:2] == ["perturbed", "recovery"] and record["verdict"]["correct"]


def test_template_settings_say_how_to_fix(tmp_path):
    with pytest.raises(SettingsError, match="--recovery template"):
        _config(tmp_path, "procedural", recovery="llm")
    assert _config(tmp_path, "procedural", llm="openai").recovery == "llm"
