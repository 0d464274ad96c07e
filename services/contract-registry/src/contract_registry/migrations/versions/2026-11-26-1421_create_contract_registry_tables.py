"""create contract registry tables

Revision ID: a516530d8ded
Revises:
Create Date: 2026-11-26 14:21:32.197404+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_platform.migrations import create_platform_tables, drop_platform_tables

revision: str = "a516530d8ded"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_platform_tables(op)
    op.create_table(
        "contract_health",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("slas_met", sa.Integer(), nullable=False),
        sa.Column("slas_below_expected", sa.Integer(), nullable=False),
        sa.Column("slas_failed", sa.Integer(), nullable=False),
        sa.Column("slas_no_data", sa.Integer(), nullable=False),
        sa.Column("credits_total", sa.Numeric(), nullable=False),
        sa.Column("monthly_charges", sa.Numeric(), nullable=True),
        sa.Column("obligations_opened", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "period_label"),
    )
    op.create_index(
        op.f("ix_contract_health_tenant_id"), "contract_health", ["tenant_id"], unique=False
    )
    op.create_table(
        "contracts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("customer", sa.String(), nullable=False),
        sa.Column("supplier", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "reference", name="uq_contract_reference"),
    )
    op.create_index(op.f("ix_contracts_tenant_id"), "contracts", ["tenant_id"], unique=False)
    op.create_table(
        "contract_versions",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
        ),
        sa.PrimaryKeyConstraint("contract_id", "version"),
    )


def downgrade() -> None:
    op.drop_table("contract_versions")
    op.drop_index(op.f("ix_contracts_tenant_id"), table_name="contracts")
    op.drop_table("contracts")
    op.drop_index(op.f("ix_contract_health_tenant_id"), table_name="contract_health")
    op.drop_table("contract_health")
    drop_platform_tables(op)
