"""The report on a synthetic results directory: files, tables, embedded plots, escaping."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.records import SampleRecord, SampleWriter
from benchmarks.report import write_report

from .record_factory import make_record

EVIL = "<script>alert(1)</script>"


def record(benchmark: str, pid: str, sample: int, correct: bool) -> SampleRecord:
    return make_record(benchmark, pid, sample, correct, extracted="1" if correct else "2",
                       turns=[{}, {}], tool_calls=1, prompt_tokens=80,
                       completion_tokens=400 + 10 * sample, episode_tokens=500)


def make_run(path: Path, accuracy: dict[str, float], **meta: object) -> Path:
    """A results directory: 5 problems x 4 samples per benchmark at roughly `accuracy`."""
    with SampleWriter(path) as writer:
        for bench, acc in accuracy.items():
            for p in range(5):
                for s in range(4):
                    writer.write(record(bench, f"{bench}-{p}", s, (p * 4 + s) < acc * 20))
    (path / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    return path


def test_report_files_tables_plots_and_escaping(tmp_path: Path) -> None:
    run = make_run(
        tmp_path / "run",
        {"aime24": 0.3, "math500": 0.8, "procedural": 0.55},
        model=EVIL,
        agent="chat",
        k=4,
        temperature=0.6,
        benchmarks={"aime24": {"content_hash": "abc123", "size": 30}},
    )
    paths = write_report(run)
    assert {"md", "html", "accuracy_png", "cost_png"} <= set(paths)
    assert all(p.exists() and p.parent == run for p in paths.values())
    assert not list(run.glob("*.tmp"))
    page = paths["html"].read_text(encoding="utf-8")
    assert page.count('<img alt="') == 2 and page.count('src="data:image/png;base64,') == 2
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for text in (
        "AIME24",
        "MATH-500",
        "procedural",
        "avg@k",
        "95% CI",
        "pass@k",
        "maj@k",
        "Tokens/sample",
        "Tool calls/sample",
        "unweighted",
        "abc123",
    ):
        assert text in page
    assert page.count("<table>") == 4  # run, data, accuracy, cost
    md = paths["md"].read_text(encoding="utf-8")
    assert EVIL not in md and "| AIME24 | 5 | 4 | 30.0 |" in md
    assert "Mean of 3 benchmarks (unweighted)" in md and "55.0" in md  # (30+80+55)/3
    assert paths["accuracy_png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_with_compare_dir_and_out_dir(tmp_path: Path) -> None:
    clean = make_run(tmp_path / "clean", {"aime24": 0.5, "amc23": 0.75})
    pert = make_run(tmp_path / "pert", {"aime24": 0.25, "amc23": 0.75}, perturbation="adversarial")
    paths = write_report(clean, tmp_path / "out", compare_dir=pert)
    assert paths["html"].parent == tmp_path / "out"
    page = paths["html"].read_text(encoding="utf-8")
    assert "Robustness" in page and page.count('src="data:image/png;base64,') == 2
    md = paths["md"].read_text(encoding="utf-8")
    assert "| AIME24 | 50.0 | 25.0 | 25.0 |" in md
    assert "| Mean (unweighted) | 62.5 | 50.0 | 12.5 |" in md


def test_report_without_samples_or_metadata(tmp_path: Path) -> None:
    paths = write_report(tmp_path)
    assert set(paths) == {"md", "html"}
    assert "No samples" in paths["html"].read_text(encoding="utf-8")


def _embedded(page: str) -> list[dict]:
    data = page.split('id="samples-data">', 1)[1].split("</script>", 1)[0]
    return json.loads(data)


def test_report_names_model_times_and_data_readably(tmp_path: Path) -> None:
    run = make_run(
        tmp_path / "run", {"procedural": 0.5}, agent="hf", model=None, k=4,
        temperature=None, benchmarks=["procedural"], finished=1796196866.5, extra={},
        datasets={"procedural": {"name": "procedural", "size": 5, "content_hash": "f00d",
                                 "generator": "deeptool-procedural", "version": 1, "seed": 0,
                                 "families": ["nth_prime", "modpow"]}})
    paths = write_report(run)
    md = paths["md"].read_text(encoding="utf-8")
    assert md.startswith("# DeepTool Gym report: SmolLM2-135M-Instruct (embedded)\n")
    assert "| Model | SmolLM2-135M-Instruct (embedded) |" in md
    assert "| finished | 2026-12-02 07:34:26 UTC |" in md and "1796196866" not in md
    assert "| benchmarks | procedural |" in md and "temperature" not in md
    assert "| procedural | 5 | deeptool-procedural v1, seed 0; families nth_prime, modpow " \
           "| f00d |" in md
    assert "&quot;" not in md and '{"' not in md and "None" not in md
    assert "|:---|---:|---:|---:|---:|---:|---:|---:|" in md  # accuracy: numbers right
    assert "| procedural | procedural-0 | 4/4 | 1 | 1 ×4 | 495 | 1.0 |" in md
    assert "| procedural | procedural-4 | 0/4 | 1 | 2 ×4 | 495 | 1.0 |" in md
    page = paths["html"].read_text(encoding="utf-8")
    assert "<title>DeepTool Gym report: SmolLM2-135M-Instruct (embedded)</title>" in page
    assert '<td class="num">4/4</td>' in page and '<th class="num">avg@k</th>' in page


def test_report_names_a_lora_adapter_directory(tmp_path: Path) -> None:
    adapter = tmp_path / "smollm2-tir-lora"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": "/models/SmolLM2-135M-Instruct/"}))
    run = make_run(tmp_path / "run", {"procedural": 1.0}, agent="hf", model=str(adapter))
    md = write_report(run)["md"].read_text(encoding="utf-8")
    assert "# DeepTool Gym report: SmolLM2-135M-Instruct + LoRA adapter smollm2-tir-lora" in md


def test_markdown_cells_escape_with_backslashes(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", {"procedural": 1.0}, model='a|b <i>"x"</i> [l](u)')
    md = write_report(run)["md"].read_text(encoding="utf-8")
    assert '# DeepTool Gym report: a\\|b \\<i\\>"x"\\</i\\> [l]\\(u)' in md
    assert "<i>" not in md and "&quot;" not in md and "&lt;" not in md


def test_viewer_data_keeps_audit_output_and_is_inert(tmp_path: Path) -> None:
    hostile = "</script><script>alert(1)</script><!-- \u2028 \udcff"
    turns = [
        {"action": f"<think>{hostile}</think><code>print(1)</code>",
         "observation": "<output>\n2\n</output>", "parse_error": None,
         "tool": {"status": "ok", "shown_status": "error", "exit_code": 0},
         "perturbation": {"kind": "numeric_corruption", "family": "corrupted",
                          "params": {"mode": "off_by_k"}},
         "observation_clean": "<output>\n1\n</output>",
         "reward_terms": {"format": 0.0, "budget": -0.01, "bad": float("nan")}},
        {"action": "<code>print(2)</code>", "observation": "<output>\n3\n</output>",
         "parse_error": None, "tool": {"status": "ok"},
         "perturbation": {"kind": "numeric_corruption", "family": "corrupted"}},
        {"action": "no tags", "observation": "<error>no action</error>",
         "parse_error": "no_action", "tool": None, "perturbation": None},
    ]
    record = make_record("procedural", "p0", 0, False, extracted=None, turns=turns)
    # ASCII JSON: the writer itself cannot encode the lone surrogate a hostile tool may print
    (tmp_path / "samples.jsonl").write_text(json.dumps(record.to_dict()) + "\n")
    page = write_report(tmp_path)["html"].read_text(encoding="utf-8")
    assert page.count("<script") == 2 and "<script>alert" not in page and "<!--" not in page
    sample = _embedded(page)[0]
    first, second, third = sample["turns"]
    assert first["thinking"] == hostile.replace("\udcff", "\ufffd")
    assert (first["code"], first["clean"], first["clean_missing"]) == ("print(1)",
                                                                       "<output>\n1\n</output>",
                                                                       False)
    assert first["tool"]["shown_status"] == "error"
    assert first["reward_terms"] == {"format": 0.0, "budget": -0.01}
    assert second["clean"] is None and second["clean_missing"] is True
    assert third["parse_error"] == "no_action" and third["perturbation"] is None
    assert "clean" not in third and sample["perturbed_turns"] == 2
    assert "(none) ×1" in page  # the per-problem table counts samples without an answer


def test_a_played_run_reports_its_start_finish_and_data_dir(tmp_path: Path,
                                                            monkeypatch) -> None:
    """run.json as `evaluate` writes it: started and finished as UTC times, the data
    directory taken from $DEEPTOOL_DATA_DIR, cost columns per sample."""
    from benchmarks import evaluate

    from .harness_agents import InstantSolver

    monkeypatch.setenv("DEEPTOOL_DATA_DIR", str(tmp_path / "data"))
    result = evaluate(InstantSolver(), out=str(tmp_path / "run"), benchmarks=("procedural",),
                      limit=2, k=1, progress=False)
    md = write_report(result.out)["md"].read_text(encoding="utf-8")
    for key in ("started", "finished"):
        assert f"| {key} | 20" in md and f"{int(result.settings[key])}" not in md
    assert f"| data_dir | {tmp_path / 'data'} |" in md
    assert "| Benchmark | Tokens/sample | Tokens/correct sample | Tool calls/sample |" in md
