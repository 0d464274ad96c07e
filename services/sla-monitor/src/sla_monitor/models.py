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
    # When this service first knew the SLA (its clock): periods that had ended before
    # are history being loaded, closed by an operator rather than by the close job.
    tracked_since: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

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
    metric_kind: Mapped[str | None]
    # The published payload (sla.period_closed, or the latest sla.period_restated) and
    # the detail behind it (counted downtime, missed incidents…), for the read APIs.
    published: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    restatements: Mapped[int] = mapped_column(default=0, server_default="0")
    last_restated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Sample(Base):
    """An up/down observation; the same (service key, instant, status) is stored once.
    Partitioned by month of `observed_at` (`sla_monitor.telemetry.retention`)."""

    __tablename__ = "samples"
    __table_args__ = {"postgresql_partition_by": "RANGE (observed_at)"}

    tenant_id: Mapped[str] = mapped_column(primary_key=True)
    service_key: Mapped[str] = mapped_column(primary_key=True)
    observed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), primary_key=True)
    status: Mapped[str] = mapped_column(primary_key=True)
    source_id: Mapped[str | None]


class Incident(Base):
    """An ITSM ticket, upserted by ticket id; the highest revision wins."""

    __tablename__ = "incidents"

    tenant_id: Mapped[str] = mapped_column(primary_key=True)
    ticket_id: Mapped[str] = mapped_column(primary_key=True)
    revision: Mapped[int]
    service_key: Mapped[str]
    priority: Mapped[str]
    opened_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )

    __table_args__ = (
        # SLAs match priorities case-insensitively: lower(priority) is what is looked up.
        sa.Index(
            "ix_incidents_resolved",
            "tenant_id",
            "service_key",
            sa.func.lower(sa.literal_column("priority")),
            "resolved_at",
        ),
        sa.Index("ix_incidents_opened", "tenant_id", "service_key", "opened_at"),
    )


class Measurement(Base):
    """A measured value; one per (service key, unit, source, instant). Partitioned by
    month of `measured_at` (`sla_monitor.telemetry.retention`)."""

    __tablename__ = "measurements"
    __table_args__ = {"postgresql_partition_by": "RANGE (measured_at)"}

    tenant_id: Mapped[str] = mapped_column(primary_key=True)
    service_key: Mapped[str] = mapped_column(primary_key=True)
    unit: Mapped[str] = mapped_column(primary_key=True)
    measured_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), primary_key=True)
    source_key: Mapped[str] = mapped_column(primary_key=True)  # source_id, or '' without one
    value: Mapped[Decimal] = mapped_column(sa.Numeric)


class DowntimeSpan(Base):
    """Downtime per service key, kept merged as telemetry arrives: the union of outages
    (`source` = outages) and the down runs of samples (`source` = samples). Attainment
    reads these spans, never the raw rows."""

    __tablename__ = "downtime_spans"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    tenant_id: Mapped[str]
    service_key: Mapped[str]
    source: Mapped[str]
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.Index("ix_downtime_spans_lookup", "tenant_id", "service_key", "ended_at"),)


class PeriodDowntimeRow(Base):
    """A period's downtime figures for an availability SLA, kept up to date as its service
    key's spans change (attainment.period_downtime), with the basis they were measured on:
    the period and its exclusions. Written only under the service key's span lock."""

    __tablename__ = "period_downtime"

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sla_code: Mapped[str] = mapped_column(primary_key=True)
    period_label: Mapped[str] = mapped_column(primary_key=True)
    tenant_id: Mapped[str]
    service_key: Mapped[str]
    period_start: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    excluded_starts: Mapped[list[datetime]] = mapped_column(sa.ARRAY(sa.DateTime(timezone=True)))
    excluded_ends: Mapped[list[datetime]] = mapped_column(sa.ARRAY(sa.DateTime(timezone=True)))
    spans: Mapped[int]
    reported_seconds: Mapped[int] = mapped_column(sa.BigInteger)
    downtime_seconds: Mapped[int] = mapped_column(sa.BigInteger)

    __table_args__ = (sa.Index("ix_period_downtime_key", "tenant_id", "service_key", "period_end"),)


class MaintenanceWindowRow(Base):
    """An ad-hoc maintenance window approved through the API."""

    __tablename__ = "maintenance_windows"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[str]
    contract_id: Mapped[uuid.UUID]
    sla_codes: Mapped[list[str]] = mapped_column(sa.ARRAY(sa.String))
    starts_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    reason: Mapped[str]
    approved_by: Mapped[str]
    approved_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.Index("ix_maintenance_windows_contract", "contract_id", "starts_at"),)


class SlaSignal(Base):
    """`sla.at_risk` / `sla.breached` sent for an SLA and period: the key makes it once."""

    __tablename__ = "sla_signals"

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sla_code: Mapped[str] = mapped_column(primary_key=True)
    period_label: Mapped[str] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(primary_key=True)  # at_risk | breached
    tenant_id: Mapped[str]
    detected_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    event_id: Mapped[str]
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)


class SlaRestatement(Base):
    """The audit trail: every restatement of a closed period, with old and new figures."""

    __tablename__ = "sla_restatements"

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sla_code: Mapped[str] = mapped_column(primary_key=True)
    period_label: Mapped[str] = mapped_column(primary_key=True)
    restatement: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str]
    previous: Mapped[dict[str, Any]] = mapped_column(JSONB)
    current: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reason: Mapped[str]
    restated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    event_id: Mapped[str]


class TelemetryHorizon(Base):
    """The instant before which raw telemetry has been given up (one row, or none)."""

    __tablename__ = "telemetry_horizon"

    id: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    before: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    moved_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.CheckConstraint("id = 1", name="ck_telemetry_horizon_single_row"),)
