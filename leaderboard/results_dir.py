"""Submissions from where they are on disk: a `deeptool-bench run` results directory, a
bundle file, or bundle bytes (`load_submission`).

A results directory: `run.json` gives agent, k, max_turns, max_episode_tokens,
perturbation, package version, decoding and dataset hashes, and the model name where it
knows one (`run_model_name`: `--model`, or the embedded model of the hf/vllm agents, with
its LoRA adapter, named as the report names it); an optional `metadata.json` next to it may
set `model_name`, `model_link`, `decoding`, `claimed` and `notes` (nothing else), and a
`model_name` given to `load_submission` (`--model-name`) beats both. `samples.jsonl` holds
the samples. Sizes are checked before anything is read (`submission.Limits`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agents.models import DEFAULT_NAME
from benchmarks.records import RUN_FILE, SAMPLES_FILE
from benchmarks.report_meta import EMBEDDED_AGENTS, describe_model

from .issues import Budget
from .submission import (
    BUNDLE_METADATA,
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
FIX = (f"fix with --model-name NAME (validate, submit) or a {OVERLAY_FILE} beside {RUN_FILE} "
       f"(fields: {', '.join(OVERLAY_KEYS)})")


def run_model_name(run: dict[str, Any]) -> str | None:
    """The model name run.json implies, or None when it names none (a custom agent run
    without --model). A local path names its directory, not where it is on this machine."""
    model, agent = run.get("model"), run.get("agent")
    if not model:
        return describe_model({**run, "model": DEFAULT_NAME}) if agent in EMBEDDED_AGENTS \
            else None
    name = describe_model(run)
    if name == str(model) and (os.path.isabs(name) or os.path.isdir(name)):
        name = os.path.basename(name.rstrip("/" + os.sep)) or name
    return name


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


def metadata_from_run(run: dict[str, Any], overlay: dict[str, Any],
                      model_name: str | None = None) -> dict[str, Any]:
    """Full metadata (the `SubmissionMetadata` fields) from run.json, the optional
    metadata.json overlay and `model_name`, in rising precedence; the result is checked
    later by the schema, not here."""
    unknown = sorted(set(overlay) - set(OVERLAY_KEYS))
    if unknown:
        raise SubmissionError("unknown_field", f"{OVERLAY_FILE}: field(s) {', '.join(unknown)} "
                              f"may not be set there (allowed: {', '.join(OVERLAY_KEYS)}; the "
                              f"rest comes from {RUN_FILE})")
    datasets = run.get("datasets")
    meta: dict[str, Any] = {
        "model_name": run_model_name(run), "agent": run.get("agent"), "k": run.get("k"),
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
    if model_name is not None:
        meta["model_name"] = model_name
    return {key: value for key, value in meta.items() if value is not None}


def model_name_source(run: dict[str, Any], overlay: dict[str, Any],
                      model_name: str | None = None) -> str | None:
    """Where the model name of `metadata_from_run` comes from, for messages; None: nowhere."""
    if model_name is not None:
        return "--model-name"
    if overlay.get("model_name") is not None:
        return OVERLAY_FILE
    if run_model_name(run) is None:
        return None
    return f"{RUN_FILE} " + ("model" if run.get("model") else f"agent {run.get('agent')}")


def load_submission(source: str | os.PathLike[str] | bytes, *, model_name: str | None = None,
                    limits: Limits = DEFAULT_LIMITS, budget: Budget | None = None
                    ) -> Submission:
    """A submission from a results directory, a bundle file, or bundle bytes; `model_name`
    (`--model-name`) names the model of a results directory (a bundle names its own)."""
    if isinstance(source, bytes | bytearray | memoryview) or Path(source).is_file():
        if model_name is not None:
            raise SubmissionError("bad_option", "--model-name applies to a results directory; "
                                  f"a bundle carries its own {BUNDLE_METADATA}")
        if isinstance(source, bytes | bytearray | memoryview):
            return Submission.from_bundle(bytes(source), limits=limits, budget=budget)
        limit = limits.samples_bytes + limits.metadata_bytes + MiB  # tar headers, padding
        return Submission.from_bundle(_read_limited(Path(source), limit), limits=limits)
    return load_results_dir(source, model_name=model_name, limits=limits)[0]


def load_results_dir(source: str | os.PathLike[str], *, model_name: str | None = None,
                     limits: Limits = DEFAULT_LIMITS) -> tuple[Submission, str | None]:
    """The submission of a `deeptool-bench run` directory, and where its model name comes
    from (`model_name_source`; None when nothing names the model)."""
    path = Path(source)
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
    meta = metadata_from_run(run, overlay, model_name)
    metadata_bytes = json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8")
    samples = _read_limited(path / SAMPLES_FILE, limits.samples_bytes)
    return (Submission.from_files(metadata_bytes, samples, limits=limits),
            model_name_source(run, overlay, model_name))
