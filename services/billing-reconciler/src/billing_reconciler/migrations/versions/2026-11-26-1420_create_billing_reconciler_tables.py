"""create billing reconciler tables

Revision ID: 713de4be0591
Revises:
Create Date: 2026-11-26 14:20:00.548040+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_platform.contract_terms import create_contract_terms_table
from crm_platform.migrations import create_platform_tables, drop_platform_tables

revision: str = "713de4be0591"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_platform_tables(op)
    create_contract_terms_table(op)
    op.create_table(
        "consumption_records",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("resource_unit", sa.String(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "record_id", name="uq_consumption_record"),
    )
    op.create_index(
        "ix_consumption_period",
        "consumption_records",
        ["contract_id", "period_label", "resource_unit"],
        unique=False,
    )
    op.create_table(
        "service_credits",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("sla_code", sa.String(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("monthly_charges", sa.Numeric(), nullable=False),
        sa.Column("at_risk_pct", sa.Numeric(), nullable=False),
        sa.Column("at_risk_amount", sa.Numeric(), nullable=False),
        sa.Column("allocation_pct", sa.Numeric(), nullable=False),
        sa.Column("credit_amount", sa.Numeric(), nullable=False),
        sa.Column("explanation", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("source_event_id", sa.String(), nullable=False),
        sa.Column("calculated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contract_id", "sla_code", "period_label", name="uq_credit_period"),
    )
    op.create_index(
        op.f("ix_service_credits_tenant_id"), "service_credits", ["tenant_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_service_credits_tenant_id"), table_name="service_credits")
    op.drop_table("service_credits")
    op.drop_index("ix_consumption_period", table_name="consumption_records")
    op.drop_table("consumption_records")
    op.drop_table("contract_terms")
    drop_platform_tables(op)
