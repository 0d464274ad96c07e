"""billing-reconciler's tables."""

from __future__ import annotations

import uuid
from datetime import datetime
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
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONB)
    source_event_id: Mapped[str]
    calculated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        # One credit per SLA and period: a redelivered or repeated close never pays twice.
        sa.UniqueConstraint("contract_id", "sla_code", "period_label", name="uq_credit_period"),
    )
