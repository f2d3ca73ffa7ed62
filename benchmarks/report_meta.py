"""The run's identity for the report: which model (and adapter) played, the settings as
readable text (UTC times, lists, no JSON blobs) and where each benchmark's data came from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agents.models import DEFAULT_NAME

from .records import SampleRecord
from .report_tables import Table

# The agents that load the embedded SmolLM2 when no --model is given.
EMBEDDED_AGENTS = ("hf", "vllm")
FIRST_KEYS = (
    *("agent", "benchmarks", "k", "temperature", "top_p", "max_new_tokens", "max_turns"),
    *("max_episode_tokens", "perturbation", "seed", "limit", "package_version"),
    *("started", "finished"),
)
TIME_KEYS = frozenset({"started", "finished"})
# Shown elsewhere (the title, the data table) or of no use to a reader.
SKIP_KEYS = frozenset({"model", "adapter", "datasets", "progress"})


def utc(epoch: float) -> str:
    """A Unix time as `2026-12-02 07:34:26 UTC`."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def readable(value: Any) -> str:
    """A metadata value as prose: lists joined by commas, mappings as `key: value; ...`."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(readable(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {readable(v)}" for k, v in value.items())
    return str(value)


def _adapter_base(path: str) -> str | None:
    """The base model of a LoRA adapter directory (peft's adapter_config.json), or None
    when `path` is not one."""
    try:
        config = json.loads((Path(path) / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    base = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    return os.path.basename(str(base).rstrip("/")) if base else "unknown base model"


def describe_model(meta: dict[str, Any], records: Sequence[SampleRecord] = ()) -> str:
    """The model that played: `--model`, or the embedded SmolLM2 for the local agents,
    with the LoRA adapter when run.json, the records' `extra` or the model path names one."""
    extras = [meta.get("extra") or {}, *(r.extra for r in records[:1])]
    adapter = meta.get("adapter") or next((e["adapter"] for e in extras
                                           if isinstance(e, dict) and e.get("adapter")), None)
    model = meta.get("model")
    agent = meta.get("agent")
    if model and (base := _adapter_base(str(model))) is not None:
        model, adapter = base, adapter or os.path.basename(str(model).rstrip("/"))
    if not model:
        embedded = agent in EMBEDDED_AGENTS
        model = f"{DEFAULT_NAME} (embedded)" if embedded else f"unnamed model ({agent} agent)"
    return f"{model} + LoRA adapter {readable(adapter)}" if adapter else str(model)


def meta_table(meta: dict[str, Any], records: Sequence[SampleRecord] = ()) -> Table:
    """The model, then the settings that are set, known keys first."""
    keys = [k for k in FIRST_KEYS if k in meta]
    keys += sorted(k for k in meta if k not in FIRST_KEYS)
    rows = [["Model", describe_model(meta, records)]]
    for key in keys:
        value = meta[key]
        if key in SKIP_KEYS or value is None or value in ({}, [], ""):
            continue
        is_time = key in TIME_KEYS and isinstance(value, int | float)
        rows.append([key, utc(value) if is_time else readable(value)])
    return Table(["Field", "Value"], rows)


def _source(info: dict[str, Any]) -> str:
    """Where a benchmark's problems came from: a file or hub id, or the generator."""
    parts = [str(info["source"])] if info.get("source") else []
    if info.get("generator"):
        parts.append(f"{info['generator']} v{info.get('version', '?')}, seed {info.get('seed')}")
    if info.get("families"):
        parts.append(f"families {readable(info['families'])}")
    if info.get("difficulty") is not None:
        parts.append(f"difficulty {info['difficulty']}")
    if info.get("limit"):
        parts.append(f"first {info['limit']} problems")
    return "; ".join(parts) or "–"


def data_table(meta: dict[str, Any]) -> Table:
    """Benchmark data identity from run.json's `datasets`: size, source and content hash."""
    data = meta.get("datasets")
    if not isinstance(data, dict):
        data = meta.get("benchmarks") if isinstance(meta.get("benchmarks"), dict) else {}
    rows = []
    for name, info in data.items():
        info = info if isinstance(info, dict) else {}
        rows.append([name, readable(info.get("size", "–")), _source(info),
                     readable(info.get("content_hash", "–"))])
    return Table(["Benchmark", "Problems", "Source", "Content hash (sha256)"], rows,
                 frozenset({1}))
