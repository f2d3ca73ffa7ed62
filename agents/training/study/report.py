"""The study's report from its saved evaluations: a table (markdown), curves (PNG) and
`summary.json`, rebuilt from the files alone (`deeptool-train study --report-only`).

Per arm and seed at the last step: the clean solve rate with its 95% interval, its paired
difference to the SFT start, the solve rate under perturbed tool output and with the
tool off, robustness (clean minus perturbed) and what the tool is worth (clean minus
tool off). Also the mean value per episode of each process-reward term, at the start and
at the end, and whether arm B beat the start by 10 points with an interval above zero.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from .config import ARMS, StudyConfig
from .evaluate import Evaluation
from .stats import bootstrap_mean, paired_difference

NOT_TERMS = {"process", "outcome", "settled"}


def load_evaluations(folder: Path) -> dict[str, Evaluation]:
    return {path.stem: Evaluation.load(path) for path in sorted(folder.glob("*.json"))}


def term_means(evaluation: Evaluation) -> dict[str, float]:
    """Mean over episodes of each reward term summed over the episode's turns."""
    totals: dict[str, float] = defaultdict(float)
    for episode in evaluation.episodes:
        for turn in episode.terms:
            for name, value in turn.items():
                if name not in NOT_TERMS:
                    totals[name] += value
    count = max(1, len(evaluation.episodes))
    return {name: round(total / count, 4) for name, total in sorted(totals.items())}


def _curve(config: StudyConfig, evals: dict[str, Evaluation], name: str, runs: Path
           ) -> list[dict[str, float]]:
    """(step, training seconds so far, clean solve rate) of one arm and seed."""
    seconds, elapsed = {0: 0.0}, 0.0
    metrics = runs / f"{name}.metrics.jsonl"
    if metrics.exists():
        for line in metrics.read_text().splitlines():
            row = json.loads(line)
            if "time" in row:
                elapsed += row["time"]
                seconds[row["step"]] = elapsed
    points = [{"step": 0, "seconds": 0.0, "solve_rate": evals["start-clean"].solve_rate}]
    for step in range(config.eval_every, config.grpo_steps + 1, config.eval_every):
        key = f"{name}-step{step:03d}-clean"
        if key in evals:
            points.append({"step": step, "seconds": seconds.get(step, float("nan")),
                           "solve_rate": evals[key].solve_rate})
    return points


def _row(config: StudyConfig, evals: dict[str, Evaluation], name: str) -> dict[str, Any]:
    last = f"{name}-step{config.grpo_steps:03d}"
    boot = {"resamples": config.bootstrap}
    start = evals["start-clean"].per_problem()
    row: dict[str, Any] = {"run": name, "arm": name.split("-s")[0]}
    if f"{last}-clean" not in evals:
        return {**row, "finished": False}
    clean = evals[f"{last}-clean"].per_problem()
    row.update(finished=True, clean=bootstrap_mean(clean, **boot).to_dict(),
               gain=paired_difference(clean, start, **boot).to_dict(),
               terms_end=term_means(evals[f"{last}-clean"]))
    for condition, label in (("adversarial", "robustness_gap"), ("tool_off", "tool_value")):
        if f"{last}-{condition}" in evals:
            other = evals[f"{last}-{condition}"].per_problem()
            row[condition] = bootstrap_mean(other, **boot).to_dict()
            row[label] = paired_difference(clean, other, **boot).to_dict()
    return row


def _cell(interval: dict[str, float] | None) -> str:
    if not interval:
        return "-"
    return (f"{100 * interval['value']:.1f} [{100 * interval['low']:.1f}, "
            f"{100 * interval['high']:.1f}]")


def markdown_table(summary: dict[str, Any]) -> str:
    """The results table: one row for the start, one per arm and seed."""
    header = ("| run | clean % [95% CI] | gain vs start (pts) | adversarial % | robustness gap "
              "(clean - adv.) | tool off % | tool value (clean - off) |\n"
              "| --- | --- | --- | --- | --- | --- | --- |\n")
    start = summary["start"]
    lines = [f"| SFT start | {_cell(start['clean'])} | - | {_cell(start.get('adversarial'))}"
             f" | {_cell(start.get('robustness_gap'))} | {_cell(start.get('tool_off'))} | "
             f"{_cell(start.get('tool_value'))} |"]
    for row in summary["runs"]:
        if not row.get("finished"):
            lines.append(f"| {row['run']} | (not finished) | | | | | |")
            continue
        lines.append(f"| {row['run']} | {_cell(row['clean'])} | {_cell(row['gain'])} | "
                     f"{_cell(row.get('adversarial'))} | {_cell(row.get('robustness_gap'))} | "
                     f"{_cell(row.get('tool_off'))} | {_cell(row.get('tool_value'))} |")
    return header + "\n".join(lines) + "\n"


def plot(summary: dict[str, Any], path: Path) -> None:
    """Clean held-out solve rate against GRPO steps and against training time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"A": "tab:blue", "B": "tab:orange", "C": "tab:green"}
    figure, (by_step, by_time) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for name, points in summary["curves"].items():
        arm = name.split("-s")[0]
        style = {"color": colours.get(arm, "grey"), "marker": "o",
                 "linestyle": "-" if name.endswith("s0") else "--",
                 "label": f"{ARMS[arm]['label'] if arm in ARMS else arm} ({name[-2:]})"}
        by_step.plot([p["step"] for p in points], [100 * p["solve_rate"] for p in points],
                     **style)
        by_time.plot([p["seconds"] / 60 for p in points],
                     [100 * p["solve_rate"] for p in points], **style)
    by_step.set(xlabel="GRPO step", ylabel="held-out solve rate, clean (%)")
    by_time.set(xlabel="GRPO wall-clock (min, rollouts + updates)")
    by_step.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def build_report(config: StudyConfig) -> dict[str, Any]:
    """Write `summary.json`, `results.md` and `curves.png` to the results folder."""
    results = Path(config.results_dir)
    evals = load_evaluations(results / "evals")
    if "start-clean" not in evals:
        return {"error": "no evaluation of the start yet"}
    start = evals["start-clean"].per_problem()
    summary: dict[str, Any] = {"start": {"clean": bootstrap_mean(start).to_dict(),
                                         "terms": term_means(evals["start-clean"])},
                               "runs": [], "curves": {}}
    for condition, label in (("adversarial", "robustness_gap"), ("tool_off", "tool_value")):
        if f"start-{condition}" in evals:
            other = evals[f"start-{condition}"].per_problem()
            summary["start"][condition] = bootstrap_mean(other).to_dict()
            summary["start"][label] = paired_difference(start, other).to_dict()
    names = [f"{arm}-s{seed}" for arm in config.arms for seed in config.seeds]
    for name in names:
        summary["runs"].append(_row(config, evals, name))
        summary["curves"][name] = _curve(config, evals, name, results / "runs")
    summary["arm_b_beats_start"] = {
        row["run"]: row["gain"]["value"] >= 0.10 and row["gain"]["low"] > 0
        for row in summary["runs"] if row["arm"] == "B" and row.get("finished")}
    (results / "summary.json").write_text(json.dumps(summary, indent=1))
    (results / "results.md").write_text(markdown_table(summary))
    plot(summary, results / "curves.png")
    return summary
