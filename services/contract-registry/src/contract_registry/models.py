"""contract-registry's tables: contracts, their versions, and the health read model."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crm_platform.app import attach_platform_tables


class Base(DeclarativeBase):
    pass


attach_platform_tables(Base.metadata)


class Contract(Base):
    __tablename__ = "contracts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(index=True)
    reference: Mapped[str]
    customer: Mapped[str]
    supplier: Mapped[str]
    currency: Mapped[str]
    timezone: Mapped[str]
    status: Mapped[str]
    start_date: Mapped[date]
    end_date: Mapped[date | None]
    current_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.UniqueConstraint("tenant_id", "reference", name="uq_contract_reference"),)


class ContractVersion(Base):
    """One version of the terms. Version 1 is the draft until activation; amendments add
    versions with their effective date. Earlier versions stay readable."""

    __tablename__ = "contract_versions"

    contract_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("contracts.id"), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str]
    state: Mapped[str]  # draft | effective
    effective_from: Mapped[date]
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class ContractHealth(Base):
    """Per contract and period, what the other services reported (read model)."""

    __tablename__ = "contract_health"

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    period_label: Mapped[str] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(index=True)
    slas_met: Mapped[int] = mapped_column(default=0)
    slas_below_expected: Mapped[int] = mapped_column(default=0)
    slas_failed: Mapped[int] = mapped_column(default=0)
    slas_no_data: Mapped[int] = mapped_column(default=0)
    credits_total: Mapped[Decimal] = mapped_column(sa.Numeric(), default=Decimal(0))
    monthly_charges: Mapped[Decimal | None] = mapped_column(sa.Numeric())
    obligations_opened: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
