"""calendar feed tokens: a revocable, read-only token per owner or role, used in the feed URL

Revision ID: 7c4e1b9d2f30
Revises: 5d2f0c8e4a11
Create Date: 2026-12-12 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "7c4e1b9d2f30"
down_revision: str | None = "5d2f0c8e4a11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_feeds",
        sa.Column("feed_id", sa.String, primary_key=True),
        sa.Column("tenant_id", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("owner", sa.String, nullable=True),
        sa.Column("roles", JSONB, nullable=False),
        sa.Column("secret_sha256", sa.String, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String, nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String, nullable=True),
    )
    op.create_index("ix_calendar_feeds_tenant_id", "calendar_feeds", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_calendar_feeds_tenant_id", table_name="calendar_feeds")
    op.drop_table("calendar_feeds")
