"""HTML pages of the leaderboard: the ranked table and one detail page per entry.

Rendered with Jinja2 templates (`leaderboard/templates`) under autoescaping, so model names,
run settings, answers and trajectories from submitters always reach the browser as text.
The same renderer serves the live server (links `/entry/3`) and the static export (links
`entry/3.html`), through `Links`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

import deeptool_env
from benchmarks.metrics import benchmark_sort_key

from .ranking import Row, headers

TEMPLATES = Path(__file__).resolve().parent / "templates"
SORT_JS = (TEMPLATES / "sort.js").read_text(encoding="utf-8")
# Only the sorting script may run (by its hash), so even text that escaped escaping could
# not execute; styles are inline, nothing is loaded from elsewhere.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
       "form-action 'none'; script-src 'sha256-"
       + base64.b64encode(hashlib.sha256(SORT_JS.encode("utf-8")).digest()).decode() + "'")
# Dataset hashes, self-reported claims (compared, never shown) and local paths are left out.
META_SKIP = {"datasets", "claimed", "out", "data_dir", "progress", "ray_address"}
META_MAX_CHARS = 500


@dataclass(frozen=True)
class Links:
    """Where pages link to: `root` is the path from the current page to the site root;
    `static` selects `.html` file names instead of the server's routes."""

    root: str = "/"
    static: bool = False

    def index(self) -> str:
        return self.root + ("index.html" if self.static else "")

    def entry(self, entry_id: int) -> str:
        return f"{self.root}entry/{int(entry_id)}" + (".html" if self.static else "")


def pct(value: float | None) -> str:
    """A fraction as a percentage with one decimal ("–" when missing)."""
    return "–" if value is None else f"{100 * float(value):.1f}"


def points(value: float | None) -> str:
    """A fraction difference in percentage points with a sign."""
    return "–" if value is None else f"{100 * float(value):+.1f}"


def count(value: float | None) -> str:
    """A mean count rounded to a whole number with thousands separators."""
    return "–" if value is None else f"{float(value):,.0f}"


def num(value: float | None) -> str:
    """A number for a `data-value` sort key (empty when missing)."""
    return "" if value is None else repr(float(value))


def when(value: datetime | None) -> str:
    """A stored timestamp to the minute (stored in UTC)."""
    return "–" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def issue_text(issue: Any) -> str:
    """One validation issue as a line: `[level] code: message` (the message names the file,
    line and field itself)."""
    if not isinstance(issue, dict):
        return str(issue)
    level, code = issue.get("level") or "error", issue.get("code")
    message = issue.get("message") or json.dumps(issue, ensure_ascii=False, sort_keys=True)
    return f"[{level}] {code}: {message}" if code else f"[{level}] {message}"


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=False)
    env.globals.update(pct=pct, points=points, count=count, num=num, issue_text=issue_text,
                       when=when)
    return env


_ENV = _environment()


def _common(title: str, links: Links) -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return {"title": title, "links": links, "generated": stamp, "csp": CSP,
            "version": deeptool_env.__version__}


def render_index(rows: list[Row], *, title: str, links: Links | None = None) -> str:
    """The leaderboard page: one sortable table of every ranked row."""
    return _ENV.get_template("index.html").render(
        rows=rows, benchmarks=headers(), sort_js=SORT_JS, **_common(title, links or Links()))


def _meta_items(meta: dict[str, Any]) -> list[tuple[str, str]]:
    items = []
    for key in sorted(meta):
        if key in META_SKIP:
            continue
        value = meta[key]
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if len(text) > META_MAX_CHARS:
            text = text[:META_MAX_CHARS] + " …"
        items.append((str(key), text))
    return items


def render_entry(entry: Any, row: Row | None, *, title: str,
                 links: Links | None = None) -> str:
    """The detail page of one submission: metrics per benchmark, run settings, validation
    notes, a few trajectories and every problem's result; the recounted cost per benchmark
    next to the submitter's self-reported token counters, labelled as such."""
    summary = entry.summary if isinstance(entry.summary, dict) else {}
    metrics = summary.get("benchmarks") or {}
    ordered = sorted(metrics.items(), key=lambda item: benchmark_sort_key(item[0]))
    results = entry.results if isinstance(entry.results, dict) else {}
    cost = results.get("cost") if isinstance(results.get("cost"), dict) else {}
    return _ENV.get_template("entry.html").render(
        entry=entry, row=row, metrics=ordered,
        cost=sorted(cost.items(), key=lambda item: benchmark_sort_key(item[0])),
        meta=_meta_items(entry.meta if isinstance(entry.meta, dict) else {}),
        examples=results.get("examples") or [], problems=results.get("problems") or [],
        **_common(title, links or Links()))


def render_error(status: int, message: str, *, title: str) -> str:
    """A minimal page for 404s and other errors (message escaped)."""
    page = _ENV.from_string(
        "{% extends 'base.html' %}{% block body %}<h1>{{ status }}</h1>"
        "<p>{{ message }}</p>{% endblock %}")
    return page.render(status=status, message=message, **_common(title, Links()))
