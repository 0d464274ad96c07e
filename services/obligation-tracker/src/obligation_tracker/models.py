"""obligation-tracker's tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crm_platform.app import attach_platform_tables
from crm_platform.contract_terms import attach_contract_terms_table


class Base(DeclarativeBase):
    pass


attach_platform_tables(Base.metadata)
attach_contract_terms_table(Base.metadata)

# open → overdue → escalated (level 1, 2, …); any of them → fulfilled | waived.
OPEN_STATUSES = ("open", "overdue", "escalated")
LATE_STATUSES = ("overdue", "escalated")


class Obligation(Base):
    __tablename__ = "obligations"
    __table_args__ = (
        sa.Index("ix_obligations_tenant_owner", "tenant_id", "owner"),
        sa.Index("ix_obligations_status_due", "status", "due_date"),
        sa.Index("ix_obligations_contract_code", "contract_id", "definition_code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(index=True)
    contract_id: Mapped[uuid.UUID] = mapped_column(index=True)
    kind: Mapped[str]
    title: Mapped[str]
    clause: Mapped[str] = mapped_column(default="")
    owner_role: Mapped[str]
    # The person who owns it, once assigned (PATCH /obligations/{id}).
    owner: Mapped[str | None] = mapped_column(default=None)
    severity: Mapped[str]
    status: Mapped[str] = mapped_column(default="open")
    due_date: Mapped[date]
    # The contract's zone, so "today" and "overdue" are the contract's local dates.
    timezone: Mapped[str] = mapped_column(default="UTC", server_default="UTC")
    dedup_key: Mapped[str] = mapped_column(unique=True)
    source_event_id: Mapped[str | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), default=None)
    # Recurring instances: the definition, the RRULE occurrence and the terms version.
    definition_code: Mapped[str | None] = mapped_column(default=None)
    occurrence_date: Mapped[date | None] = mapped_column(default=None)
    contract_version: Mapped[int | None] = mapped_column(default=None)
    period_label: Mapped[str | None] = mapped_column(default=None)
    evidence_required: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    evidence: Mapped[dict[str, str] | None] = mapped_column(JSONB, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), default=None)
    resolved_by: Mapped[str | None] = mapped_column(default=None)
    reason: Mapped[str | None] = mapped_column(default=None)
    due_soon_notified_at: Mapped[datetime | None] = mapped_column(
        sa.DateTime(timezone=True), default=None
    )
    overdue_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), default=None)
    escalation_level: Mapped[int] = mapped_column(default=0, server_default="0")
    escalated_to: Mapped[str | None] = mapped_column(default=None)
    escalated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), default=None)


class ObligationHistory(Base):
    """Every transition of an obligation, in order: created, due_soon, overdue, escalated,
    fulfilled, waived, assigned, superseded, snapshot_attached."""

    __tablename__ = "obligation_history"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    obligation_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("obligations.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[str] = mapped_column(index=True)
    action: Mapped[str]
    from_status: Mapped[str | None]
    to_status: Mapped[str]
    by: Mapped[str | None]
    reason: Mapped[str | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    event_id: Mapped[str | None] = mapped_column(default=None)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class SlaPeriodResult(Base):
    """What this service heard of each SLA period (for the governance health snapshot)."""

    __tablename__ = "sla_period_results"

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sla_code: Mapped[str] = mapped_column(primary_key=True)
    period_label: Mapped[str] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(index=True)
    outcome: Mapped[str | None] = mapped_column(default=None)
    attainment: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 6), default=None)
    credit_amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2), default=None)
    currency: Mapped[str | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(index=True)
    contract_id: Mapped[uuid.UUID] = mapped_column(index=True)
    severity: Mapped[str]
    title: Mapped[str]
    # One breach is one alert, however many events speak of it.
    dedup_key: Mapped[str] = mapped_column(unique=True)
    source_event_id: Mapped[str]
    source_event_type: Mapped[str]
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    raised_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    rule_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # Later events about the same breach add their facts here instead of a second alert.
    occurrences: Mapped[int] = mapped_column(default=1, server_default="1")
    event_types: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    updated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), default=None)


class AlertRule(Base):
    """Which events raise alerts. The most specific enabled-or-not rule for an event type
    decides: contract > tenant > global; a disabled rule silences."""

    __tablename__ = "alert_rules"
    __table_args__ = (
        sa.Index(
            "uq_alert_rules_scope",
            "event_type",
            sa.text("coalesce(tenant_id, '')"),
            sa.text("coalesce(contract_id::text, '')"),
            unique=True,
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str | None] = mapped_column(index=True, default=None)
    contract_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    event_type: Mapped[str]
    min_severity: Mapped[str] = mapped_column(default="low")
    alert_severity: Mapped[str | None] = mapped_column(default=None)
    min_amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2), default=None)
    enabled: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str] = mapped_column(default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), default=None)


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(index=True)
    url: Mapped[str]
    # The signing secret (`whsec_<base64>`) encrypted with the service's key
    # (webhooks/secret_box.py); shown once, at creation or rotation, and never logged.
    secret_encrypted: Mapped[str]
    # After a rotation the replaced secret (encrypted too) signs as well, until it expires.
    previous_secret_encrypted: Mapped[str | None] = mapped_column(default=None)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(
        sa.DateTime(timezone=True), default=None
    )
    event_types: Mapped[list[str]] = mapped_column(JSONB)
    description: Mapped[str] = mapped_column(default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), default=None)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), default=None)


class WebhookDelivery(Base):
    """One event for one subscription, until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("subscription_id", "event_id"),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(index=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str]
    event_type: Mapped[str]
    contract_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    payload: Mapped[str] = mapped_column(sa.Text)
    # pending → delivered | failed (attempts exhausted)
    status: Mapped[str] = mapped_column(default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    # A redelivery gives a failed delivery a fresh attempt budget from this attempt count.
    budget_start: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), default=None)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[str]
    attempt: Mapped[int]
    status_code: Mapped[int | None]
    error: Mapped[str | None]
    duration_ms: Mapped[int]
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class CalendarFeed(Base):
    """A calendar feed token: one owner's (and/or roles') open obligations, read-only, in a
    URL a calendar client subscribes to. Only the SHA-256 of the secret is kept."""

    __tablename__ = "calendar_feeds"

    feed_id: Mapped[str] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(index=True)
    name: Mapped[str]
    owner: Mapped[str | None] = mapped_column(default=None)
    roles: Mapped[list[str]] = mapped_column(JSONB, default=list)
    secret_sha256: Mapped[str]
    issued_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    issued_by: Mapped[str | None] = mapped_column(default=None)  # the issuing API key's id
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), default=None)
    revoked_reason: Mapped[str | None] = mapped_column(default=None)
