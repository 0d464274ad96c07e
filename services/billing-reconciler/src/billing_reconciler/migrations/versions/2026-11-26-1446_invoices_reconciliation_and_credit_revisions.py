"""invoices, reconciliations and the leakage ledger; consumption totals and corrections;
SLA outcomes, credit revisions and earn-back; period statements; volume-band alerts

Revision ID: b6e9d0225814
Revises: 713de4be0591
Create Date: 2026-11-26 14:46:02.523460+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b6e9d0225814"
down_revision: str | None = "713de4be0591"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consumption_record_revisions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("resource_unit", sa.String(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "record_id", "revision", name="uq_consumption_revision"),
    )
    op.create_table(
        "consumption_totals",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("resource_unit", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "period_label", "resource_unit"),
    )
    op.create_index(
        op.f("ix_consumption_totals_tenant_id"), "consumption_totals", ["tenant_id"], unique=False
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("invoice_number", sa.String(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("total", sa.Numeric(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "invoice_number", name="uq_invoice_number"),
    )
    op.create_index("ix_invoices_period", "invoices", ["contract_id", "period_label"], unique=False)
    op.create_index(op.f("ix_invoices_tenant_id"), "invoices", ["tenant_id"], unique=False)
    op.create_table(
        "period_charges",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("monthly_charges", sa.Numeric(), nullable=False),
        sa.Column("expected_total", sa.Numeric(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("statement", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contract_id", "period_label", "revision", name="uq_period_charges"),
    )
    op.create_index(
        op.f("ix_period_charges_tenant_id"), "period_charges", ["tenant_id"], unique=False
    )
    op.create_table(
        "sla_outcomes",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("sla_code", sa.String(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("attainment", sa.Numeric(), nullable=True),
        sa.Column("expected_level", sa.Numeric(), nullable=False),
        sa.Column("minimum_level", sa.Numeric(), nullable=False),
        sa.Column("restatement", sa.Integer(), nullable=False),
        sa.Column("source_event_id", sa.String(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "sla_code", "period_label"),
    )
    op.create_index(op.f("ix_sla_outcomes_tenant_id"), "sla_outcomes", ["tenant_id"], unique=False)
    op.create_table(
        "volume_band_alerts",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("resource_unit", sa.String(), nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("actual", sa.Numeric(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "period_label", "resource_unit", "direction"),
    )
    op.create_index(
        op.f("ix_volume_band_alerts_tenant_id"), "volume_band_alerts", ["tenant_id"], unique=False
    )
    op.create_table(
        "earn_back_transitions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("credit_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(), nullable=True),
        sa.Column("to_status", sa.String(), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=True),
        sa.Column("explanation", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credit_id"],
            ["service_credits.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_earn_back_transitions_credit_id"),
        "earn_back_transitions",
        ["credit_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_earn_back_transitions_tenant_id"),
        "earn_back_transitions",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "earn_backs_granted",
        sa.Column("credit_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credit_id"],
            ["service_credits.id"],
        ),
        sa.PrimaryKeyConstraint("credit_id"),
    )
    op.create_index(
        op.f("ix_earn_backs_granted_tenant_id"), "earn_backs_granted", ["tenant_id"], unique=False
    )
    op.create_table(
        "invoice_versions",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
        ),
        sa.PrimaryKeyConstraint("invoice_id", "version"),
    )
    op.create_index(
        op.f("ix_invoice_versions_tenant_id"), "invoice_versions", ["tenant_id"], unique=False
    )
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_version", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("expected_total", sa.Numeric(), nullable=False),
        sa.Column("invoiced_total", sa.Numeric(), nullable=False),
        sa.Column("lines_total", sa.Numeric(), nullable=False),
        sa.Column("difference", sa.Numeric(), nullable=False),
        sa.Column("sums_by_class", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("discrepancy_count", sa.Integer(), nullable=False),
        sa.Column("charges_revision", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("reconciled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("invoice_id", "revision", name="uq_reconciliation_revision"),
    )
    op.create_index(
        op.f("ix_reconciliations_tenant_id"), "reconciliations", ["tenant_id"], unique=False
    )
    op.create_table(
        "service_credit_revisions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("credit_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("credit_amount", sa.Numeric(), nullable=False),
        sa.Column("previous_amount", sa.Numeric(), nullable=True),
        sa.Column("delta_amount", sa.Numeric(), nullable=False),
        sa.Column("monthly_charges", sa.Numeric(), nullable=False),
        sa.Column("at_risk_amount", sa.Numeric(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("explanation", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("source_event_id", sa.String(), nullable=False),
        sa.Column("calculated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credit_id"],
            ["service_credits.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credit_id", "revision", name="uq_credit_revision"),
    )
    op.create_index(
        op.f("ix_service_credit_revisions_tenant_id"),
        "service_credit_revisions",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "discrepancies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("reconciliation_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("discrepancy_class", sa.String(), nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("item_code", sa.String(), nullable=True),
        sa.Column("line_number", sa.Integer(), nullable=True),
        sa.Column("expected", sa.String(), nullable=True),
        sa.Column("invoiced", sa.String(), nullable=True),
        sa.Column("summary", sa.String(), nullable=False),
        sa.Column("explanation", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reconciliation_id"],
            ["reconciliations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reconciliation_id", "seq", name="uq_discrepancy_seq"),
    )
    op.create_index(
        op.f("ix_discrepancies_invoice_id"), "discrepancies", ["invoice_id"], unique=False
    )
    op.create_index(
        "ix_discrepancies_ledger",
        "discrepancies",
        ["tenant_id", "is_current", "contract_id", "period_label"],
        unique=False,
    )
    op.add_column(
        "consumption_records",
        sa.Column("revision", sa.Integer(), server_default="1", nullable=False),
    )
    op.add_column(
        "service_credits", sa.Column("revision", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column(
        "service_credits", sa.Column("reason", sa.String(), server_default="failed", nullable=False)
    )
    op.add_column(
        "service_credits",
        sa.Column("first_calculated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "service_credits",
        sa.Column("earn_back_status", sa.String(), server_default="not_applicable", nullable=False),
    )
    op.add_column(
        "service_credits",
        sa.Column("earn_back_progress", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "service_credits",
        sa.Column("earn_back_periods", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("service_credits", sa.Column("earn_back_period", sa.String(), nullable=True))
    op.add_column(
        "service_credits",
        sa.Column("earn_back_explanation", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    # Existing data: each record and credit becomes its first revision; totals from records.
    op.execute(
        "INSERT INTO consumption_record_revisions (tenant_id, record_id, revision, contract_id, "
        "resource_unit, period_label, quantity, received_at) SELECT tenant_id, record_id, 1, "
        "contract_id, resource_unit, period_label, quantity, received_at FROM consumption_records"
    )
    op.execute(
        "INSERT INTO consumption_totals (contract_id, period_label, resource_unit, tenant_id, "
        "quantity, record_count, updated_at) SELECT contract_id, period_label, resource_unit, "
        "min(tenant_id), sum(quantity), count(*), now() FROM consumption_records "
        "GROUP BY contract_id, period_label, resource_unit"
    )
    op.execute("UPDATE service_credits SET first_calculated_at = calculated_at")
    op.execute(
        "INSERT INTO service_credit_revisions (tenant_id, credit_id, revision, credit_amount, "
        "previous_amount, delta_amount, monthly_charges, at_risk_amount, outcome, reason, "
        "explanation, source_event_id, calculated_at) SELECT tenant_id, id, 1, credit_amount, "
        "NULL, credit_amount, monthly_charges, at_risk_amount, 'failed', 'failed', explanation, "
        "source_event_id, calculated_at FROM service_credits"
    )


def downgrade() -> None:
    op.drop_column("service_credits", "earn_back_explanation")
    op.drop_column("service_credits", "earn_back_period")
    op.drop_column("service_credits", "earn_back_periods")
    op.drop_column("service_credits", "earn_back_progress")
    op.drop_column("service_credits", "earn_back_status")
    op.drop_column("service_credits", "first_calculated_at")
    op.drop_column("service_credits", "reason")
    op.drop_column("service_credits", "revision")
    op.drop_column("consumption_records", "revision")
    op.drop_index("ix_discrepancies_ledger", table_name="discrepancies")
    op.drop_index(op.f("ix_discrepancies_invoice_id"), table_name="discrepancies")
    op.drop_table("discrepancies")
    op.drop_index(
        op.f("ix_service_credit_revisions_tenant_id"), table_name="service_credit_revisions"
    )
    op.drop_table("service_credit_revisions")
    op.drop_index(op.f("ix_reconciliations_tenant_id"), table_name="reconciliations")
    op.drop_table("reconciliations")
    op.drop_index(op.f("ix_invoice_versions_tenant_id"), table_name="invoice_versions")
    op.drop_table("invoice_versions")
    op.drop_index(op.f("ix_earn_backs_granted_tenant_id"), table_name="earn_backs_granted")
    op.drop_table("earn_backs_granted")
    op.drop_index(op.f("ix_earn_back_transitions_tenant_id"), table_name="earn_back_transitions")
    op.drop_index(op.f("ix_earn_back_transitions_credit_id"), table_name="earn_back_transitions")
    op.drop_table("earn_back_transitions")
    op.drop_index(op.f("ix_volume_band_alerts_tenant_id"), table_name="volume_band_alerts")
    op.drop_table("volume_band_alerts")
    op.drop_index(op.f("ix_sla_outcomes_tenant_id"), table_name="sla_outcomes")
    op.drop_table("sla_outcomes")
    op.drop_index(op.f("ix_period_charges_tenant_id"), table_name="period_charges")
    op.drop_table("period_charges")
    op.drop_index(op.f("ix_invoices_tenant_id"), table_name="invoices")
    op.drop_index("ix_invoices_period", table_name="invoices")
    op.drop_table("invoices")
    op.drop_index(op.f("ix_consumption_totals_tenant_id"), table_name="consumption_totals")
    op.drop_table("consumption_totals")
    op.drop_table("consumption_record_revisions")
