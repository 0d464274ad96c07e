"""Recurring obligations and their lifecycle (owner, evidence, escalation, history); alert
rules with defaults; webhook subscriptions, deliveries and attempts; SLA period results
for the governance snapshot.

Revision ID: 809abc26c98f
Revises: 4e1b7bd63d75
Create Date: 2026-11-26 14:49:13.796780+00:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "809abc26c98f"
down_revision: str | None = "4e1b7bd63d75"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The global rules every tenant starts with; tenants and contracts override them.
DEFAULT_RULES = [
    ("sla.breached", "low", True, "A failure certain before the period ends"),
    ("sla.period_closed", "high", True, "A period closed failed"),
    ("sla.period_restated", "high", True, "A period restated as failed"),
    ("billing.credit_calculated", "low", True, "A service credit (joins the breach's alert)"),
    ("sla.at_risk", "medium", True, "The projection says the period will miss"),
    ("reconciliation.discrepancy_found", "low", True, "An invoice differs from the contract"),
    ("billing.volume_band_exceeded", "low", True, "Volume left its band"),
    ("obligation.escalated", "low", True, "An overdue obligation was escalated"),
    ("obligation.overdue", "low", False, "An obligation is overdue (off by default)"),
]


def seed_default_rules() -> None:
    table = sa.table(
        "alert_rules",
        sa.column("id", sa.Uuid()),
        sa.column("event_type", sa.String()),
        sa.column("min_severity", sa.String()),
        sa.column("enabled", sa.Boolean()),
        sa.column("description", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        table,
        [
            {
                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"crm:alert-rule:{event_type}"),
                "event_type": event_type,
                "min_severity": min_severity,
                "enabled": enabled,
                "description": description,
                "created_at": now,
            }
            for event_type, min_severity, enabled, description in DEFAULT_RULES
        ],
    )


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=True),
        sa.Column("contract_id", sa.Uuid(), nullable=True),
        sa.Column("event_type", sa.String(), nullable=False),
        sa.Column("min_severity", sa.String(), nullable=False),
        sa.Column("alert_severity", sa.String(), nullable=True),
        sa.Column("min_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_alert_rules_tenant_id"), "alert_rules", ["tenant_id"], unique=False)
    op.create_index(
        "uq_alert_rules_scope",
        "alert_rules",
        [
            "event_type",
            sa.literal_column("coalesce(tenant_id, '')"),
            sa.literal_column("coalesce(contract_id::text, '')"),
        ],
        unique=True,
    )
    op.create_table(
        "sla_period_results",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("sla_code", sa.String(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("attainment", sa.Numeric(precision=12, scale=6), nullable=True),
        sa.Column("credit_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency", sa.String(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "sla_code", "period_label"),
    )
    op.create_index(
        op.f("ix_sla_period_results_tenant_id"), "sla_period_results", ["tenant_id"], unique=False
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("secret", sa.String(), nullable=False),
        sa.Column("event_types", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_webhook_subscriptions_tenant_id"),
        "webhook_subscriptions",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "obligation_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("obligation_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("from_status", sa.String(), nullable=True),
        sa.Column("to_status", sa.String(), nullable=False),
        sa.Column("by", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("event_id", sa.String(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["obligation_id"], ["obligations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_obligation_history_obligation_id"),
        "obligation_history",
        ["obligation_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_obligation_history_tenant_id"), "obligation_history", ["tenant_id"], unique=False
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("event_type", sa.String(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("budget_start", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["webhook_subscriptions.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscription_id", "event_id"),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_webhook_deliveries_subscription_id"),
        "webhook_deliveries",
        ["subscription_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_webhook_deliveries_tenant_id"), "webhook_deliveries", ["tenant_id"], unique=False
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["webhook_deliveries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_webhook_attempts_delivery_id"), "webhook_attempts", ["delivery_id"], unique=False
    )
    op.add_column("alerts", sa.Column("rule_id", sa.Uuid(), nullable=True))
    op.add_column(
        "alerts", sa.Column("occurrences", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column(
        "alerts",
        sa.Column(
            "event_types",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
    )
    op.add_column("alerts", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("obligations", sa.Column("owner", sa.String(), nullable=True))
    op.add_column(
        "obligations", sa.Column("timezone", sa.String(), server_default="UTC", nullable=False)
    )
    op.add_column("obligations", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("obligations", sa.Column("definition_code", sa.String(), nullable=True))
    op.add_column("obligations", sa.Column("occurrence_date", sa.Date(), nullable=True))
    op.add_column("obligations", sa.Column("contract_version", sa.Integer(), nullable=True))
    op.add_column("obligations", sa.Column("period_label", sa.String(), nullable=True))
    op.add_column(
        "obligations",
        sa.Column(
            "evidence_required", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
    )
    op.add_column(
        "obligations", sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column(
        "obligations", sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("obligations", sa.Column("resolved_by", sa.String(), nullable=True))
    op.add_column("obligations", sa.Column("reason", sa.String(), nullable=True))
    op.add_column(
        "obligations", sa.Column("due_soon_notified_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("obligations", sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "obligations",
        sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("obligations", sa.Column("escalated_to", sa.String(), nullable=True))
    op.add_column(
        "obligations", sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_obligations_contract_code",
        "obligations",
        ["contract_id", "definition_code"],
        unique=False,
    )
    op.create_index(
        "ix_obligations_status_due", "obligations", ["status", "due_date"], unique=False
    )
    op.create_index(
        "ix_obligations_tenant_owner", "obligations", ["tenant_id", "owner"], unique=False
    )
    op.execute("UPDATE obligations SET evidence_required = true WHERE kind = 'root_cause_report'")
    seed_default_rules()


def downgrade() -> None:
    op.drop_index("ix_obligations_tenant_owner", table_name="obligations")
    op.drop_index("ix_obligations_status_due", table_name="obligations")
    op.drop_index("ix_obligations_contract_code", table_name="obligations")
    op.drop_column("obligations", "escalated_at")
    op.drop_column("obligations", "escalated_to")
    op.drop_column("obligations", "escalation_level")
    op.drop_column("obligations", "overdue_at")
    op.drop_column("obligations", "due_soon_notified_at")
    op.drop_column("obligations", "reason")
    op.drop_column("obligations", "resolved_by")
    op.drop_column("obligations", "resolved_at")
    op.drop_column("obligations", "evidence")
    op.drop_column("obligations", "evidence_required")
    op.drop_column("obligations", "period_label")
    op.drop_column("obligations", "contract_version")
    op.drop_column("obligations", "occurrence_date")
    op.drop_column("obligations", "definition_code")
    op.drop_column("obligations", "updated_at")
    op.drop_column("obligations", "timezone")
    op.drop_column("obligations", "owner")
    op.drop_column("alerts", "updated_at")
    op.drop_column("alerts", "event_types")
    op.drop_column("alerts", "occurrences")
    op.drop_column("alerts", "rule_id")
    op.drop_index(op.f("ix_webhook_attempts_delivery_id"), table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index(op.f("ix_webhook_deliveries_tenant_id"), table_name="webhook_deliveries")
    op.drop_index(op.f("ix_webhook_deliveries_subscription_id"), table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("ix_obligation_history_tenant_id"), table_name="obligation_history")
    op.drop_index(op.f("ix_obligation_history_obligation_id"), table_name="obligation_history")
    op.drop_table("obligation_history")
    op.drop_index(op.f("ix_webhook_subscriptions_tenant_id"), table_name="webhook_subscriptions")
    op.drop_table("webhook_subscriptions")
    op.drop_index(op.f("ix_sla_period_results_tenant_id"), table_name="sla_period_results")
    op.drop_table("sla_period_results")
    op.drop_index("uq_alert_rules_scope", table_name="alert_rules")
    op.drop_index(op.f("ix_alert_rules_tenant_id"), table_name="alert_rules")
    op.drop_table("alert_rules")
