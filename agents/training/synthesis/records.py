"""The output files of a synthesis run: kept trajectories, rejects, and the manifest.

    <out>                   one kept trajectory per line (the SFT data)
    <stem>.rejects.jsonl    one rejected problem per line, with the reason
    <stem>.manifest.json    the settings, prompt version and source hash of the run

Both JSONL files are append-only, one flushed and fsynced line per problem, so a crash or
Ctrl-C loses at most the line being written; a torn last line is cut off when the file is
opened again. A rerun skips every problem already in either file, and refuses to write
into files made with other settings (`SettingsMismatchError`). The file handling is
`deeptool_env.run_records`, shared with the benchmark harness.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from deeptool_env.run_records import (
    JsonlLog,
    SettingsMismatchError,
    require_same_settings,
    write_json_atomic,
)

__all__ = ["MANIFEST_VERSION", "JsonlLog", "SettingsMismatchError", "SynthesisStore",
           "sibling"]

MANIFEST_VERSION = 1


def sibling(out: str | os.PathLike[str], suffix: str) -> Path:
    """`data/x.jsonl` -> `data/x<suffix>`."""
    path = Path(out)
    return path.with_name(path.name[:-len(".jsonl")] + suffix)


class SynthesisStore:
    """The kept and rejected logs of one output, with its manifest."""

    def __init__(self, out: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
        self.manifest_path = sibling(out, ".manifest.json")
        self._check_manifest(manifest)
        self.kept = JsonlLog(Path(out))
        self.rejects = JsonlLog(sibling(out, ".rejects.jsonl"))
        if not self.manifest_path.exists():
            write_json_atomic(self.manifest_path, manifest)

    def _check_manifest(self, manifest: dict[str, Any]) -> None:
        if not self.manifest_path.exists():
            return
        stored = json.loads(self.manifest_path.read_text())
        require_same_settings(
            stored.get("settings", {}), manifest["settings"],
            holder=f"{self.manifest_path.parent} (a synthesis output)",
            fix=f"use another --out, or the stored settings to resume (see "
                f"{self.manifest_path})")

    def done(self) -> tuple[set[str], int, int]:
        """Task ids already decided, and how many were kept / rejected."""
        kept = [r["task_id"] for r in self.kept.read()]
        rejected = [r["task_id"] for r in self.rejects.read()]
        return {*kept, *rejected}, len(kept), len(rejected)

    def close(self) -> None:
        self.kept.close()
        self.rejects.close()

    def __enter__(self) -> SynthesisStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
