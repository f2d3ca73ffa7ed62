"""The submission store: one SQLAlchemy model, the engine, alembic upgrades, and the few
queries the server, the regrader and the static site need.

A submission is stored whole in one row: its metadata, the uploaded bundle bytes, and what
the server computed from them (summary, per-problem results, status, grader and package
versions). A row is written by one transaction after validation succeeded, so a crash
mid-upload leaves nothing behind. A run is stored once: `content_sha256` (the canonical
content, `Submission.content_sha256`) is unique, so a replay in another wrapping (other gzip
level or mtime, a plain tar, re-indented JSON, reordered lines) is a `DuplicateSubmission`.
The schema is owned by the alembic migrations in
`leaderboard/migrations`; `Database.upgrade()` brings any database to the newest revision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from .config import database_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
ACCEPTED = "accepted"
MAX_ID = 2**31 - 1  # ids are INTEGER: 32 bits in PostgreSQL (SQLite overflows at 2**63)
INVALID = "invalid"


class Base(DeclarativeBase):
    """Declarative base whose metadata the migrations target."""


def _now() -> datetime:
    return datetime.now(UTC)


class Submission(Base):
    """One uploaded run; `bundle` (the upload as sent) is loaded only when asked for."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("bundle_sha256", name="uq_submissions_bundle_sha256"),
                      UniqueConstraint("content_sha256", name="uq_submissions_content_sha256"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(200), index=True)
    submitter: Mapped[str] = mapped_column(String(100))
    perturbation: Mapped[str] = mapped_column(String(64), default="none")
    status: Mapped[str] = mapped_column(String(16), index=True, default=ACCEPTED)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    results: Mapped[dict[str, Any]] = mapped_column(JSON)
    issues: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    bundle: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    bundle_sha256: Mapped[str] = mapped_column(String(64))
    content_sha256: Mapped[str] = mapped_column(String(64))
    bundle_size: Mapped[int] = mapped_column(Integer)
    grader_version: Mapped[str] = mapped_column(String(64))
    package_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    regraded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DuplicateSubmission(ValueError):
    """The same run (bundle bytes or canonical content) was stored before, as entry
    `existing_id`."""

    def __init__(self, existing_id: int | None) -> None:
        super().__init__(f"this run was already submitted (entry {existing_id})")
        self.existing_id = existing_id


@dataclass
class Grading:
    """What validation computed for a bundle: the fields the server owns."""

    status: str
    score: float | None
    summary: dict[str, Any]
    results: dict[str, Any]
    issues: list[dict[str, Any]]
    grader_version: str
    package_version: str


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url` (a path means SQLite); SQLite gets WAL and a busy timeout so
    concurrent writers wait for each other instead of failing."""
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """The store of one database URL."""

    def __init__(self, url: str | None = None) -> None:
        self.url = database_url(url)
        self.engine = make_engine(self.url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self, revision: str = "head") -> None:
        """Apply the alembic migrations up to `revision` (idempotent)."""
        from alembic import command

        with self.engine.begin() as connection:
            command.upgrade(self._alembic(connection), revision)

    def _alembic(self, connection: Connection) -> Any:
        """An alembic config that migrates `connection` with our scripts."""
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        config.attributes["connection"] = connection
        return config

    def downgrade(self, revision: str = "base") -> None:
        """Revert the migrations down to `revision` (`base`: drop the leaderboard tables)."""
        from alembic import command

        with self.engine.begin() as connection:
            command.downgrade(self._alembic(connection), revision)

    def current_revision(self) -> str | None:
        """The alembic revision the database is at (None before the first upgrade)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def insert(self, *, model: str, submitter: str, perturbation: str, meta: dict[str, Any],
               bundle: bytes, content_sha256: str, grading: Grading) -> Submission:
        """Store one validated submission in a single transaction."""
        digest = hashlib.sha256(bundle).hexdigest()
        row = Submission(model=model, submitter=submitter, perturbation=perturbation,
                         meta=meta, bundle=bundle, bundle_sha256=digest,
                         content_sha256=content_sha256, bundle_size=len(bundle),
                         **vars(grading))
        try:
            with self.sessions.begin() as session:
                session.add(row)
        except IntegrityError as exc:
            existing = self.find_bundle(bundle) or self.find_content(content_sha256)
            if existing is None:
                raise
            raise DuplicateSubmission(existing) from exc
        return row

    def find_content(self, content_sha256: str) -> int | None:
        """The id of the submission stored with this canonical content, if any."""
        with self.sessions() as session:
            return session.scalar(select(Submission.id)
                                  .where(Submission.content_sha256 == content_sha256))

    def find_bundle(self, bundle: bytes) -> int | None:
        """The id of the submission stored with exactly these bytes, if any."""
        digest = hashlib.sha256(bundle).hexdigest()
        with self.sessions() as session:
            return session.scalar(select(Submission.id).where(Submission.bundle_sha256 == digest))

    def entries(self, status: str | None = ACCEPTED) -> list[Submission]:
        """Submissions without their bundles, oldest first (all statuses with None)."""
        query = select(Submission).order_by(Submission.id)
        if status is not None:
            query = query.where(Submission.status == status)
        with self.sessions() as session:
            return list(session.scalars(query))

    def get(self, entry_id: int) -> Submission | None:
        """One submission without its bundle (None for ids no row can have)."""
        if not 1 <= entry_id <= MAX_ID:
            return None
        with self.sessions() as session:
            return session.get(Submission, entry_id)

    def bundles(self) -> Iterator[tuple[int, bytes]]:
        """(id, bundle bytes) of every submission, one row in memory at a time."""
        with self.sessions() as session:
            ids = list(session.scalars(select(Submission.id).order_by(Submission.id)))
        for entry_id in ids:
            with self.sessions() as session:
                data = session.scalar(select(Submission.bundle).where(Submission.id == entry_id))
            if data is not None:
                yield entry_id, data

    def update_gradings(self, gradings: dict[int, Grading]) -> None:
        """Replace the computed fields of several submissions in one transaction."""
        now = _now()
        with self.sessions.begin() as session:
            for entry_id, grading in gradings.items():
                row = session.get(Submission, entry_id)
                if row is None:
                    continue
                for name, value in vars(grading).items():
                    setattr(row, name, value)
                row.updated_at = row.regraded_at = now

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()
