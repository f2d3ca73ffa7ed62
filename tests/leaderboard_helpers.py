"""Shared helpers of the leaderboard tests: valid submissions from the real harness, and
the real server (uvicorn) in a thread on a free loopback port.

The leaderboard ranks only submissions that cover every problem of the six benchmarks
(1,305), so one real `benchmarks.evaluate` run of a scripted agent (about 7 s) is made per
session and the other models are derived from it (`derive`); `small_run` is a quick real
run of AIME24 alone (valid, unranked) for tests that need no ranking.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn

from agents import Agent
from benchmarks import SIX_BENCHMARKS, evaluate
from deeptool_env.tasks import load_tasks
from leaderboard.config import ServerConfig, Tokens
from leaderboard.intake import check_results
from leaderboard.results_dir import load_submission
from leaderboard.server import create_app
from leaderboard.submission import to_bundle

TOKEN = "test-token-0123456789abcdef"
WRONG = "-987654321"
_RUNS: dict[tuple[Any, ...], Path] = {}


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from `parts`."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def _answer(value: str) -> str:
    return f"<think>done</think><answer>\\boxed{{{value}}}</answer>"


def _integer(gold: str) -> bool:
    """Whether a gold answer is an integer: only those get wrong answers in these runs, as
    the grader decides integer pairs in-process (a symbolic gold needs its worker pool)."""
    return re.fullmatch(r"-?\d+", gold.strip()) is not None


class OracleAgent(Agent):
    """Answers the gold answer, except for a seeded fraction `1 - skill` of the samples with
    an integer gold, which get a wrong number (after one tool call with `tool_call`): valid
    runs of a chosen accuracy."""

    concurrent_episodes = True

    def __init__(self, data_dir: Path, skill: float, salt: str, tool_call: bool) -> None:
        self.data_dir, self.skill, self.salt, self.tool_call = data_dir, skill, salt, tool_call
        self.golds: dict[str, Any] = {}

    def act(self, observation: str, info: dict[str, Any]) -> str:
        if self.tool_call and info.get("tool_calls", 0) == 0:
            return "<think>warm up the tool</think><code>print(6 * 7)</code>"
        benchmark, index, sample = info["episode_key"]
        if benchmark not in self.golds:
            self.golds[benchmark] = load_tasks(benchmark, data_dir=self.data_dir)
        gold = self.golds[benchmark][index].answer
        right = not _integer(gold) or _unit(self.salt, benchmark, index, sample) < self.skill
        return _answer(gold if right else WRONG)


def harness_run(base: Path, data_dir: Path, model: str, skill: float, *,
                benchmarks: tuple[str, ...] = SIX_BENCHMARKS, k: int = 1,
                tool_call: bool = False) -> Path:
    """A results directory written by `benchmarks.evaluate` (cached for the session)."""
    key = ("run", model, skill, benchmarks, k, tool_call)
    if key not in _RUNS:
        out = base / f"run-{len(_RUNS)}"
        evaluate(OracleAgent(data_dir, skill, model, tool_call), out=str(out),
                 benchmarks=benchmarks, k=k, max_turns=3, data_dir=str(data_dir),
                 model=model, progress=False, concurrency=16)
        _RUNS[key] = out
    return _RUNS[key]


def derive(run: Path, model: str, keep: float, perturbation: str = "none") -> Path:
    """A copy of a harness run under another model name in which a seeded fraction
    `1 - keep` of the correct samples with an integer gold answer a wrong number instead
    (answer turn, final text and verdict changed together, so it stays a consistent, valid
    run). The leaderboard needs every problem of the six benchmarks (1,305), which the
    harness plays in about 7 s: one real run, then cheap variants of it."""
    key = ("derived", run, model, keep, perturbation)
    if key not in _RUNS:
        out = run.parent / f"derived-{len(_RUNS)}"
        out.mkdir()
        meta = json.loads((run / "run.json").read_text())
        (out / "run.json").write_text(json.dumps({**meta, "model": model,
                                                  "perturbation": perturbation}))
        lines = []
        for line in (run / "samples.jsonl").read_text().splitlines():
            record = json.loads(line)
            record["perturbation"] = perturbation
            draw = _unit(model, record["problem_id"], record["sample"])
            if record["correct"] and _integer(record["gold"]) and draw >= keep:
                text = _answer(WRONG)
                record["turns"][-1]["action"] = record["final_text"] = text
                record.update(correct=False, reason="mismatch", extracted=WRONG)
            lines.append(json.dumps(record) + "\n")
        (out / "samples.jsonl").write_text("".join(lines))
        _RUNS[key] = out
    return _RUNS[key]


def six_benchmark_runs(base: Path, data_dir: Path) -> dict[str, Path]:
    """A strong and a weak model on all six benchmarks, and the strong one perturbed."""
    strong = harness_run(base, data_dir, "strong-model", 0.9)
    return {"strong": strong, "weak": derive(strong, "weak-model", 0.4),
            "strong-adv": derive(strong, "strong-model", 0.7, "adversarial")}


def small_run(base: Path, data_dir: Path) -> Path:
    """AIME24 only, k=2, one tool call per sample: valid, but not ranked (one benchmark)."""
    return harness_run(base, data_dir, "small-model", 0.5, benchmarks=("aime24",), k=2,
                       tool_call=True)


def small_run_fixture(name: str) -> Callable[..., Path]:
    """A module-scoped fixture: `small_run` in a fresh directory called `name`."""

    @pytest.fixture(scope="module")
    def run(tmp_path_factory, data_dir) -> Path:
        return small_run(tmp_path_factory.mktemp(name), data_dir)

    return run


def bundle_of(results: Path, data_dir: Path) -> bytes:
    """The upload bundle of a results directory (validated as `submit` does)."""
    check = check_results(results, str(data_dir))
    assert check.ok and check.bundle is not None, check.lines
    return check.bundle


class LiveServer:
    """`create_app(config)` served by uvicorn in a thread on a free 127.0.0.1 port."""

    def __init__(self, config: ServerConfig) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(config)
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.app.state.db.close()
        self.sock.close()

    def upload(self, body: bytes, token: str = TOKEN) -> requests.Response:
        return requests.post(f"{self.url}/api/submissions", data=body, timeout=60,
                             headers={"Authorization": f"Bearer {token}"})

    def entries(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.url}/api/submissions", timeout=30).json()["submissions"]


def server_config(tmp_path: Path, data_dir: Path, **options: Any) -> ServerConfig:
    """A config with the test token and a fresh SQLite file under `tmp_path`."""
    tokens = Tokens()
    tokens.add("tester", TOKEN)
    return ServerConfig(db_url=str(tmp_path / "leaderboard.db"), data_dir=str(data_dir),
                        tokens=tokens, **options)


def tampered(run: Path, out: Path, edit: Callable[[list[dict[str, Any]], dict[str, Any]], None],
             overlay: dict[str, Any] | None = None) -> bytes:
    """The bundle of a copy of `run` after `edit(records, run_json)` changed it in place, with
    an optional `metadata.json` overlay (bundled without any client-side check, as an
    attacker would)."""
    records = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    meta = json.loads((run / "run.json").read_text())
    edit(records, meta)
    out.mkdir()
    (out / "run.json").write_text(json.dumps(meta))
    (out / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if overlay is not None:
        (out / "metadata.json").write_text(json.dumps(overlay))
    return to_bundle(load_submission(out))


POSTGRES_URL_ENV = "DEEPTOOL_TEST_POSTGRES_URL"


def _postgres_bin() -> Path | None:
    """The directory of PostgreSQL's initdb and pg_ctl (PATH first, then Debian's)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return versions[-1].parent if versions else None


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """The URL of a throwaway PostgreSQL cluster: initdb + pg_ctl under a fresh temp dir
    (as the `postgres` user when run as root, as PostgreSQL refuses root), on a free
    loopback port, trust authentication; stopped and removed afterwards. A URL in
    $DEEPTOOL_TEST_POSTGRES_URL is used instead (its leaderboard tables are dropped).
    Skips with the reason when the server binaries or psycopg are missing."""
    pytest.importorskip("psycopg", reason="psycopg is needed: pip install 'psycopg[binary]'")
    if os.environ.get(POSTGRES_URL_ENV):
        yield os.environ[POSTGRES_URL_ENV]
        return
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: bash "
                    ".ci/postgres-setup.sh, or apt-get install postgresql")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="deeptool-pg-"))
    if os.geteuid() == 0:
        try:
            record = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a postgres user to run PostgreSQL")
        os.chown(root, record.pw_uid, record.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = root / "data", root / "server.log"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -F -c fsync=off"
    pg_ctl = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*pg_ctl, "-o", options, "-l", str(log), "-w", "-t", "60", "start"],
                       check=True, capture_output=True, timeout=90)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True,
                       timeout=60)
        shutil.rmtree(root, ignore_errors=True)
