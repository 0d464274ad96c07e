"""benchmark counts: per series, group and value, kept with the health read model

The portfolio benchmarks read these instead of every SLA period, credit and charges row
(contract_registry/benchmarks/summaries.py). benchmark_periods: what each contract period
contributes; benchmark_counts: how many contributions give each value, per period and over
all periods ('*'); benchmark_contracts: which periods of a contract are in a group.
The upgrade fills them from the existing rows (summaries.rebuild, the recount the ingest
keeps them equal to).

Revision ID: b3c4d5e6f701
Revises: a0d17e000001
Create Date: 2026-12-02 16:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from contract_registry.benchmarks.summaries import rebuild

revision: str = "b3c4d5e6f701"
down_revision: str | None = "a0d17e000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "benchmark_periods",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("period_label", sa.String(collation="C"), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("summary", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "period_label"),
    )
    op.create_index(
        "ix_benchmark_periods_tenant_period", "benchmark_periods", ["tenant_id", "period_label"]
    )
    op.create_table(
        "benchmark_counts",
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("period_label", sa.String(collation="C"), nullable=False),
        sa.Column("series", sa.String(collation="C"), nullable=False),
        sa.Column("grp", sa.String(collation="C"), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "period_label", "series", "grp", "value"),
    )
    op.create_table(
        "benchmark_contracts",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("family", sa.String(), nullable=False),
        sa.Column("grp", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("periods", ARRAY(sa.String()), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "family", "grp"),
    )
    op.create_index("ix_benchmark_contracts_tenant_id", "benchmark_contracts", ["tenant_id"])
    rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_benchmark_contracts_tenant_id", table_name="benchmark_contracts")
    op.drop_table("benchmark_contracts")
    op.drop_table("benchmark_counts")
    op.drop_index("ix_benchmark_periods_tenant_period", table_name="benchmark_periods")
    op.drop_table("benchmark_periods")
