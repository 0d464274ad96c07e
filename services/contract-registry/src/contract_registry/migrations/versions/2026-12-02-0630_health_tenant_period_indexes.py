"""health read model: (tenant_id, period_label) indexes for the benchmarks' aggregates;
the unit of measurement SLAs

The portfolio benchmarks aggregate a tenant's SLA periods, credits and charges within a
range of periods in SQL; one index on both columns serves the tenant filter and the range,
so the single-column tenant_id indexes go. Measurement SLAs' attainment is a value in
their unit (ms, …): health_sla_periods.unit keeps it, so benchmarks never pool units
(periods closed before this revision have none until restated). health_generations: bumped
with every change to those inputs, so kept benchmarks are reused only while they hold.

Revision ID: d7b3c0e1a2f4
Revises: c1a0a5e70001
Create Date: 2026-12-02 06:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d7b3c0e1a2f4"
down_revision: str | None = "c1a0a5e70001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("health_sla_periods", "health_credits", "health_charges")


def upgrade() -> None:
    op.create_table(
        "health_generations",
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id"),
    )
    op.add_column("health_sla_periods", sa.Column("unit", sa.String(), nullable=True))
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_period", table, ["tenant_id", "period_label"])
        op.drop_index(f"ix_{table}_tenant_id", table_name=table)


def downgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
        op.drop_index(f"ix_{table}_tenant_period", table_name=table)
    op.drop_column("health_sla_periods", "unit")
    op.drop_table("health_generations")
