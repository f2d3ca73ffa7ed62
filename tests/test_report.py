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
        "Tokens/problem",
        "Tool calls/problem",
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
