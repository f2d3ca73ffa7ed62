"""Attacks on the leaderboard server, each against the real uvicorn server and SQLite file:
forged metrics, a flipped verdict, a duplicated sample, bad tokens, rate limiting, a 1 GB
upload (declared and chunked), a disconnect mid-upload, HTML in the model name, and
concurrent uploads.
"""

from __future__ import annotations

import resource
import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

import requests  # noqa: E402

from benchmarks.metrics import summarize  # noqa: E402
from benchmarks.records import read_samples  # noqa: E402

from . import leaderboard_helpers  # noqa: E402
from .leaderboard_helpers import TOKEN, LiveServer, bundle_of, server_config, tampered  # noqa: E402

GIB = 1024**3
LIMIT = 4 * 1024 * 1024

run = leaderboard_helpers.small_run_fixture("attack-runs")


@pytest.fixture
def live(tmp_path, data_dir):
    with LiveServer(server_config(tmp_path, data_dir, max_upload_bytes=LIMIT, rate_limit=50,
                                  max_concurrent_validations=8)) as server:
        yield server


def _count(live: LiveServer) -> int:
    return len(live.entries())


def test_forged_metrics_are_refused_or_ignored(live, run, tmp_path):
    claimed = {"mean": 1.0, "aime24": {"avg_at_k": 1.0, "pass_at_k": 1.0}}
    response = live.upload(tampered(run, tmp_path / "claims", lambda r, m: None,
                                    {"claimed": claimed}))
    assert response.status_code == 422, response.text
    codes = {issue["code"] for issue in response.json()["issues"]}
    assert codes == {"claim_mismatch"} and _count(live) == 0

    def forge(records: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        meta["summary"] = {"mean_avg_at_k_unweighted": 1.0, "avg_at_k": 1.0}
        for record in records:
            record["reward"] = 9.0
            record["extra"] = {"avg_at_k": 1.0}

    response = live.upload(tampered(run, tmp_path / "forged", forge))
    assert response.status_code == 201, response.text
    stored = response.json()["summary"]["benchmarks"]["aime24"]["avg_at_k"]
    honest = summarize(read_samples(run), bootstrap=0).benchmarks["aime24"].avg_at_k
    assert stored == pytest.approx(honest) and stored < 0.9


def test_flipped_verdict_is_refused(live, run, tmp_path):
    def flip(records: list[dict[str, Any]], _meta: dict[str, Any]) -> None:
        wrong = next(r for r in records if not r["correct"])
        wrong["correct"], wrong["reason"] = True, "match"

    response = live.upload(tampered(run, tmp_path / "flipped", flip))
    assert response.status_code == 422, response.text
    assert "issues" in response.json() and response.json()["issues"]
    assert _count(live) == 0


def test_duplicated_sample_to_inflate_k_is_refused(live, run, tmp_path):
    def duplicate(records: list[dict[str, Any]], _meta: dict[str, Any]) -> None:
        best = next(r for r in records if r["correct"])
        records.append({**best, "sample": 2})
        records.append(dict(best))

    response = live.upload(tampered(run, tmp_path / "duplicated", duplicate))
    assert response.status_code == 422, response.text
    assert _count(live) == 0


def test_tokens_and_rate_limit(tmp_path, data_dir, run):
    body = bundle_of(run, data_dir)
    with LiveServer(server_config(tmp_path, data_dir, rate_limit=2, rate_window_s=60)) as live:
        assert live.upload(body, token="wrong-token-0123456789").status_code == 401
        bare = requests.post(f"{live.url}/api/submissions", data=body, timeout=30)
        assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Bearer"
        basic = requests.post(f"{live.url}/api/submissions", data=body, timeout=30,
                              headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401
        assert live.upload(body).status_code == 201
        assert live.upload(body).status_code == 409
        limited = live.upload(body)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert _count(live) == 1


def _request_head(live: LiveServer, extra: str) -> bytes:
    return (f"POST /api/submissions HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/octet-stream\r\n"
            f"{extra}\r\n").encode()


def _stream_zeros(live: LiveServer, head: bytes, chunked: bool) -> tuple[int, int, float]:
    """Send `head`, then zeros (up to 1 GiB) until the server answers; returns the status,
    the bytes of body sent, and the seconds it took."""
    started = time.monotonic()
    sent = 0
    status: list[int] = []
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        sock.sendall(head)

        def read_status() -> None:
            data = sock.recv(4096)
            status.append(int(data.split(b" ", 2)[1]) if data else 0)

        reader = threading.Thread(target=read_status, daemon=True)
        reader.start()
        chunk = b"\0" * 65536
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk
        while sent < GIB and not status:
            try:
                sock.sendall(frame)
            except OSError:
                break
            sent += len(chunk)
        reader.join(timeout=30)
    return (status or [0])[0], sent, time.monotonic() - started


def test_1gb_upload_is_refused_early_without_buffering(live):
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    status, sent, seconds = _stream_zeros(live, _request_head(live, f"Content-Length: {GIB}\r\n"),
                                          chunked=False)
    assert status == 413 and seconds < 10
    assert sent < 64 * LIMIT
    status, sent, seconds = _stream_zeros(
        live, _request_head(live, "Transfer-Encoding: chunked\r\n"), chunked=True)
    assert status == 413 and seconds < 10
    assert sent < 64 * LIMIT
    growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert growth_kib < 200 * 1024
    assert requests.get(live.url + "/healthz", timeout=10).ok and _count(live) == 0


def test_disconnect_mid_upload_leaves_no_entry(live, run, data_dir, tmp_path):
    body = bundle_of(run, data_dir)
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(_request_head(live, f"Content-Length: {len(body)}\r\n") + body[:100])
    time.sleep(0.3)
    assert _count(live) == 0
    with sqlite3.connect(tmp_path / "leaderboard.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 0
    assert live.upload(body).status_code == 201 and _count(live) == 1


def test_html_in_model_name_is_escaped(live, run, tmp_path):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'

    def rename(_records: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        meta["model"] = evil
        meta["agent"] = "<b>agent</b>"

    response = live.upload(tampered(run, tmp_path / "evil", rename))
    assert response.status_code == 201, response.text
    for path in ("/", f"/entry/{response.json()['id']}"):
        reply = requests.get(live.url + path, timeout=30)
        assert "script-src 'sha256-" in reply.headers["content-security-policy"]
        assert reply.headers["x-content-type-options"] == "nosniff"
        page = reply.text
        assert evil not in page and "<img src=x" not in page and "<b>agent</b>" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert live.entries()[0]["model"] == evil


def test_concurrent_uploads_lose_and_duplicate_nothing(live, run, tmp_path):
    def named(i: int) -> bytes:
        def edit(_records: list[dict[str, Any]], meta: dict[str, Any]) -> None:
            meta["model"] = f"model-{i}"

        return tampered(run, tmp_path / f"copy-{i}", edit)

    bodies = [named(i) for i in range(9)]
    with ThreadPoolExecutor(8) as pool:
        statuses = [r.status_code for r in pool.map(live.upload, bodies[:8])]
    assert statuses == [201] * 8
    with ThreadPoolExecutor(4) as pool:
        same = sorted(r.status_code for r in pool.map(live.upload, [bodies[8]] * 4))
    assert same == [201, 409, 409, 409]
    entries = live.entries()
    assert sorted(e["model"] for e in entries) == [f"model-{i}" for i in range(9)]
    assert len({e["id"] for e in entries}) == 9
