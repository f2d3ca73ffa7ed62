"""What a hostile upload costs the server: `intake.grade_bundle` (the server's whole
validation, parsing included) on bundles of lines of `1`, a few KB each compressed.

- 10,000,000 lines (20 MB unpacked, about 20 KB sent): refused by the line cap before a
  line is parsed (it took 76 s of CPU before the cap, parsing every line into an issue).
- 199,999 lines, just under the cap: every line parsed, the first 100 issues kept and
  the rest only counted.

Run with `python -m pytest tests/benchmarks/test_leaderboard_upload_cost.py --benchmark-only`.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest

from leaderboard.intake import BundleError, grade_bundle
from leaderboard.submission import DEFAULT_LIMITS

META = {"model_name": "m", "agent": "a", "k": 1, "max_turns": 1, "perturbation": "none",
        "package_version": "0", "datasets": {"aime24": "0" * 64}}


def _bundle(lines: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in (("submission.json", json.dumps(META).encode()),
                           ("samples.jsonl", b"1\n" * lines)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), compresslevel=9)


@pytest.mark.benchmark(group="leaderboard: hostile upload cost")
def test_ten_million_lines_of_one(benchmark) -> None:
    body = _bundle(10_000_000)

    def refuse() -> int:
        try:
            grade_bundle(body, None)
        except BundleError as exc:
            return exc.status
        return 0

    assert benchmark.pedantic(refuse, rounds=5) == 413
    benchmark.extra_info.update(upload_bytes=len(body))


@pytest.mark.benchmark(group="leaderboard: hostile upload cost")
def test_lines_of_one_just_under_the_cap(benchmark) -> None:
    body = _bundle(DEFAULT_LIMITS.max_lines - 1)
    intake = benchmark.pedantic(grade_bundle, args=(body, None), rounds=3)
    assert not intake.ok and len(intake.issues) == 100
    assert intake.issue_counts["wrong_type"] == DEFAULT_LIMITS.max_lines - 1
    benchmark.extra_info.update(upload_bytes=len(body))
