"""The attacks of issue 17, each played against the real server (uvicorn on 127.0.0.1, a
real SQLite file) with a real harness run: replays in another wrapping, trajectories that
break the declared settings, forged token counters, uploads that cost more to refuse than
to send, and entry ids past the database's integer range. Also the per-token rate limit at
its default and the static export (escaping and CSP).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html as html_text
import io
import json
import re
import tarfile
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

import requests  # noqa: E402

from benchmarks.records import read_samples  # noqa: E402
from leaderboard.cli import build_parser  # noqa: E402
from leaderboard.cli import main as leaderboard_main  # noqa: E402
from leaderboard.config import ServerConfig  # noqa: E402
from leaderboard.results_dir import load_submission  # noqa: E402

from . import leaderboard_helpers  # noqa: E402
from .leaderboard_helpers import TOKEN, LiveServer, bundle_of, server_config, tampered  # noqa: E402

OTHER_TOKEN = "second-token-0123456789abcdef"


run = leaderboard_helpers.small_run_fixture("hostile-runs")


@pytest.fixture
def live(tmp_path, data_dir):
    with LiveServer(server_config(tmp_path, data_dir)) as server:
        yield server


def wrap(metadata: bytes, samples: bytes, *, level: int | None = 9, mtime: int = 0,
         reverse_members: bool = False) -> bytes:
    """A bundle built by hand: tar members in either order, gzip at `level` and `mtime`
    (None: a plain, uncompressed tar)."""
    members = [("samples.jsonl", samples), ("submission.json", metadata)]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in reversed(members) if reverse_members else members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    return raw if level is None else gzip.compress(raw, compresslevel=level, mtime=mtime)


def test_replays_in_another_wrapping_are_409(live, run, data_dir):
    body = bundle_of(run, data_dir)
    first = live.upload(body)
    assert first.status_code == 201, first.text
    sub = load_submission(body)
    meta, samples = sub.metadata_bytes, sub.samples_bytes
    indented = json.dumps(json.loads(meta), indent=4, sort_keys=False).encode()
    lines = samples.decode().splitlines()
    reordered = ("\r\n".join(reversed(lines)) + "\r\n").encode()
    respaced = "".join(json.dumps(json.loads(line), indent=1).replace("\n", " ") + "\n"
                       for line in lines).encode()
    replays = {"gzip level 1": wrap(meta, samples, level=1),
               "another mtime": wrap(meta, samples, mtime=1_234_567),
               "plain tar": wrap(meta, samples, level=None),
               "members swapped": wrap(meta, samples, reverse_members=True),
               "metadata re-indented": wrap(indented, samples),
               "lines reordered, CRLF": wrap(meta, reordered),
               "lines re-spaced": wrap(meta, respaced)}
    for name, replay in replays.items():
        assert replay != body
        response = live.upload(replay)
        assert response.status_code == 409, (name, response.text)
        assert response.json()["id"] == first.json()["id"], name
    assert len(live.entries()) == 1


def _codes(response: requests.Response) -> set[str]:
    return {issue["code"] for issue in response.json().get("issues", [])}


def test_trajectories_must_respect_the_declared_settings(live, run, tmp_path):
    assert all(len(r.turns) == 2 for r in read_samples(run))

    def one_turn(_records: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        meta["max_turns"] = 1

    response = live.upload(tampered(run, tmp_path / "max-turns", one_turn))
    assert response.status_code == 422, response.text
    assert "max_turns_exceeded" in _codes(response)

    def tiny_budget(_records: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        meta["max_episode_tokens"] = 20

    response = live.upload(tampered(run, tmp_path / "budget", tiny_budget))
    assert response.status_code == 422, response.text
    assert "max_episode_tokens_exceeded" in _codes(response)

    def perturbed(records: list[dict[str, Any]], _meta: dict[str, Any]) -> None:
        records[3]["turns"][0]["perturbation"] = {"kind": "numeric_corruption",
                                                  "family": "corrupted", "params": {}}

    response = live.upload(tampered(run, tmp_path / "perturbed", perturbed))
    assert response.status_code == 422, response.text
    assert "perturbation_mismatch" in _codes(response)
    assert live.entries() == []


def _set_counter(name: str, value: int):
    def edit(records: list[dict[str, Any]], _meta: dict[str, Any]) -> None:
        for record in records:
            record[name] = value

    return edit


def test_token_counters_are_recounted_bounded_and_labelled(live, run, tmp_path):
    for name, value in (("episode_tokens", 0), ("episode_tokens", 10**15),
                        ("completion_tokens", 10**15), ("prompt_tokens", 10**15)):
        response = live.upload(tampered(run, tmp_path / f"{name}-{value}",
                                        _set_counter(name, value)))
        assert response.status_code == 422, (name, value, response.text)
        assert _codes(response) == {"counter_out_of_bounds"}, (name, value)

    response = live.upload(tampered(run, tmp_path / "small-usage",
                                    _set_counter("completion_tokens", 5)))
    assert response.status_code == 201, response.text
    env_count = [r.episode_tokens for r in read_samples(run)]
    stored = response.json()["summary"]["benchmarks"]["aime24"]["tokens_per_problem"]
    assert stored == pytest.approx(sum(env_count) / len(env_count))
    cost = requests.get(f"{live.url}/api/submissions/{response.json()['id']}",
                        timeout=30).json()["results"]["cost"]["aime24"]
    assert cost["self_reported"]["completion_tokens"] == 5
    assert cost["self_reported"]["prompt_tokens"] is None
    assert cost["tokens_per_sample"] == pytest.approx(stored) and cost["turns_per_sample"] == 2
    page = requests.get(f"{live.url}/entry/{response.json()['id']}", timeout=30).text
    assert "Completion tokens/sample (self-reported)" in page and "not reported" in page
    index = requests.get(live.url + "/", timeout=30).text
    assert "Tokens/problem (recounted)" in index
    assert "Every number was\nrecomputed" not in index


def test_tokens_counted_with_the_models_tokenizer(tmp_path, data_dir, run):
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer

    from deeptool_env.protocol import USER_TEMPLATE, system_prompt
    from deeptool_env.tasks import load_tasks
    from tests.tiny_model import build_tokenizer

    build_tokenizer(tmp_path / "tok")
    tokenizer = Tokenizer.from_file(str(tmp_path / "tok" / "tokenizer.json"))

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    config = server_config(tmp_path, data_dir, tokenizers={"small-model": str(tmp_path / "tok")})
    with LiveServer(config) as live:
        def short(_records: list[dict[str, Any]], meta: dict[str, Any]) -> None:
            meta["max_new_tokens"] = 2

        response = live.upload(tampered(run, tmp_path / "short", short))
        assert response.status_code == 422, response.text
        assert "max_new_tokens_exceeded" in _codes(response)
        response = live.upload(bundle_of(run, data_dir))
        assert response.status_code == 201, response.text
    problems = {t.id: t.problem for t in load_tasks("aime24", data_dir=data_dir)}
    meta = json.loads((run / "run.json").read_text())
    want = [count(f"{system_prompt(meta['max_turns'])}\n\n"
                  f"{USER_TEMPLATE.format(problem=problems[r.problem_id])}")
            + sum(count(t["action"]) + count(t["observation"]) for t in r.turns)
            for r in read_samples(run)]
    stored = response.json()["summary"]["benchmarks"]["aime24"]["tokens_per_problem"]
    assert stored == pytest.approx(sum(want) / len(want))


def _lines_of_one(count: int) -> bytes:
    meta = {"model_name": "m", "agent": "a", "k": 1, "max_turns": 1, "perturbation": "none",
            "package_version": "0", "datasets": {"aime24": "0" * 64}}
    return wrap(json.dumps(meta).encode(), b"1\n" * count)


def test_cheap_uploads_are_refused_cheaply(live):
    bomb = _lines_of_one(10_000_000)
    assert len(bomb) < 40_000
    response = live.upload(bomb)
    assert response.status_code == 413, response.text
    assert "10000000 lines" in response.json()["detail"]
    assert "nothing was parsed" in response.json()["detail"]

    response = live.upload(_lines_of_one(150_000))
    assert response.status_code == 422, response.text
    payload = response.json()
    assert len(payload["issues"]) == 100
    assert payload["issue_counts"]["wrong_type"] == 150_000
    assert payload["issues_omitted"] == sum(payload["issue_counts"].values()) - 100


def test_the_time_budget_covers_parsing(tmp_path, data_dir, run):
    with LiveServer(server_config(tmp_path, data_dir, validation_budget_s=1e-9)) as live:
        response = live.upload(_lines_of_one(5_000))
        assert response.status_code == 422, response.text
        assert "budget" in response.json()["detail"] and "parsing" in response.json()["detail"]
        response = live.upload(bundle_of(run, data_dir))
        assert response.status_code == 422 and "budget_exceeded" in _codes(response)


def test_concurrent_validations_are_limited(tmp_path, data_dir, run):
    body = bundle_of(run, data_dir)
    with LiveServer(server_config(tmp_path, data_dir, max_concurrent_validations=1)) as live:
        slots = live.app.state.validations
        assert slots.try_acquire()  # one validation in progress
        try:
            busy = live.upload(body)
        finally:
            slots.release()
        assert busy.status_code == 503 and int(busy.headers["retry-after"]) >= 1
        assert live.upload(body).status_code == 201
    assert ServerConfig().max_concurrent_validations == 2


@pytest.mark.parametrize("segment", ["9223372036854775808", "2147483648", "1" * 40, "0",
                                     "-1", "01", "1e3", "abc", "%20"])
def test_entry_ids_out_of_range_are_404(live, segment):
    for path in (f"/entry/{segment}", f"/api/submissions/{segment}"):
        response = requests.get(live.url + path, timeout=30)
        assert response.status_code == 404, (path, response.status_code, response.text[:200])


def test_rate_limit_at_its_default(tmp_path, data_dir):
    defaults = build_parser().parse_args(["serve"])
    config = server_config(tmp_path, data_dir)
    assert (config.rate_limit, config.rate_window_s) == (30, 60.0)
    assert (defaults.rate_limit, defaults.rate_window) == (30, 60.0)
    config.tokens.add("other", OTHER_TOKEN)
    with LiveServer(config) as live:
        statuses = [live.upload(b"not a bundle").status_code for _ in range(30)]
        assert statuses == [400] * 30
        limited = live.upload(b"not a bundle")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert live.upload(b"not a bundle", token=OTHER_TOKEN).status_code == 400
        assert live.upload(b"not a bundle", token=TOKEN).status_code == 429


EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_static_build_escapes_and_carries_the_csp(live, run, tmp_path):
    def evil(_records: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        meta["model"], meta["agent"] = EVIL, "<b>agent</b>"

    response = live.upload(tampered(run, tmp_path / "evil", evil, {"notes": EVIL}))
    assert response.status_code == 201, response.text
    served = requests.get(live.url + "/", timeout=30).headers["content-security-policy"]
    site = tmp_path / "site"
    assert leaderboard_main(["build", "--out", str(site), "--db",
                             live.app.state.config.db_url]) == 0
    pages = sorted(site.rglob("*.html"))
    assert [p.name for p in pages] == ["1.html", "index.html"]
    for page in pages:
        html = page.read_text()
        meta_csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">',
                             html)
        assert meta_csp is not None and html_text.unescape(meta_csp.group(1)) == served
        assert EVIL not in html and "<img src=x" not in html and "<b>agent</b>" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
        assert "javascript:" not in html
        scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
        for script in scripts:
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in served
