"""Submissions are unique by canonical content (`Submission.content_sha256`), not only by
upload bytes. Stored rows are backfilled from their bundles; a bundle that no longer parses,
or a replay stored before this revision, keeps its bundle digest there instead (distinct, so
the constraint holds and the older entry is the one a new replay is matched with).

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _content_digest(bundle: bytes) -> str | None:
    from leaderboard.results_dir import load_submission
    from leaderboard.submission import SubmissionError

    try:
        return load_submission(bundle).content_sha256()
    except SubmissionError:
        return None


def upgrade() -> None:
    """Add `content_sha256`, fill it in, then make it required and unique."""
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("content_sha256", sa.String(64), nullable=True))
    table = sa.table("submissions", sa.column("id", sa.Integer()),
                     sa.column("bundle", sa.LargeBinary()),
                     sa.column("bundle_sha256", sa.String(64)),
                     sa.column("content_sha256", sa.String(64)))
    connection = op.get_bind()
    ids = connection.execute(sa.select(table.c.id).order_by(table.c.id)).scalars().all()
    seen: set[str] = set()
    for entry_id in ids:
        bundle, bundle_digest = connection.execute(
            sa.select(table.c.bundle, table.c.bundle_sha256).where(table.c.id == entry_id)).one()
        digest = _content_digest(bundle)
        if digest is None or digest in seen:
            digest = bundle_digest
        seen.add(digest)
        connection.execute(table.update().where(table.c.id == entry_id)
                           .values(content_sha256=digest))
    with op.batch_alter_table("submissions") as batch:
        batch.alter_column("content_sha256", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_submissions_content_sha256", ["content_sha256"])


def downgrade() -> None:
    """Drop `content_sha256`."""
    with op.batch_alter_table("submissions") as batch:
        batch.drop_constraint("uq_submissions_content_sha256", type_="unique")
        batch.drop_column("content_sha256")
