"""The one live progress bar, as the harness and the synthesis pipeline show it."""

from __future__ import annotations

from agents.progress_bar import LiveBar
from agents.training.synthesis.summary import ProgressBar, SynthesisSummary
from benchmarks.progress import Progress

from .record_factory import make_record


def test_the_harness_bar_counts_resumed_and_new_samples_with_accuracy(capsys):
    with Progress(4, [make_record("aime24", "p1", 0, True)], enabled=True) as bar:
        bar.update(make_record("aime24", "p1", 1, False))
        assert (bar.done, bar.correct, bar.accuracy_text) == (2, 1, "50.0%")
    out = capsys.readouterr().out
    assert "deeptool-bench" in out and "2/4" in out and "acc 50.0%" in out


def test_the_synthesis_bar_shows_kept_and_rejected(capsys):
    summary = SynthesisSummary(out="kept.jsonl", rejects="rejects.jsonl")
    with ProgressBar(3, 1, summary, enabled=True) as bar:
        summary.kept += 1
        summary.rejected["wrong_answer"] += 2
        bar.advance()
    out = capsys.readouterr().out
    assert "synth" in out and "2/3" in out and "kept 1 rejected 2" in out


def test_a_disabled_bar_counts_and_prints_nothing(capsys):
    with LiveBar("quiet", 2, status=lambda: "never shown", enabled=False) as bar:
        bar.advance()
    assert bar.done == 1 and capsys.readouterr().out == ""
