"""The trajectory viewer's data: every sample of a run as plain JSON for `report.html`.

Each turn is split as the env parsed it (thinking, code, answer, parse error) and keeps what
the model was shown, what the tool really printed on perturbed turns (the audit record's
`observation_clean`), the real and shown tool status and the turn's reward terms. Model and
tool text is untrusted: it is embedded as JSON in a non-executable script element with every
`<`, `>` and `&` escaped, and the page's script only ever sets it as text.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from deeptool_env.protocol import parse_action

from .metrics import benchmark_sort_key, display_name, group_problems, sample_tokens
from .records import SampleRecord

MAX_TEXT_CHARS = 20_000
_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                 "\u2028": "\\u2028", "\u2029": "\\u2029"}


def clip(text: Any) -> str | None:
    """Text for the page: None stays None, lone surrogates become U+FFFD, and a text over
    MAX_TEXT_CHARS keeps its head and tail around a note of how much was cut."""
    if text is None:
        return None
    text = _SURROGATE.sub("\ufffd", str(text))
    if len(text) <= MAX_TEXT_CHARS:
        return text
    half = MAX_TEXT_CHARS // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n[… {cut:,} characters cut in the report …]\n{text[-half:]}"


def _tool(tool: Any) -> dict[str, Any] | None:
    if not isinstance(tool, dict):
        return None
    keys = ("status", "shown_status", "exit_code", "wall_ms", "truncated")
    return {k: clip(tool[k]) if isinstance(tool[k], str) else tool[k]
            for k in keys if k in tool}


def _numbers(terms: Any) -> dict[str, float]:
    if not isinstance(terms, dict):
        return {}
    return {clip(k): float(v) for k, v in terms.items() if _finite(v) is not None}


def _finite(value: Any) -> float | None:
    """A finite number, else None (JSON has no NaN or infinity)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def turn_view(turn: dict[str, Any]) -> dict[str, Any]:
    """One turn for the viewer. `clean` is what the tool really printed, set only on a
    perturbed turn; `clean_missing` says the record has no audit copy of it."""
    action = str(turn.get("action") or "")
    parsed = parse_action(action, max_chars=len(action) + 1)
    perturbation = turn.get("perturbation")
    perturbed = isinstance(perturbation, dict)
    view = {
        "action": clip(action), "thinking": clip(parsed.thinking) or None,
        "code": clip(parsed.code), "answer": clip(parsed.answer),
        "parse_error": clip(turn.get("parse_error")),
        "observation": clip(turn.get("observation")), "tool": _tool(turn.get("tool")),
        "reward_terms": _numbers(turn.get("reward_terms")), "perturbation": None,
    }
    if perturbed:
        view["perturbation"] = {
            "kind": clip(perturbation.get("kind")), "family": clip(perturbation.get("family")),
            "params": clip(json.dumps(perturbation.get("params"), ensure_ascii=False,
                                      sort_keys=True, default=str)),
        }
        view["clean"] = clip(turn.get("observation_clean"))
        view["clean_missing"] = "observation_clean" not in turn
    return view


def sample_view(record: SampleRecord) -> dict[str, Any]:
    """One sample: its identity, verdict, counters and turns."""
    turns = [turn_view(t) for t in record.turns if isinstance(t, dict)]
    return {
        "benchmark": clip(record.benchmark), "benchmark_name": clip(display_name(record.benchmark)),
        "problem": clip(record.problem_id), "sample": record.sample, "gold": clip(record.gold),
        "extracted": clip(record.extracted), "correct": bool(record.correct),
        "reason": clip(record.reason), "termination": clip(record.termination),
        "reward": _finite(record.reward), "tokens": sample_tokens(record),
        "tool_calls": record.tool_calls, "parse_errors": record.parse_errors,
        "perturbation": clip(record.perturbation),
        "perturbed_turns": sum(t["perturbation"] is not None for t in turns), "turns": turns,
    }


def viewer_data(records: list[SampleRecord], k: int | None = None) -> list[dict[str, Any]]:
    """Every sample in report order: benchmarks as the tables, problems as run, samples by
    number (the samples the metrics counted)."""
    grouped = group_problems(records, k)
    return [sample_view(r) for bench in sorted(grouped, key=benchmark_sort_key)
            for samples in grouped[bench].values() for r in samples]


def embed_json(data: Any) -> str:
    """JSON that is inert inside `<script type="application/json">`: no `<`, `>` or `&`
    can close the element or open a comment, and JSON.parse reads it back unchanged."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group()], text)
