"""billing-reconciler's tables."""

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

# Unconstrained numeric keeps the exact scale it was given (4414.08 stays 4414.08).
MONEY = sa.Numeric()


class Base(DeclarativeBase):
    pass


attach_platform_tables(Base.metadata)
attach_contract_terms_table(Base.metadata)


class ConsumptionRecord(Base):
    __tablename__ = "consumption_records"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    tenant_id: Mapped[str]
    record_id: Mapped[str]
    contract_id: Mapped[uuid.UUID]
    resource_unit: Mapped[str]
    period_label: Mapped[str]
    quantity: Mapped[Decimal] = mapped_column(MONEY)
    received_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    # 1 as first received; each correction adds one (consumption_record_revisions keeps all).
    revision: Mapped[int] = mapped_column(server_default="1")

    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "record_id", name="uq_consumption_record"),
        sa.Index("ix_consumption_period", "contract_id", "period_label", "resource_unit"),
    )


class ServiceCredit(Base):
    __tablename__ = "service_credits"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(index=True)
    contract_id: Mapped[uuid.UUID]
    contract_version: Mapped[int]
    sla_code: Mapped[str]
    period_label: Mapped[str]
    currency: Mapped[str]
    monthly_charges: Mapped[Decimal] = mapped_column(MONEY)
    at_risk_pct: Mapped[Decimal] = mapped_column(MONEY)
    at_risk_amount: Mapped[Decimal] = mapped_column(MONEY)
    allocation_pct: Mapped[Decimal] = mapped_column(MONEY)
    credit_amount: Mapped[Decimal] = mapped_column(MONEY)
    # The SLA period credited (2026-Q1 for a quarterly SLA); None for a withdrawn credit.
    measurement_period: Mapped[str | None]
    uncapped_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    cap_reduction: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    outcome: Mapped[str | None]
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONB)
    source_event_id: Mapped[str]
    calculated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    # Current revision (service_credit_revisions keeps each one with its delta).
    revision: Mapped[int] = mapped_column(server_default="1")
    reason: Mapped[str] = mapped_column(server_default="failed")
    first_calculated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Earn-back state machine: not_applicable, pending, earned_back, cancelled, void.
    earn_back_status: Mapped[str] = mapped_column(server_default="not_applicable")
    earn_back_progress: Mapped[int] = mapped_column(server_default="0")
    earn_back_periods: Mapped[int] = mapped_column(server_default="0")
    earn_back_period: Mapped[str | None]
    earn_back_explanation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (
        # One credit per SLA and period: a redelivered or repeated close never pays twice.
        sa.UniqueConstraint("contract_id", "sla_code", "period_label", name="uq_credit_period"),
    )


class ConsumptionRecordRevision(Base):
    """Every version of a consumption record: the first, then each correction."""

    __tablename__ = "consumption_record_revisions"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    tenant_id: Mapped[str]
    record_id: Mapped[str]
    revision: Mapped[int]
    contract_id: Mapped[uuid.UUID]
    resource_unit: Mapped[str]
    period_label: Mapped[str]
    quantity: Mapped[Decimal] = mapped_column(MONEY)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "record_id", "revision", name="uq_consumption_revision"),
    )


class ConsumptionTotal(Base):
    """Actual volume per contract, period and resource unit, kept on ingest: charges read
    this aggregate, never every record."""

    __tablename__ = "consumption_totals"

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    period_label: Mapped[str] = mapped_column(primary_key=True)
    resource_unit: Mapped[str] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(index=True)
    quantity: Mapped[Decimal] = mapped_column(MONEY)
    record_count: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class SlaOutcome(Base):
    """The latest outcome of each SLA period (close, then restatements)."""

    __tablename__ = "sla_outcomes"

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sla_code: Mapped[str] = mapped_column(primary_key=True)
    period_label: Mapped[str] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(index=True)
    outcome: Mapped[str]
    attainment: Mapped[Decimal | None] = mapped_column(MONEY)
    expected_level: Mapped[Decimal] = mapped_column(MONEY)
    minimum_level: Mapped[Decimal] = mapped_column(MONEY)
    restatement: Mapped[int]
    source_event_id: Mapped[str]
    closed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class ServiceCreditRevision(Base):
    """Each calculation of a credit: the first, then one per change (restatement,
    corrected consumption), with what it was and the delta."""

    __tablename__ = "service_credit_revisions"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(index=True)
    credit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("service_credits.id"))
    revision: Mapped[int]
    credit_amount: Mapped[Decimal] = mapped_column(MONEY)
    previous_amount: Mapped[Decimal] = mapped_column(MONEY)  # 0 on the first revision
    delta_amount: Mapped[Decimal] = mapped_column(MONEY)
    uncapped_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    cap_reduction: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    monthly_charges: Mapped[Decimal] = mapped_column(MONEY)
    at_risk_amount: Mapped[Decimal] = mapped_column(MONEY)
    outcome: Mapped[str]
    reason: Mapped[str]
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONB)
    source_event_id: Mapped[str]
    calculated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.UniqueConstraint("credit_id", "revision", name="uq_credit_revision"),)


class EarnBackTransition(Base):
    """The earn-back state machine's history, one row per change of state."""

    __tablename__ = "earn_back_transitions"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(index=True)
    credit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("service_credits.id"), index=True)
    from_status: Mapped[str | None]
    to_status: Mapped[str]
    progress: Mapped[int]
    period_label: Mapped[str | None]
    explanation: Mapped[str]
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class EarnBackGranted(Base):
    """The earn-back of a credit as published: what `billing.credit_earned_back` (and
    `billing.credit_earn_back_reversed`) told the ERP so far. `amount` is 0 once reversed."""

    __tablename__ = "earn_backs_granted"

    credit_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("service_credits.id"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(index=True)
    period_label: Mapped[str]
    amount: Mapped[Decimal] = mapped_column(MONEY)
    granted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    revision: Mapped[int] = mapped_column(server_default="1")
    updated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class PeriodCharges(Base):
    """A computed statement of what a contract's period owes, one row per revision; a new
    revision only when something in it changed."""

    __tablename__ = "period_charges"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(index=True)
    contract_id: Mapped[uuid.UUID]
    period_label: Mapped[str]
    revision: Mapped[int]
    contract_version: Mapped[int]
    currency: Mapped[str]
    monthly_charges: Mapped[Decimal] = mapped_column(MONEY)
    expected_total: Mapped[Decimal] = mapped_column(MONEY)
    fingerprint: Mapped[str]
    statement: Mapped[dict[str, Any]] = mapped_column(JSONB)
    trigger: Mapped[str]
    computed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.UniqueConstraint("contract_id", "period_label", "revision", name="uq_period_charges"),
    )


class VolumeBandAlert(Base):
    """billing.volume_band_exceeded was published for this unit, period and direction."""

    __tablename__ = "volume_band_alerts"

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    period_label: Mapped[str] = mapped_column(primary_key=True)
    resource_unit: Mapped[str] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(index=True)
    actual: Mapped[Decimal] = mapped_column(MONEY)
    detected_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class Invoice(Base):
    """A supplier invoice as the ERP sent it (current version; invoice_versions keeps the
    versions corrections replaced).

    The lines are stored as one JSON document: the service reads an invoice whole, and a
    10,000-line invoice is one row to write and read rather than 10,000."""

    __tablename__ = "invoices"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(index=True)
    invoice_number: Mapped[str]
    contract_id: Mapped[uuid.UUID]
    period_label: Mapped[str]
    currency: Mapped[str]
    total: Mapped[Decimal] = mapped_column(MONEY)
    issued_on: Mapped[date | None]
    line_count: Mapped[int]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    content_hash: Mapped[str]
    version: Mapped[int]
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "invoice_number", name="uq_invoice_number"),
        sa.Index("ix_invoices_period", "contract_id", "period_label"),
    )


class InvoiceVersion(Base):
    """An earlier version of an invoice, kept when a correction replaced it."""

    __tablename__ = "invoice_versions"

    invoice_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("invoices.id"), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(index=True)
    content_hash: Mapped[str]
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class ReconciliationRun(Base):
    """One reconciliation of an invoice; a new revision when an input changed the result."""

    __tablename__ = "reconciliations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(index=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("invoices.id"))
    invoice_version: Mapped[int]
    contract_id: Mapped[uuid.UUID]
    contract_version: Mapped[int]
    period_label: Mapped[str]
    revision: Mapped[int]
    is_current: Mapped[bool]
    currency: Mapped[str]
    expected_total: Mapped[Decimal] = mapped_column(MONEY)
    invoiced_total: Mapped[Decimal] = mapped_column(MONEY)
    lines_total: Mapped[Decimal] = mapped_column(MONEY)
    difference: Mapped[Decimal] = mapped_column(MONEY)
    sums_by_class: Mapped[dict[str, str]] = mapped_column(JSONB)
    status: Mapped[str]
    discrepancy_count: Mapped[int]
    charges_revision: Mapped[int]
    fingerprint: Mapped[str]
    trigger: Mapped[str]
    reconciled_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.UniqueConstraint("invoice_id", "revision", name="uq_reconciliation_revision"),
    )


class DiscrepancyRow(Base):
    """One difference found by one reconciliation revision. The leakage ledger sums the
    rows of current revisions, so a re-reconciliation replaces earlier numbers."""

    __tablename__ = "discrepancies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str]
    reconciliation_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("reconciliations.id"))
    invoice_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    contract_id: Mapped[uuid.UUID]
    period_label: Mapped[str]
    currency: Mapped[str]
    revision: Mapped[int]
    seq: Mapped[int]
    is_current: Mapped[bool]
    discrepancy_class: Mapped[str]
    direction: Mapped[str]
    amount: Mapped[Decimal] = mapped_column(MONEY)
    item_code: Mapped[str | None]
    line_number: Mapped[int | None]
    expected: Mapped[str | None]
    invoiced: Mapped[str | None]
    summary: Mapped[str]
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONB)

    __table_args__ = (
        sa.UniqueConstraint("reconciliation_id", "seq", name="uq_discrepancy_seq"),
        sa.Index(
            "ix_discrepancies_ledger", "tenant_id", "is_current", "contract_id", "period_label"
        ),
    )
