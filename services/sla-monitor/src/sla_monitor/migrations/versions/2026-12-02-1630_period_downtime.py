"""period downtime: each availability period's downtime figures, kept as spans change

Rows are made on first use (the first telemetry that lands in the period after this
revision measures it from its spans, once); until then a period is computed from its spans
as before, so nothing needs backfilling.

Revision ID: 7d0e11c5a9b2
Revises: a0d17e000004
Create Date: 2026-12-02 16:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7d0e11c5a9b2"
down_revision: str | None = "a0d17e000004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSTANTS = sa.ARRAY(sa.DateTime(timezone=True))


def upgrade() -> None:
    op.create_table(
        "period_downtime",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("sla_code", sa.String(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("service_key", sa.String(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("excluded_starts", INSTANTS, nullable=False),
        sa.Column("excluded_ends", INSTANTS, nullable=False),
        sa.Column("spans", sa.Integer(), nullable=False),
        sa.Column("reported_seconds", sa.BigInteger(), nullable=False),
        sa.Column("downtime_seconds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "sla_code", "period_label"),
    )
    op.create_index(
        "ix_period_downtime_key",
        "period_downtime",
        ["tenant_id", "service_key", "period_end"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_period_downtime_key", table_name="period_downtime")
    op.drop_table("period_downtime")
