"""create sla monitor tables

Revision ID: f24a66c1bfe1
Revises:
Create Date: 2026-11-26 14:18:26.677741+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_platform.contract_terms import create_contract_terms_table
from crm_platform.migrations import create_platform_tables, drop_platform_tables

revision: str = "f24a66c1bfe1"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_platform_tables(op)
    create_contract_terms_table(op)
    op.create_table(
        "outages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("service_key", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_id", sa.String(), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "tenant_id", "service_key", "started_at", "ended_at", name="uq_outages_interval"
        ),
    )
    op.create_index(
        "ix_outages_lookup", "outages", ["tenant_id", "service_key", "started_at"], unique=False
    )
    op.create_table(
        "sla_definitions",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("sla_code", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("service_key", sa.String(), nullable=False),
        sa.Column("metric_kind", sa.String(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "sla_code"),
    )
    op.create_index(
        "ix_sla_definitions_service_key",
        "sla_definitions",
        ["tenant_id", "service_key"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sla_definitions_tenant_id"), "sla_definitions", ["tenant_id"], unique=False
    )
    op.create_table(
        "sla_periods",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("sla_code", sa.String(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attainment", sa.Numeric(precision=12, scale=6), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("figures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("explanation", sa.String(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "sla_code", "period_label"),
    )
    op.create_index(op.f("ix_sla_periods_tenant_id"), "sla_periods", ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sla_periods_tenant_id"), table_name="sla_periods")
    op.drop_table("sla_periods")
    op.drop_index(op.f("ix_sla_definitions_tenant_id"), table_name="sla_definitions")
    op.drop_index("ix_sla_definitions_service_key", table_name="sla_definitions")
    op.drop_table("sla_definitions")
    op.drop_index("ix_outages_lookup", table_name="outages")
    op.drop_table("outages")
    op.drop_table("contract_terms")
    drop_platform_tables(op)
