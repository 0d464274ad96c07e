"""incidents are looked up by lower(priority): SLA priorities match case-insensitively

Revision ID: 5b7e2c91d3a4
Revises: c1a0a5e70004
Create Date: 2026-11-27 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b7e2c91d3a4"
down_revision: str | None = "c1a0a5e70004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_incidents_resolved", table_name="incidents")
    op.create_index(
        "ix_incidents_resolved",
        "incidents",
        ["tenant_id", "service_key", sa.text("lower(priority)"), "resolved_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_resolved", table_name="incidents")
    op.create_index(
        "ix_incidents_resolved",
        "incidents",
        ["tenant_id", "service_key", "priority", "resolved_at"],
        unique=False,
    )
