"""Write a results directory's report: `report.md` and a self-contained `report.html`.

Both hold the run metadata, accuracy and cost tables per benchmark, the unweighted benchmark
mean and (with a perturbed run to compare) a robustness table. The HTML embeds the two plots
as base64 PNGs and escapes every piece of text; the PNGs are also written next to the
Markdown. Every file is written atomically (temporary file + rename).
"""

from __future__ import annotations

import base64
import html
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .metrics import RunSummary, robustness, summarize
from .records import RUN_FILE, read_samples
from .report_plots import accuracy_plot, cost_plot

META_KEYS = (
    *("model", "agent", "k", "temperature", "top_p", "max_turns", "perturbation"),
    *("package_version", "started", "finished"),
)
ACCURACY_HEAD = ["Benchmark", "Problems", "k", "avg@k", "95% CI", "pass@1", "pass@k", "maj@k"]
COST_HEAD = [
    "Benchmark",
    "Tokens/problem",
    "Tokens/correct",
    "Tool calls/problem",
    "Tool error rate",
    "Tool timeout rate",
    "Parse failure rate",
    "No answer",
]
ROBUST_HEAD = ["Benchmark", "Clean avg@k", "Perturbed avg@k", "Drop (points)"]
CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;
padding:4px 8px;text-align:right}th{background:#f0f0f0}td:first-child,th:first-child{
text-align:left}tr.mean td{font-weight:bold;background:#fafafa}img{max-width:100%}
.note{color:#555;font-size:.9em}"""

Table = tuple[list[str], list[list[str]]]


def load_run(results_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """`run.json` of a results directory as a dict ({} when missing or unreadable)."""
    try:
        data = json.loads((Path(results_dir) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _num(x: float | None, digits: int = 0) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def meta_table(meta: dict[str, Any]) -> Table:
    """Scalar metadata, known keys first (the benchmarks' data identity is `data_table`)."""
    keys = [k for k in META_KEYS if k in meta]
    keys += sorted(k for k in meta if k not in META_KEYS and k != "benchmarks")
    return ["Field", "Value"], [[k, _text(meta[k])] for k in keys]


def data_table(meta: dict[str, Any]) -> Table:
    """Benchmark data identity from run.json: size and content hash."""
    data = meta.get("benchmarks")
    rows = []
    if isinstance(data, dict):
        for name, info in data.items():
            info = info if isinstance(info, dict) else {}
            rows.append([name, _text(info.get("size", "–")), _text(info.get("content_hash", "–"))])
    return ["Benchmark", "Problems", "Content hash"], rows


def accuracy_table(summary: RunSummary) -> Table:
    """One row per benchmark, then the unweighted mean."""
    rows = []
    for b in summary.benchmarks.values():
        low, high = b.avg_at_k_ci or (None, None)
        ci = "–" if low is None else f"[{_pct(low)}, {_pct(high)}]"
        k = f"{b.k}–{b.k_max}*" if b.uneven_samples else str(b.k)
        scores = [b.avg_at_k, b.pass_at_1, b.pass_at_k, b.maj_at_k]
        avg, *rest = (_pct(x) for x in scores)
        rows.append([b.display_name, str(b.n_problems), k, avg, ci, *rest])
    mean = _pct(summary.mean_avg_at_k_unweighted)
    label = f"Mean of {len(summary.benchmarks)} benchmarks (unweighted)"
    rows.append([label, str(summary.total_problems), "", mean, "", "", "", ""])
    return ACCURACY_HEAD, rows


def cost_table(summary: RunSummary) -> Table:
    """Tokens and tool use per benchmark."""
    rows = []
    for b in summary.benchmarks.values():
        rates = [b.tool_error_rate, b.tool_timeout_rate, b.parse_failure_rate, b.no_answer_rate]
        counts = [_num(b.tokens_per_problem), _num(b.tokens_per_correct)]
        rows.append([b.display_name, *counts, _num(b.tool_calls_per_problem, 2)])
        rows[-1] += [_pct(x) for x in rates]
    return COST_HEAD, rows


def robustness_table(result: dict[str, Any]) -> Table:
    """Clean and perturbed avg@k and the drop in points, then their unweighted means."""
    rows = [
        [r["display_name"], _pct(r["clean"]), _pct(r["perturbed"]), _num(100 * r["drop"], 1)]
        for r in result["benchmarks"].values()
    ]
    drop = None if result["mean_drop"] is None else 100 * result["mean_drop"]
    means = [_pct(result["mean_clean"]), _pct(result["mean_perturbed"]), _num(drop, 1)]
    rows.append(["Mean (unweighted)", *means])
    return ROBUST_HEAD, rows


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


def _md_cell(value: str) -> str:
    return html.escape(value).replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> str:
    head, rows = table
    lines = ["| " + " | ".join(_md_cell(h) for h in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _html_table(table: Table, mean_last: bool = False) -> str:
    head, rows = table
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for i, row in enumerate(rows):
        cls = ' class="mean"' if mean_last and i == len(rows) - 1 else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    return "\n".join(out + ["</table>"])


def _sections(
    meta: dict[str, Any], summary: RunSummary, robust: dict[str, Any] | None
) -> list[tuple[str, Table, bool]]:
    """(heading, table, last row is a mean) in report order."""
    out = [("Run", meta_table(meta), False)]
    if data_table(meta)[1]:
        out.append(("Benchmark data", data_table(meta), False))
    if summary.benchmarks:
        out.append(("Accuracy", accuracy_table(summary), True))
        out.append(("Cost and tool use", cost_table(summary), False))
    if robust is not None:
        out.append(("Robustness (clean − perturbed avg@k)", robustness_table(robust), True))
    return out


def _title(meta: dict[str, Any]) -> str:
    return f"DeepTool Gym report: {_text(meta.get('model', 'unknown model'))}"


def render_markdown(
    meta: dict[str, Any],
    summary: RunSummary,
    robust: dict[str, Any] | None = None,
    images: dict[str, str] | None = None,
) -> str:
    """The Markdown report; `images` maps alt text to PNG file names to link."""
    parts = [f"# {_md_cell(_title(meta))}", ""]
    if not summary.benchmarks:
        parts += ["No samples in this results directory.", ""]
    for heading, table, _ in _sections(meta, summary, robust):
        parts += [f"## {heading}", "", _md_table(table), ""]
    if summary.benchmarks:
        parts += [f"- {_md_cell(note)}" for note in NOTES] + [""]
    for alt, name in (images or {}).items():
        parts += [f"![{_md_cell(alt)}]({name})", ""]
    return "\n".join(parts)


def render_html(
    meta: dict[str, Any],
    summary: RunSummary,
    robust: dict[str, Any] | None = None,
    plots: dict[str, bytes] | None = None,
) -> str:
    """The self-contained HTML report; `plots` maps alt text to PNG bytes to embed."""
    title = html.escape(_title(meta))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{CSS}</style></head><body>",
        f"<h1>{title}</h1>",
    ]
    if not summary.benchmarks:
        parts.append("<p>No samples in this results directory.</p>")
    for heading, table, mean_last in _sections(meta, summary, robust):
        parts += [f"<h2>{html.escape(heading)}</h2>", _html_table(table, mean_last)]
    if summary.benchmarks:
        parts.append(
            '<ul class="note">' + "".join(f"<li>{html.escape(n)}</li>" for n in NOTES) + "</ul>"
        )
    for alt, png in (plots or {}).items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></p>')
    return "\n".join(parts + ["</body></html>", ""])


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
    summary = summarize(read_samples(results_dir), k=k)
    runs = [("clean" if compare_dir is not None else "run", summary)]
    robust = None
    if compare_dir is not None:
        perturbed = summarize(read_samples(compare_dir), k=k)
        label = _text(load_run(compare_dir).get("perturbation", "perturbed"))
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
    paths["md"] = out / "report.md"
    write_atomic(paths["md"], render_markdown(meta, summary, robust, images).encode("utf-8"))
    paths["html"] = out / "report.html"
    html_text = render_html(meta, summary, robust, {alt: png for alt, png in plots.values()})
    write_atomic(paths["html"], html_text.encode("utf-8"))
    return paths
