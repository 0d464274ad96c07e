"""samples, incidents, measurements; downtime spans; ad-hoc maintenance windows; signals and
restatements

Revision ID: 01dc016d18a0
Revises: f24a66c1bfe1
Create Date: 2026-11-26 14:47:55.071476+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "01dc016d18a0"
down_revision: str | None = "f24a66c1bfe1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "downtime_spans",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("service_key", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_downtime_spans_lookup",
        "downtime_spans",
        ["tenant_id", "service_key", "ended_at"],
        unique=False,
    )
    op.create_table(
        "incidents",
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("ticket_id", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("service_key", sa.String(), nullable=False),
        sa.Column("priority", sa.String(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", "ticket_id"),
    )
    op.create_index(
        "ix_incidents_opened", "incidents", ["tenant_id", "service_key", "opened_at"], unique=False
    )
    op.create_index(
        "ix_incidents_resolved",
        "incidents",
        ["tenant_id", "service_key", "priority", "resolved_at"],
        unique=False,
    )
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("sla_codes", sa.ARRAY(sa.String()), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("approved_by", sa.String(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_maintenance_windows_contract",
        "maintenance_windows",
        ["contract_id", "starts_at"],
        unique=False,
    )
    op.create_table(
        "measurements",
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("service_key", sa.String(), nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_key", sa.String(), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "service_key", "unit", "measured_at", "source_key"),
    )
    op.create_table(
        "samples",
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("service_key", sa.String(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("source_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "service_key", "observed_at", "status"),
    )
    op.create_table(
        "sla_restatements",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("sla_code", sa.String(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("restatement", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("previous", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("current", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("restated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "sla_code", "period_label", "restatement"),
    )
    op.create_table(
        "sla_signals",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("sla_code", sa.String(), nullable=False),
        sa.Column("period_label", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "sla_code", "period_label", "kind"),
    )
    op.drop_index(op.f("ix_outages_lookup"), table_name="outages")
    op.add_column(
        "sla_definitions", sa.Column("tracked_since", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("sla_periods", sa.Column("metric_kind", sa.String(), nullable=True))
    op.add_column(
        "sla_periods",
        sa.Column("published", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column(
        "sla_periods", sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column(
        "sla_periods", sa.Column("restatements", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "sla_periods", sa.Column("last_restated_at", sa.DateTime(timezone=True), nullable=True)
    )
    # Outages stored before spans existed become spans (readers merge overlaps).
    op.execute(
        "INSERT INTO downtime_spans (tenant_id, service_key, source, started_at, ended_at) "
        "SELECT tenant_id, service_key, 'outages', started_at, ended_at FROM outages"
    )


def downgrade() -> None:
    op.drop_column("sla_periods", "last_restated_at")
    op.drop_column("sla_periods", "restatements")
    op.drop_column("sla_periods", "detail")
    op.drop_column("sla_periods", "published")
    op.drop_column("sla_periods", "metric_kind")
    op.drop_column("sla_definitions", "tracked_since")
    op.create_index(
        op.f("ix_outages_lookup"),
        "outages",
        ["tenant_id", "service_key", "started_at"],
        unique=False,
    )
    op.drop_table("sla_signals")
    op.drop_table("sla_restatements")
    op.drop_table("samples")
    op.drop_table("measurements")
    op.drop_index("ix_maintenance_windows_contract", table_name="maintenance_windows")
    op.drop_table("maintenance_windows")
    op.drop_index("ix_incidents_resolved", table_name="incidents")
    op.drop_index("ix_incidents_opened", table_name="incidents")
    op.drop_table("incidents")
    op.drop_index("ix_downtime_spans_lookup", table_name="downtime_spans")
    op.drop_table("downtime_spans")
