"""The output files of a synthesis run: kept trajectories, rejects, and the manifest.

    <out>                   one kept trajectory per line (the SFT data)
    <stem>.rejects.jsonl    one rejected problem per line, with the reason
    <stem>.manifest.json    the settings, prompt version and source hash of the run

Both JSONL files are append-only, one flushed and fsynced line per problem, so a crash or
Ctrl-C loses at most the line being written; a torn last line is cut off when the file is
opened again. A rerun skips every problem already in either file, and refuses to write
into files made with other settings (`SettingsMismatchError`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MANIFEST_VERSION = 1


class SettingsMismatchError(ValueError):
    """The output already holds a run made with other settings."""


def sibling(out: str | os.PathLike[str], suffix: str) -> Path:
    """`data/x.jsonl` -> `data/x<suffix>`."""
    path = Path(out)
    return path.with_name(path.name[:-len(".jsonl")] + suffix)


class JsonlLog:
    """An append-only JSONL file: fsynced lines, torn tail repaired on open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size:
            with open(path, "rb+") as handle:
                data = handle.read()
                if not data.endswith(b"\n"):  # the process died mid-write
                    handle.truncate(data.rfind(b"\n") + 1)
        self._handle = open(path, "a", encoding="utf-8")

    def read(self) -> list[dict[str, Any]]:
        """Every complete line (also usable while appending)."""
        with open(self.path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.endswith("\n") and line.strip()]

    def append(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()


class SynthesisStore:
    """The kept and rejected logs of one output, with its manifest."""

    def __init__(self, out: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
        self.manifest_path = sibling(out, ".manifest.json")
        self._check_manifest(manifest)
        self.kept = JsonlLog(Path(out))
        self.rejects = JsonlLog(sibling(out, ".rejects.jsonl"))
        if not self.manifest_path.exists():
            tmp = self.manifest_path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
            os.replace(tmp, self.manifest_path)

    def _check_manifest(self, manifest: dict[str, Any]) -> None:
        if not self.manifest_path.exists():
            return
        stored = json.loads(self.manifest_path.read_text())
        old, new = stored.get("settings", {}), manifest["settings"]
        differ = sorted(key for key in {*old, *new} if old.get(key) != new.get(key))
        if differ:
            changes = "; ".join(f"{key}: {old.get(key)!r} -> {new.get(key)!r}"
                                for key in differ)
            raise SettingsMismatchError(
                f"{self.manifest_path.parent} already holds a synthesis run with other "
                f"settings ({changes}). Use another --out, or the stored settings to resume "
                f"(see {self.manifest_path}).")

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
