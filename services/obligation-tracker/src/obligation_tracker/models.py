"""obligation-tracker's tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime
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


class Obligation(Base):
    __tablename__ = "obligations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(index=True)
    contract_id: Mapped[uuid.UUID] = mapped_column(index=True)
    kind: Mapped[str]
    title: Mapped[str]
    clause: Mapped[str] = mapped_column(default="")
    owner_role: Mapped[str]
    severity: Mapped[str]
    status: Mapped[str] = mapped_column(default="open")
    due_date: Mapped[date]
    dedup_key: Mapped[str] = mapped_column(unique=True)
    source_event_id: Mapped[str | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


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
