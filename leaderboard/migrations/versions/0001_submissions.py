"""The submissions table: metadata, the bundle as uploaded, and the server's grading.

Revision ID: 0001
Revises:
Create Date: 2025-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `submissions` with its indexes."""
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("submitter", sa.String(100), nullable=False),
        sa.Column("perturbation", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("issues", sa.JSON(), nullable=False),
        sa.Column("bundle", sa.LargeBinary(), nullable=False),
        sa.Column("bundle_sha256", sa.String(64), nullable=False),
        sa.Column("bundle_size", sa.Integer(), nullable=False),
        sa.Column("grader_version", sa.String(64), nullable=False),
        sa.Column("package_version", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("regraded_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("bundle_sha256", name="uq_submissions_bundle_sha256"),
    )
    op.create_index("ix_submissions_model", "submissions", ["model"])
    op.create_index("ix_submissions_status", "submissions", ["status"])


def downgrade() -> None:
    """Drop `submissions`."""
    op.drop_index("ix_submissions_status", table_name="submissions")
    op.drop_index("ix_submissions_model", table_name="submissions")
    op.drop_table("submissions")
