"""sla-monitor's tables. Outages are stored as reported; attainment is computed from them."""

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


class Base(DeclarativeBase):
    pass


attach_platform_tables(Base.metadata)
attach_contract_terms_table(Base.metadata)


class SlaDefinitionRow(Base):
    """Which SLA of which contract reads which telemetry service key (latest version)."""

    __tablename__ = "sla_definitions"

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sla_code: Mapped[str] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(index=True)
    contract_version: Mapped[int]
    service_key: Mapped[str]
    metric_kind: Mapped[str]
    timezone: Mapped[str]
    active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (sa.Index("ix_sla_definitions_service_key", "tenant_id", "service_key"),)


class Outage(Base):
    __tablename__ = "outages"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    tenant_id: Mapped[str]
    service_key: Mapped[str]
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    source_id: Mapped[str | None]
    received_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )

    __table_args__ = (
        # The same interval reported twice is one outage.
        sa.UniqueConstraint(
            "tenant_id", "service_key", "started_at", "ended_at", name="uq_outages_interval"
        ),
        sa.Index("ix_outages_lookup", "tenant_id", "service_key", "started_at"),
    )


class SlaPeriod(Base):
    """A closed measurement period of one SLA, with the figures that were published."""

    __tablename__ = "sla_periods"

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sla_code: Mapped[str] = mapped_column(primary_key=True)
    period_label: Mapped[str] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(index=True)
    contract_version: Mapped[int]
    status: Mapped[str]
    attainment: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 6))
    outcome: Mapped[str]
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB)
    explanation: Mapped[str]
    closed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    event_id: Mapped[str]
