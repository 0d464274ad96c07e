"""versions, amendments, termination and the per-key health read model

Version states become draft | activated | discarded ("effective" is now "activated").
The counters of contract_health are replaced by one row per reported fact (SLA period,
credit, charges, invoice, obligation) so restatements replace instead of adding. The old
counters cannot be split back into facts and are dropped: health reported before this
migration is not carried over (the system had no production data when it was written).

Revision ID: 90ed90b05269
Revises: a516530d8ded
Create Date: 2026-11-26 14:44:25.199514+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "90ed90b05269"
down_revision: str | None = "a516530d8ded"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "health_charges",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("monthly_charges", sa.Numeric(), nullable=False),
        sa.Column("expected_total", sa.Numeric(), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "period_label"),
    )
    op.create_index(
        op.f("ix_health_charges_tenant_id"), "health_charges", ["tenant_id"], unique=False
    )
    op.create_table(
        "health_credits",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("sla_code", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("credit_amount", sa.Numeric(), nullable=False),
        sa.Column("monthly_charges", sa.Numeric(), nullable=False),
        sa.Column("at_risk_amount", sa.Numeric(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "period_label", "sla_code"),
    )
    op.create_index(
        op.f("ix_health_credits_tenant_id"), "health_credits", ["tenant_id"], unique=False
    )
    op.create_table(
        "health_invoices",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("invoice_number", sa.String(), nullable=False),
        sa.Column("expected_total", sa.Numeric(), nullable=False),
        sa.Column("invoiced_total", sa.Numeric(), nullable=False),
        sa.Column("discrepancies", sa.Integer(), nullable=False),
        sa.Column("sums_by_class", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "invoice_id"),
    )
    op.create_index(
        op.f("ix_health_invoices_tenant_id"), "health_invoices", ["tenant_id"], unique=False
    )
    op.create_table(
        "health_obligations",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("obligation_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("went_overdue", sa.Boolean(), nullable=False),
        sa.Column("fulfilled_on", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "obligation_id"),
    )
    op.create_index(
        op.f("ix_health_obligations_tenant_id"), "health_obligations", ["tenant_id"], unique=False
    )
    op.create_table(
        "health_sla_periods",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("sla_code", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("metric_kind", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("attainment", sa.Numeric(), nullable=True),
        sa.Column("expected_level", sa.Numeric(), nullable=False),
        sa.Column("minimum_level", sa.Numeric(), nullable=False),
        sa.Column("restatement", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "period_label", "sla_code"),
    )
    op.create_index(
        op.f("ix_health_sla_periods_tenant_id"), "health_sla_periods", ["tenant_id"], unique=False
    )
    op.drop_index(op.f("ix_contract_health_tenant_id"), table_name="contract_health")
    op.drop_table("contract_health")
    op.add_column(
        "contract_versions", sa.Column("note", sa.Text(), server_default="", nullable=False)
    )
    op.add_column("contracts", sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("contracts", sa.Column("terminates_on", sa.Date(), nullable=True))
    op.add_column(
        "contracts", sa.Column("terminates_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("contracts", sa.Column("termination_reason", sa.String(), nullable=True))
    op.add_column(
        "contracts", sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index("ix_contracts_created_at_id", "contracts", ["created_at", "id"], unique=False)
    op.create_index("ix_contracts_status_ends", "contracts", ["status", "ends_at"], unique=False)
    op.execute("UPDATE contract_versions SET state = 'activated' WHERE state = 'effective'")
    op.execute(
        "UPDATE contracts SET ends_at = ((end_date + 1)::timestamp AT TIME ZONE timezone) "
        "WHERE end_date IS NOT NULL AND status <> 'draft'"
    )


def downgrade() -> None:
    op.execute("UPDATE contract_versions SET state = 'effective' WHERE state = 'activated'")
    op.drop_index("ix_contracts_status_ends", table_name="contracts")
    op.drop_index("ix_contracts_created_at_id", table_name="contracts")
    op.drop_column("contracts", "terminated_at")
    op.drop_column("contracts", "termination_reason")
    op.drop_column("contracts", "terminates_at")
    op.drop_column("contracts", "terminates_on")
    op.drop_column("contracts", "ends_at")
    op.drop_column("contract_versions", "note")
    op.create_table(
        "contract_health",
        sa.Column("contract_id", sa.UUID(), autoincrement=False, nullable=False),
        sa.Column("period_label", sa.VARCHAR(), autoincrement=False, nullable=False),
        sa.Column("tenant_id", sa.VARCHAR(), autoincrement=False, nullable=False),
        sa.Column("slas_met", sa.INTEGER(), autoincrement=False, nullable=False),
        sa.Column("slas_below_expected", sa.INTEGER(), autoincrement=False, nullable=False),
        sa.Column("slas_failed", sa.INTEGER(), autoincrement=False, nullable=False),
        sa.Column("slas_no_data", sa.INTEGER(), autoincrement=False, nullable=False),
        sa.Column("credits_total", sa.NUMERIC(), autoincrement=False, nullable=False),
        sa.Column("monthly_charges", sa.NUMERIC(), autoincrement=False, nullable=True),
        sa.Column("obligations_opened", sa.INTEGER(), autoincrement=False, nullable=False),
        sa.Column(
            "updated_at", postgresql.TIMESTAMP(timezone=True), autoincrement=False, nullable=False
        ),
        sa.PrimaryKeyConstraint("contract_id", "period_label", name=op.f("contract_health_pkey")),
    )
    op.create_index(
        op.f("ix_contract_health_tenant_id"), "contract_health", ["tenant_id"], unique=False
    )
    op.drop_index(op.f("ix_health_sla_periods_tenant_id"), table_name="health_sla_periods")
    op.drop_table("health_sla_periods")
    op.drop_index(op.f("ix_health_obligations_tenant_id"), table_name="health_obligations")
    op.drop_table("health_obligations")
    op.drop_index(op.f("ix_health_invoices_tenant_id"), table_name="health_invoices")
    op.drop_table("health_invoices")
    op.drop_index(op.f("ix_health_credits_tenant_id"), table_name="health_credits")
    op.drop_table("health_credits")
    op.drop_index(op.f("ix_health_charges_tenant_id"), table_name="health_charges")
    op.drop_table("health_charges")
