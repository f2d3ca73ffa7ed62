"""`report.html`: the report's tables, the embedded plots and the trajectory viewer in one
self-contained page (inline CSS and script, images as data URIs, nothing from the network).

Every piece of text is escaped; the samples travel as inert JSON (`report_viewer`) that the
script renders as text only. A Content-Security-Policy lets only this page's own style and
script run (by their hashes), so even text that slipped past escaping could not execute.
"""

from __future__ import annotations

import base64
import hashlib
import html
from pathlib import Path
from string import Template
from typing import Any

from .report_tables import Table
from .report_viewer import embed_json

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE = Template((TEMPLATES / "report.html").read_text(encoding="utf-8"))
STYLE = (TEMPLATES / "report.css").read_text(encoding="utf-8")
SCRIPT = (TEMPLATES / "report.js").read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


CSP = ("default-src 'none'; img-src data:; base-uri 'none'; form-action 'none'; "
       f"style-src {_sha256(STYLE)}; script-src {_sha256(SCRIPT)}")
VIEWER = """<div class="filters">
<label>Benchmark <select id="filter-benchmark"><option value="">all</option></select></label>
<label>Outcome <select id="filter-outcome"><option value="">all</option>
<option value="correct">correct</option><option value="incorrect">incorrect</option>
</select></label>
<label>Problem <input id="filter-problem" type="search" placeholder="problem id"></label>
<span id="match-count" class="muted"></span></div>
<noscript><p>The trajectory viewer needs JavaScript.</p></noscript>
<div class="panes"><ol id="sample-list" aria-label="samples"></ol>
<article id="sample-detail" aria-live="polite"></article></div>"""


def html_table(table: Table) -> str:
    """A table with escaped cells, number columns right-aligned, a bold mean row and, for
    problem rows, data attributes naming the problem."""
    def cls(i: int) -> str:
        return ' class="num"' if i in table.numeric else ""

    head = "".join(f"<th{cls(i)}>{html.escape(h)}</th>" for i, h in enumerate(table.head))
    table_id = f' id="{html.escape(table.table_id)}"' if table.table_id else ""
    out = [f"<table{table_id}><thead><tr>{head}</tr></thead><tbody>"]
    for r, row in enumerate(table.rows):
        attrs = ' class="mean"' if table.mean_last and r == len(table.rows) - 1 else ""
        if table.row_keys:
            bench, problem = table.row_keys[r]
            attrs += f' data-benchmark="{html.escape(bench)}" data-problem="{html.escape(problem)}"'
        cells = "".join(f"<td{cls(i)}>{html.escape(c)}</td>" for i, c in enumerate(row))
        out.append(f"<tr{attrs}>{cells}</tr>")
    return "\n".join(out + ["</tbody></table>"])


def _plots(plots: dict[str, bytes]) -> list[str]:
    return [f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,'
            f'{base64.b64encode(png).decode("ascii")}"></p>' for alt, png in plots.items()]


def render_html(title: str, sections: list[tuple[str, str, Table]], notes: list[str],
                plots: dict[str, bytes], samples: list[dict[str, Any]],
                problems: Table | None = None) -> str:
    """The page: `sections` are the summary's (anchor, heading, table) in order, `notes`
    explain the metrics, `plots` maps alt text to PNG bytes, then the per-problem table and
    the viewer of `samples` (`report_viewer.viewer_data`)."""
    parts = [] if samples else ["<p>No samples in this results directory.</p>"]
    for anchor, heading, table in sections:
        parts += [f'<h2 id="{html.escape(anchor)}">{html.escape(heading)}</h2>',
                  html_table(table)]
        if anchor == "accuracy" and notes:
            items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
            parts.append(f'<ul class="note">{items}</ul>')
    parts += _plots(plots)
    if problems is not None:
        parts += ['<h2 id="problem-results">Per-problem results</h2>',
                  '<p class="note">Click a problem to see its samples below.</p>',
                  html_table(problems)]
    if samples:
        parts += ['<h2 id="trajectories">Trajectories</h2>', VIEWER,
                  f'<script type="application/json" id="samples-data">{embed_json(samples)}'
                  "</script>", f"<script>{SCRIPT}</script>"]
    return PAGE.substitute(csp=CSP, title=html.escape(title), style=STYLE,
                           body="\n".join(parts))
