"""The leaderboard on a real PostgreSQL: a throwaway cluster started for this module
(`leaderboard_helpers.postgres_cluster`: initdb + pg_ctl under a temp dir; `bash
.ci/postgres-setup.sh` installs Debian's `postgresql`), the real server on 127.0.0.1 in
front of it. Covers the migrations (and the 0002 backfill of stored rows), uploads and
ranking, replays in another wrapping, ids past PostgreSQL's 32-bit INTEGER, and regrade.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")
pytest.importorskip("alembic")

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from leaderboard.cli import main as leaderboard_main  # noqa: E402
from leaderboard.db import Base, Database  # noqa: E402
from leaderboard.results_dir import load_submission  # noqa: E402

from .leaderboard_helpers import (  # noqa: E402
    LiveServer,
    bundle_of,
    postgres_cluster,
    server_config,
    six_benchmark_runs,
    small_run,
)
from .test_leaderboard_hostile import wrap  # noqa: E402


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def fresh(pg_url) -> str:
    """The cluster's database with no leaderboard tables."""
    scratch = Database(pg_url)
    scratch.downgrade()
    scratch.close()
    return pg_url


def _schema_matches(db: Database) -> bool:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_postgresql_store(tmp_path_factory, tmp_path, data_dir, fresh):
    runs = six_benchmark_runs(tmp_path_factory.mktemp("pg-runs"), data_dir)
    config = server_config(tmp_path, data_dir)
    config.db_url = fresh
    with LiveServer(config) as live:
        assert live.app.state.db.engine.dialect.name == "postgresql"
        for name in ("weak", "strong"):
            assert live.upload(bundle_of(runs[name], data_dir)).status_code == 201
        assert [e["model"] for e in live.entries()] == ["strong-model", "weak-model"]
        assert _schema_matches(live.app.state.db)
    assert leaderboard_main(["regrade", "--db", fresh, "--data-dir", str(data_dir)]) == 0


def test_postgresql_replays_and_ids(tmp_path, data_dir, fresh):
    run = small_run(tmp_path, data_dir)
    body = bundle_of(run, data_dir)
    sub = load_submission(body)
    config = server_config(tmp_path, data_dir)
    config.db_url = fresh
    with LiveServer(config) as live:
        first = live.upload(body)
        assert first.status_code == 201, first.text
        replay = live.upload(wrap(sub.metadata_bytes, sub.samples_bytes, level=None))
        assert replay.status_code == 409 and replay.json()["id"] == first.json()["id"]
        for segment in ("2147483648", "9223372036854775808", "0"):
            for path in (f"/entry/{segment}", f"/api/submissions/{segment}"):
                assert requests.get(live.url + path, timeout=30).status_code == 404, path
        assert requests.get(f"{live.url}/entry/{first.json()['id']}", timeout=30).ok


def test_postgresql_backfill_of_content_digests(tmp_path, data_dir, fresh):
    run = small_run(tmp_path, data_dir)
    body = bundle_of(run, data_dir)
    replay = wrap(load_submission(body).metadata_bytes, load_submission(body).samples_bytes,
                  level=1)
    db = Database(fresh)
    db.upgrade("0001")
    table = sa.Table("submissions", sa.MetaData(), autoload_with=db.engine)
    row = {"model": "m", "submitter": "s", "perturbation": "none", "status": "accepted",
           "score": None, "meta": {}, "summary": {}, "results": {}, "issues": [],
           "bundle_size": 1, "grader_version": "0", "package_version": "0",
           "created_at": sa.func.now(), "updated_at": sa.func.now()}
    with db.engine.begin() as connection:  # two rows of 0001: a run and its replay
        for data, digest in ((body, "a" * 64), (replay, "b" * 64)):
            connection.execute(table.insert().values(**row, bundle=data, bundle_sha256=digest))
    db.upgrade()
    assert _schema_matches(db)
    with db.engine.connect() as connection:
        digests = connection.execute(sa.text(
            "SELECT content_sha256 FROM submissions ORDER BY id")).scalars().all()
    assert digests == [load_submission(body).content_sha256(), "b" * 64]
    assert db.find_content(digests[0]) == 1
    db.close()
