"""Write a results directory's report: `report.md` and a self-contained `report.html`.

Both name the model, hold the run settings and data identity, accuracy and cost tables per
benchmark, the unweighted benchmark mean, (with a perturbed run to compare) a robustness
table and a per-problem table. The HTML also embeds the two plots as base64 PNGs and a
trajectory viewer of every sample (`report_html`); the PNGs are written next to the
Markdown. Every file is written atomically (temporary file + rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .metrics import RunSummary, robustness, summarize
from .records import RUN_FILE, SampleRecord, read_samples
from .report_html import render_html
from .report_meta import data_table, describe_model, meta_table, readable
from .report_plots import accuracy_plot, cost_plot
from .report_tables import (
    Table,
    accuracy_table,
    cost_table,
    problem_table,
    robustness_table,
)
from .report_viewer import viewer_data

NOTES = [
    "Percentages. avg@k = mean over problems of (correct samples / samples); 95% CI: "
    "percentile bootstrap over problems (each problem keeps its samples).",
    "pass@k: unbiased estimator (Chen et al. 2021) with k = the smallest sample count of "
    "the benchmark; maj@k: majority over equivalent extracted answers, ties to the earliest "
    "sample, samples without an answer do not vote.",
    "Tokens and tool calls are means per sample (one attempt at a problem); tool error and "
    "timeout rates are per tool call, the parse failure rate is per turn.",
    "The mean row is the unweighted mean of the benchmark scores, not the mean over all "
    "problems. * problems had different sample counts.",
]


def load_run(results_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """`run.json` of a results directory as a dict ({} when missing or unreadable)."""
    try:
        data = json.loads((Path(results_dir) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def sections(meta: dict[str, Any], records: list[SampleRecord], summary: RunSummary,
             robust: dict[str, Any] | None) -> list[tuple[str, str, Table]]:
    """The summary's (anchor, heading, table) in report order."""
    out = [("run", "Run", meta_table(meta, records))]
    if data_table(meta).rows:
        out.append(("data", "Benchmark data", data_table(meta)))
    if summary.benchmarks:
        out.append(("accuracy", "Accuracy", accuracy_table(summary)))
        out.append(("cost", "Cost and tool use", cost_table(summary)))
    if robust is not None:
        out.append(("robustness", "Robustness (clean − perturbed avg@k)",
                    robustness_table(robust)))
    return out


def title(meta: dict[str, Any], records: list[SampleRecord]) -> str:
    """"DeepTool Gym report: <model>"."""
    return f"DeepTool Gym report: {describe_model(meta, records)}"


def _md_cell(value: str) -> str:
    """A Markdown table cell: pipes and HTML specials escaped with backslashes (GitHub and
    CommonMark render them as the characters, not as entity text), newlines as spaces."""
    out = value.replace("\\", "\\\\")
    for char in "|<>&`":
        out = out.replace(char, "\\" + char)
    return out.replace("](", "]\\(").replace("\r", " ").replace("\n", " ")


def md_table(table: Table) -> str:
    """A Markdown table; number columns right-aligned, text left-aligned."""
    align = "|" + "".join("---:|" if i in table.numeric else ":---|"
                          for i in range(len(table.head)))
    lines = ["| " + " | ".join(_md_cell(h) for h in table.head) + " |", align]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def render_markdown(head: str, summary_sections: list[tuple[str, str, Table]],
                    problems: Table | None, images: dict[str, str]) -> str:
    """The Markdown report; `images` maps alt text to PNG file names to link."""
    parts = [f"# {_md_cell(head)}", ""]
    if problems is None:
        parts += ["No samples in this results directory.", ""]
    for _, heading, table in summary_sections:
        parts += [f"## {heading}", "", md_table(table), ""]
        if heading == "Accuracy":
            parts += [f"- {_md_cell(note)}" for note in NOTES] + [""]
    for alt, name in images.items():
        parts += [f"![{_md_cell(alt)}]({name})", ""]
    if problems is not None:
        parts += ["## Per-problem results", "", md_table(problems), "",
                  "The trajectories of every sample are in report.html.", ""]
    return "\n".join(parts)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same directory and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(
    results_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    compare_dir: str | os.PathLike[str] | None = None,
    k: int | None = None,
) -> dict[str, Path]:
    """Write report.md, report.html and the two PNGs of `results_dir` into `out_dir`
    (default: `results_dir`); `compare_dir` is a perturbed run of the same setup.

    Returns the written paths by kind: "md", "html", "accuracy_png", "cost_png".
    """
    out = Path(out_dir if out_dir is not None else results_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = load_run(results_dir)
    records = read_samples(results_dir)
    summary = summarize(records, k=k)
    runs = [("clean" if compare_dir is not None else "run", summary)]
    robust = None
    if compare_dir is not None:
        perturbed = summarize(read_samples(compare_dir), k=k)
        label = readable(load_run(compare_dir).get("perturbation", "perturbed"))
        runs.append((f"perturbed ({label})", perturbed))
        robust = robustness(summary, perturbed)
    plots: dict[str, tuple[str, bytes]] = {}
    if summary.benchmarks:
        plots["accuracy_png"] = ("Accuracy per benchmark", accuracy_plot(runs))
        plots["cost_png"] = ("Accuracy vs tokens per problem", cost_plot(runs))
    paths: dict[str, Path] = {}
    for kind, (_, png) in plots.items():
        paths[kind] = out / f"report_{kind.removesuffix('_png')}.png"
        write_atomic(paths[kind], png)
    images = {alt: paths[kind].name for kind, (alt, _) in plots.items()}
    head, parts = title(meta, records), sections(meta, records, summary, robust)
    problems = problem_table(records, k) if records else None
    paths["md"] = out / "report.md"
    write_atomic(paths["md"], _utf8(render_markdown(head, parts, problems, images)))
    paths["html"] = out / "report.html"
    page = render_html(head, parts, NOTES if summary.benchmarks else [],
                       dict(plots.values()), viewer_data(records, k), problems)
    write_atomic(paths["html"], _utf8(page))
    return paths


def _utf8(text: str) -> bytes:
    """UTF-8 with any lone surrogate (from a hostile tool or model) as U+FFFD."""
    return text.encode("utf-8", errors="surrogatepass").decode("utf-8", errors="replace"
                                                                ).encode("utf-8")
