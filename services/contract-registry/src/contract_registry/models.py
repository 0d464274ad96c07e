"""contract-registry's tables: contracts, their versions, and the health read model."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crm_platform.app import attach_platform_tables


class Base(DeclarativeBase):
    pass


attach_platform_tables(Base.metadata)


class Contract(Base):
    """A contract and what every version shares. `current_version` is the latest activated
    version (version 1 while the contract is a draft); the descriptive columns follow it."""

    __tablename__ = "contracts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(index=True)
    reference: Mapped[str]
    customer: Mapped[str]
    supplier: Mapped[str]
    currency: Mapped[str]
    timezone: Mapped[str]
    status: Mapped[str]  # draft | active | terminated | expired
    start_date: Mapped[date]
    end_date: Mapped[date | None]
    current_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    # The instant the contract ends: the midnight after end_date in the contract's zone.
    ends_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # A termination: scheduled (terminates_on in the future, still active) or done.
    terminates_on: Mapped[date | None]
    terminates_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    termination_reason: Mapped[str | None]
    terminated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "reference", name="uq_contract_reference"),
        sa.Index("ix_contracts_created_at_id", "created_at", "id"),
        sa.Index("ix_contracts_status_ends", "status", "ends_at"),
    )


class ContractVersion(Base):
    """One version of the terms. Version 1 is the draft until activation; amendments add
    versions with their effective date. Earlier versions stay readable."""

    __tablename__ = "contract_versions"

    contract_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("contracts.id"), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str]
    state: Mapped[str]  # draft | activated | discarded
    effective_from: Mapped[date]
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    note: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


# The health read model keeps one row per thing another service reports (an SLA period, a
# credit, a period's charges, an invoice, an obligation) with its latest revision; a
# period's health is computed from them on read, so a restatement replaces, never adds.


class HealthSlaPeriod(Base):
    __tablename__ = "health_sla_periods"
    __table_args__ = (sa.Index("ix_health_sla_periods_tenant_period", "tenant_id", "period_label"),)

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    period_label: Mapped[str] = mapped_column(primary_key=True)
    sla_code: Mapped[str] = mapped_column(primary_key=True)
    tenant_id: Mapped[str]
    metric_kind: Mapped[str]
    unit: Mapped[str | None]  # measurement SLAs: the unit of their values (ms, …)
    outcome: Mapped[str]
    attainment: Mapped[Decimal | None] = mapped_column(sa.Numeric())
    expected_level: Mapped[Decimal] = mapped_column(sa.Numeric())
    minimum_level: Mapped[Decimal] = mapped_column(sa.Numeric())
    restatement: Mapped[int]  # 0 for the close, n for the n-th restatement
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class HealthCredit(Base):
    __tablename__ = "health_credits"
    __table_args__ = (sa.Index("ix_health_credits_tenant_period", "tenant_id", "period_label"),)

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    period_label: Mapped[str] = mapped_column(primary_key=True)
    sla_code: Mapped[str] = mapped_column(primary_key=True)
    tenant_id: Mapped[str]
    credit_amount: Mapped[Decimal] = mapped_column(sa.Numeric())
    monthly_charges: Mapped[Decimal] = mapped_column(sa.Numeric())
    at_risk_amount: Mapped[Decimal] = mapped_column(sa.Numeric())
    revision: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class HealthCharges(Base):
    __tablename__ = "health_charges"
    __table_args__ = (sa.Index("ix_health_charges_tenant_period", "tenant_id", "period_label"),)

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    period_label: Mapped[str] = mapped_column(primary_key=True)
    tenant_id: Mapped[str]
    monthly_charges: Mapped[Decimal] = mapped_column(sa.Numeric())
    expected_total: Mapped[Decimal] = mapped_column(sa.Numeric())
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    revision: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class HealthGeneration(Base):
    """Bumped in the transaction that changes an SLA period, credit or charges of the tenant
    (what the portfolio benchmarks read): benchmarks computed at generation g still hold
    while the tenant's generation is g (benchmarks/cache.py)."""

    __tablename__ = "health_generations"

    tenant_id: Mapped[str] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(sa.BigInteger)


class BenchmarkPeriod(Base):
    """What one contract period adds to the portfolio benchmarks (benchmarks/summaries.py):
    its figures per series and group, and the groups it makes the contract count in, as
    computed from its SLA periods, credits and charges at the last change. The next change
    takes these out of the counts and puts the new ones in."""

    __tablename__ = "benchmark_periods"
    __table_args__ = (sa.Index("ix_benchmark_periods_tenant_period", "tenant_id", "period_label"),)

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # Compared as Python compares labels (the benchmarks' period filters), index and all.
    period_label: Mapped[str] = mapped_column(sa.String(collation="C"), primary_key=True)
    tenant_id: Mapped[str]
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB)


class BenchmarkCount(Base):
    """How many contract periods (or SLA periods) of the tenant give `value` in a series
    and group, per period and over all periods (period_label '*'): the benchmarks'
    percentiles read these few rows instead of every fact."""

    __tablename__ = "benchmark_counts"

    tenant_id: Mapped[str] = mapped_column(primary_key=True)
    period_label: Mapped[str] = mapped_column(sa.String(collation="C"), primary_key=True)
    # "C": the primary key's order is the order a percentile walks (no sort, no locale).
    series: Mapped[str] = mapped_column(sa.String(collation="C"), primary_key=True)
    grp: Mapped[str] = mapped_column(sa.String(collation="C"), primary_key=True)
    value: Mapped[Decimal] = mapped_column(sa.Numeric(), primary_key=True)
    n: Mapped[int]


class BenchmarkContract(Base):
    """The periods of a contract that are in a benchmark group (kept while there is one):
    the group's `contracts` over a range of periods counts the rows holding one of them."""

    __tablename__ = "benchmark_contracts"

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    family: Mapped[str] = mapped_column(primary_key=True)
    grp: Mapped[str] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(index=True)
    periods: Mapped[list[str]] = mapped_column(ARRAY(sa.String()))  # period labels, sorted


class HealthInvoice(Base):
    __tablename__ = "health_invoices"

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(index=True)
    period_label: Mapped[str]
    invoice_number: Mapped[str]
    expected_total: Mapped[Decimal] = mapped_column(sa.Numeric())
    invoiced_total: Mapped[Decimal] = mapped_column(sa.Numeric())
    discrepancies: Mapped[int]
    sums_by_class: Mapped[dict[str, str]] = mapped_column(JSONB)
    revision: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class HealthObligation(Base):
    __tablename__ = "health_obligations"

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    obligation_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(index=True)
    period_label: Mapped[str]
    kind: Mapped[str]
    due_date: Mapped[date]
    status: Mapped[str]  # open | fulfilled | waived
    went_overdue: Mapped[bool]
    fulfilled_on: Mapped[date | None]
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
