"""The leaderboard server end to end: real uvicorn on a free loopback port, a real SQLite
file, submissions produced by the real harness (`benchmarks.evaluate`) with a scripted
agent on every problem of the six benchmarks; upload, list, detail, ranking, the
CLI (`serve` in a subprocess, `submit`, `validate`, `regrade`, `db`, `build`).

Helpers (runs, bundles, the threaded server) are in `tests/leaderboard_helpers.py`.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")
pytest.importorskip("alembic")

import requests  # noqa: E402

from leaderboard.cli import main as leaderboard_main  # noqa: E402

from .leaderboard_helpers import (  # noqa: E402
    TOKEN,
    LiveServer,
    bundle_of,
    server_config,
    six_benchmark_runs,
    small_run,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def runs(tmp_path_factory, data_dir) -> dict[str, Path]:
    """The six-benchmark runs and the small one, shared by the leaderboard tests."""
    base = tmp_path_factory.mktemp("leaderboard-runs")
    return {**six_benchmark_runs(base, data_dir), "small": small_run(base, data_dir)}


def test_upload_list_detail_and_ranking(tmp_path, data_dir, runs):
    with LiveServer(server_config(tmp_path, data_dir)) as live:
        ids = {}
        for name in ("weak", "strong", "strong-adv"):
            response = live.upload(bundle_of(runs[name], data_dir))
            assert response.status_code == 201, response.text
            ids[name] = response.json()["id"]
        listed = live.entries()
        assert [e["id"] for e in listed][:2] == [ids["strong"], ids["strong-adv"]]
        assert [e["rank"] for e in listed] == [1, 2, 3]
        assert listed[-1]["id"] == ids["weak"]
        scores = [e["score"] for e in listed]
        assert scores == sorted(scores, reverse=True)
        strong = listed[0]
        assert set(strong["benchmarks"]) == {"aime24", "aime25", "hmmt_feb_2025", "amc23",
                                             "math500", "olympiadbench"}
        means = [cell["avg"] for cell in strong["benchmarks"].values()]
        assert strong["score"] == pytest.approx(sum(means) / 6)
        assert strong["robustness"]["other_id"] == ids["strong-adv"]
        assert strong["robustness"]["drop"] > 0
        assert listed[2]["robustness"] is None

        detail = requests.get(f"{live.url}/api/submissions/{ids['strong']}", timeout=30).json()
        assert detail["summary"]["benchmarks"]["aime24"]["n_problems"] == 30
        problems = detail["results"]["problems"]
        assert len(problems) == 1305 and sum(p["samples"] for p in problems) == 1305
        assert detail["results"]["examples"] and detail["status"] == "accepted"
        assert detail["meta"]["model_name"] == "strong-model" and detail["submitter"] == "tester"
        assert requests.get(f"{live.url}/api/submissions/999", timeout=30).status_code == 404

        page = requests.get(live.url + "/", timeout=30).text
        assert page.index("strong-model") < page.index("weak-model")
        assert f'href="/entry/{ids["weak"]}"' in page
        entry = requests.get(f"{live.url}/entry/{ids['strong']}", timeout=30)
        assert entry.status_code == 200 and "aime24-I-01" in entry.text
        assert "Sample trajectories" in entry.text
        assert requests.get(f"{live.url}/entry/999", timeout=30).status_code == 404


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_serve_validate_and_submit(tmp_path, data_dir, runs, capsys):
    token_file = tmp_path / "tokens.txt"
    token_file.write_text(f"# uploaders\ncli-user:{TOKEN}\n")
    port = _free_port()
    db = tmp_path / "served.db"
    command = [sys.executable, "-m", "leaderboard.cli", "serve", "--db", str(db),
               "--data-dir", str(data_dir), "--port", str(port), "--token-file", str(token_file)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(url + "/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        assert leaderboard_main(["validate", str(runs["weak"]), "--data-dir",
                                 str(data_dir)]) == 0
        assert "valid" in capsys.readouterr().out
        code = leaderboard_main(["submit", str(runs["weak"]), "--server", url, "--token", TOKEN,
                                 "--data-dir", str(data_dir)])
        out = capsys.readouterr()
        assert code == 0, out
        assert "accepted as entry 1" in out.out
        code = leaderboard_main(["submit", str(runs["weak"]), "--server", url, "--token",
                                 "not-the-right-token-at-all", "--data-dir", str(data_dir)])
        assert code == 1 and "401" in capsys.readouterr().err
        entries = requests.get(url + "/api/submissions", timeout=30).json()["submissions"]
        assert [e["model"] for e in entries] == ["weak-model"]
    finally:
        process.terminate()
        process.wait(timeout=10)
    code = leaderboard_main(["submit", str(runs["weak"]), "--server", url, "--token", TOKEN,
                             "--data-dir", str(data_dir)])
    assert code == 2 and "cannot reach" in capsys.readouterr().err


def test_validate_reports_line_numbers_and_fails(tmp_path, data_dir, runs, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "run.json").write_text((runs["small"] / "run.json").read_text())
    records = [json.loads(line) for line in (runs["small"] / "samples.jsonl").read_text()
               .splitlines()]
    line = next(i for i, r in enumerate(records, 1) if not r["correct"])
    records[line - 1]["correct"] = True
    (broken / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert leaderboard_main(["validate", str(broken), "--data-dir", str(data_dir)]) == 1
    out = capsys.readouterr().out
    assert f"tampered_verdict: samples.jsonl line {line} " in out
    assert f"{broken}: INVALID" in out
    code = leaderboard_main(["submit", str(broken), "--server", "http://127.0.0.1:9",
                             "--token", TOKEN, "--data-dir", str(data_dir)])
    assert code == 1 and "not submitted" in capsys.readouterr().err
    assert leaderboard_main(["validate", str(tmp_path / "nothing")]) == 1
    assert "neither a results directory nor a bundle" in capsys.readouterr().out


def test_regrade_restores_server_numbers_and_prints_moves(tmp_path, data_dir, runs, capsys):
    config = server_config(tmp_path, data_dir)
    with LiveServer(config) as live:
        for name in ("strong", "weak"):
            assert live.upload(bundle_of(runs[name], data_dir)).status_code == 201
        before = {e["id"]: (e["rank"], e["score"]) for e in live.entries()}
    with sqlite3.connect(tmp_path / "leaderboard.db") as connection:  # an older grader's view
        summary = json.loads(connection.execute(
            "SELECT summary FROM submissions WHERE model = 'weak-model'").fetchone()[0])
        for metrics in summary["benchmarks"].values():
            metrics["avg_at_k"] = 1.0
        connection.execute("UPDATE submissions SET summary = ?, score = 1.0 WHERE model = "
                           "'weak-model'", (json.dumps(summary),))
    with LiveServer(config) as live:
        assert live.entries()[0]["model"] == "weak-model"
    (tmp_path / "no-data").mkdir()
    assert leaderboard_main(["regrade", "--db", config.db_url, "--data-dir",
                             str(tmp_path / "no-data")]) == 2
    assert "nothing was changed" in capsys.readouterr().err
    assert leaderboard_main(["regrade", "--db", config.db_url, "--data-dir",
                             str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "'weak-model': rank 1 -> 2 score 100.0 ->" in out
    assert "'strong-model': rank 2 -> 1" in out
    assert "re-graded 2 submissions: 2 changed, 0 unchanged" in out
    with LiveServer(config) as live:
        after = {e["id"]: (e["rank"], e["score"]) for e in live.entries()}
        detail = requests.get(f"{live.url}/api/submissions/1", timeout=30).json()
    assert after == before and detail["regraded_at"] is not None


def test_static_build_and_db_commands(tmp_path, data_dir, runs, capsys):
    config = server_config(tmp_path, data_dir)
    with LiveServer(config) as live:
        for name in ("strong", "weak"):
            assert live.upload(bundle_of(runs[name], data_dir)).status_code == 201
    site = tmp_path / "site"
    site.mkdir()
    (site / "stale.html").write_text("old")
    assert leaderboard_main(["build", "--out", str(site), "--db", config.db_url]) == 0
    assert "wrote 3 pages" in capsys.readouterr().out
    assert sorted(p.name for p in site.rglob("*.html")) == ["1.html", "2.html", "index.html"]
    index = (site / "index.html").read_text()
    assert 'href="entry/1.html"' in index and 'href="entry/2.html"' in index
    assert index.index("strong-model") < index.index("weak-model")
    assert 'href="../index.html"' in (site / "entry" / "1.html").read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []

    fresh = tmp_path / "fresh.db"
    assert leaderboard_main(["db", "current", "--db", str(fresh)]) == 0
    assert "revision None" in capsys.readouterr().out
    assert leaderboard_main(["db", "upgrade", "--db", str(fresh)]) == 0
    assert "sqlite database at revision 0002" in capsys.readouterr().out


def test_migrations_match_the_models(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from leaderboard.db import Base, Database

    db = Database(str(tmp_path / "schema.db"))
    db.upgrade()
    db.upgrade()
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    db.close()


def test_token_file_rules(tmp_path):
    from leaderboard.config import ConfigError, load_tokens

    path = tmp_path / "tokens"
    path.write_text("alice:" + "a" * 20 + "\n" + "b" * 24 + "  # bare token\n")
    tokens = load_tokens(path, env={"DEEPTOOL_LEADERBOARD_TOKENS": "carol:" + "c" * 16})
    assert len(tokens) == 3
    assert tokens.check("a" * 20) == "alice" and tokens.check("c" * 16) == "carol"
    assert tokens.check("b" * 24).startswith("token-")
    assert tokens.check("a" * 19) is None and tokens.check("") is None
    assert tokens.check(None) is None
    path.write_text("dave:short\n")
    with pytest.raises(ConfigError, match=r"tokens:1: a token needs at least 16"):
        load_tokens(path, env={})
