"""Submissions from where they are on disk: a `deeptool-bench run` results directory, a
bundle file, or bundle bytes (`load_submission`).

A results directory: `run.json` gives model, agent, k, max_turns, max_episode_tokens,
perturbation, package version, decoding and dataset hashes; an optional `metadata.json`
next to it may add `model_name` (required when run.json has no `model`), `model_link`,
`decoding`, `claimed` and `notes` (nothing else); `samples.jsonl` holds the samples. Sizes
are checked before anything is read (`submission.Limits`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from benchmarks.records import RUN_FILE, SAMPLES_FILE

from .issues import Budget
from .submission import (
    DEFAULT_LIMITS,
    Limits,
    MiB,
    Submission,
    SubmissionError,
    loads,
    too_large,
)

OVERLAY_FILE = "metadata.json"
OVERLAY_KEYS = ("model_name", "model_link", "decoding", "claimed", "notes")


def _read_limited(path: Path, limit: int) -> bytes:
    size = path.stat().st_size
    if size > limit:
        raise too_large(str(path), size, limit)
    return path.read_bytes()


def _read_json_file(path: Path, limit: int) -> dict[str, Any]:
    raw = _read_limited(path, limit)
    try:
        data = loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SubmissionError("bad_json", f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SubmissionError("bad_json", f"{path} must hold a JSON object")
    return data


def metadata_from_run(run: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Full metadata (the `SubmissionMetadata` fields) from run.json plus the optional
    metadata.json overlay; the result is checked later by the schema, not here."""
    unknown = sorted(set(overlay) - set(OVERLAY_KEYS))
    if unknown:
        raise SubmissionError("unknown_field", f"{OVERLAY_FILE}: field(s) {', '.join(unknown)} "
                              f"may not be set there (allowed: {', '.join(OVERLAY_KEYS)}; the "
                              f"rest comes from {RUN_FILE})")
    datasets = run.get("datasets")
    meta: dict[str, Any] = {
        "model_name": run.get("model"), "agent": run.get("agent"), "k": run.get("k"),
        "max_turns": run.get("max_turns"), "max_episode_tokens": run.get("max_episode_tokens"),
        "perturbation": run.get("perturbation"),
        "package_version": run.get("package_version"),
        "datasets": ({name: (prov or {}).get("content_hash") if isinstance(prov, dict) else prov
                      for name, prov in datasets.items()} if isinstance(datasets, dict)
                     else datasets),
    }
    decoding = {key: run[key] for key in ("temperature", "top_p", "max_new_tokens")
                if run.get(key) is not None}
    if decoding:
        meta["decoding"] = decoding
    meta.update(overlay)
    return {key: value for key, value in meta.items() if value is not None}


def load_submission(source: str | os.PathLike[str] | bytes, *,
                    limits: Limits = DEFAULT_LIMITS, budget: Budget | None = None
                    ) -> Submission:
    """A submission from a results directory, a bundle file, or bundle bytes."""
    if isinstance(source, bytes | bytearray | memoryview):
        return Submission.from_bundle(bytes(source), limits=limits, budget=budget)
    path = Path(source)
    if path.is_file():
        limit = limits.samples_bytes + limits.metadata_bytes + MiB  # tar headers, padding
        return Submission.from_bundle(_read_limited(path, limit), limits=limits)
    if not path.is_dir():
        raise SubmissionError("missing_file", f"{path} is neither a results directory nor a "
                              "bundle file")
    for name in (RUN_FILE, SAMPLES_FILE):
        if not (path / name).is_file():
            raise SubmissionError("missing_file", f"{path} has no {name}: is it the --out "
                                  "directory of `deeptool-bench run`?")
    run = _read_json_file(path / RUN_FILE, limits.metadata_bytes)
    overlay_path = path / OVERLAY_FILE
    overlay = (_read_json_file(overlay_path, limits.metadata_bytes)
               if overlay_path.is_file() else {})
    meta = metadata_from_run(run, overlay)
    metadata_bytes = json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8")
    samples = _read_limited(path / SAMPLES_FILE, limits.samples_bytes)
    return Submission.from_files(metadata_bytes, samples, limits=limits)
