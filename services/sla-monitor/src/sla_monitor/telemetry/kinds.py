"""Every kind of telemetry sla-monitor takes, in one table.

A kind is a member of the telemetry.v1 item union (`crm_events.schemas.telemetry`). Here,
per kind: its item model (and so its timestamp fields), how a batch of its items is stored
(what was new, what was a duplicate, which instants of which service keys it touched, and
what the downtime spans still have to absorb), and what proves that a service key was
observed in a period. Adding a kind is adding an entry here (and its table and insert in
repository.py); `tests/unit/test_registries.py` fails while a member of the union has no
entry.

Which kinds prove a period has data depends on the SLA's metric (DESIGN: a period with no
data is `no_data`, never `met`): an availability period is observed by outages and samples
(a down run touching it, or any sample inside it); an incident period by telemetry of any
kind. A measurement SLA reads its own values (of its unit): no value, no data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.contracts import MetricKind
from crm_events.schemas.telemetry import IncidentItem, MeasurementItem, OutageItem, SampleItem
from sla_monitor.attainment.domain import PeriodBounds
from sla_monitor.models import DowntimeSpan, Incident, Measurement, Sample
from sla_monitor.telemetry import repository as repo
from sla_monitor.telemetry.repository import SpanChanges, Touch

ItemT = TypeVar("ItemT", bound=BaseModel)

AVAILABILITY = frozenset({MetricKind.AVAILABILITY})
INCIDENTS = frozenset({MetricKind.INCIDENT_RESPONSE, MetricKind.INCIDENT_RESOLUTION})


@dataclass
class Stored:
    """What storing one kind's items did."""

    accepted: int  # items that changed something
    duplicates: int  # items already known
    touched: list[Touch]  # (service key, first, last instant) whose figures may have moved
    downtime: list[Touch] = field(default_factory=list)  # for the downtime spans to absorb

    @classmethod
    def of(
        cls,
        items: Sequence[object],
        accepted: int,
        touched: list[Touch],
        downtime: list[Touch] | None = None,
    ) -> Stored:
        return cls(accepted, len(items) - accepted, touched, downtime or [])


Store = Callable[[Any, str, Sequence[ItemT]], Awaitable[Stored]]
# (tenant, service key, period) → a SQL condition that holds when the kind shows the
# service key was observed in the period.
Evidence = Callable[[str, str, PeriodBounds], sa.ColumnElement[bool]]
FoldDowntime = Callable[[Any, str, Sequence[Touch], SpanChanges], Awaitable[None]]


@dataclass(frozen=True)
class TelemetryKind(Generic[ItemT]):
    name: str  # the item's `kind`, the union's tag
    item: type[ItemT]
    store: Store[ItemT]  # one chunk of items, in bulk, on the session's asyncpg connection
    evidence: Evidence
    evidence_for: frozenset[MetricKind]  # the SLA metrics whose periods `evidence` proves
    fold_downtime: FoldDowntime | None = None  # how `Stored.downtime` enters the spans

    @property
    def timestamps(self) -> tuple[str, ...]:
        """The item's instants (each must carry a UTC offset)."""
        return tuple(
            name for name, f in self.item.model_fields.items() if _is_instant(f.annotation)
        )


def _is_instant(annotation: Any) -> bool:
    """datetime, or an Annotated datetime (crm_events.types.Instant), optional or not."""
    for member in (annotation, *get_args(annotation)):
        if get_origin(member) is Annotated:
            member = get_args(member)[0]
        if member is datetime:
            return True
    return False


async def _store_outages(db: Any, tenant_id: str, items: Sequence[OutageItem]) -> Stored:
    new = await repo.insert_outages(db, tenant_id, items)
    return Stored.of(items, len(new), new, new)


async def _store_samples(db: Any, tenant_id: str, items: Sequence[SampleItem]) -> Stored:
    stored = await repo.insert_samples(db, tenant_id, items)
    # Recomputing down runs around a duplicate changes nothing: the whole chunk goes on.
    at = [(i.service_key, i.observed_at, i.observed_at) for i in items] if stored else []
    return Stored.of(items, stored, at, at)


async def _store_incidents(db: Any, tenant_id: str, items: Sequence[IncidentItem]) -> Stored:
    changed, moves = await repo.upsert_incidents(db, tenant_id, items)
    # An incident counts where it was resolved; an open one touches its opening only.
    touched = [(m.service_key, m.opened_at, m.resolved_at or m.opened_at) for m in moves]
    return Stored.of(items, changed, touched)


async def _store_measurements(db: Any, tenant_id: str, items: Sequence[MeasurementItem]) -> Stored:
    new = await repo.insert_measurements(db, tenant_id, items)
    return Stored.of(items, len(new), [(key, at, at) for key, at in new])


def _spans_touching(
    source: str, tenant_id: str, key: str, period: PeriodBounds
) -> sa.ColumnElement[bool]:
    return sa.exists().where(
        DowntimeSpan.tenant_id == tenant_id,
        DowntimeSpan.service_key == key,
        DowntimeSpan.source == source,
        DowntimeSpan.ended_at > period.start,
        DowntimeSpan.started_at < period.end,
    )


def _inside(column: Any, period: PeriodBounds) -> list[Any]:
    return [column >= period.start, column < period.end]


def _outage_evidence(tenant_id: str, key: str, period: PeriodBounds) -> sa.ColumnElement[bool]:
    return _spans_touching("outages", tenant_id, key, period)


def _sample_evidence(tenant_id: str, key: str, period: PeriodBounds) -> sa.ColumnElement[bool]:
    # A down run that spans the whole period shows it observed too.
    inside = sa.exists().where(
        Sample.tenant_id == tenant_id,
        Sample.service_key == key,
        *_inside(Sample.observed_at, period),
    )
    return sa.or_(inside, _spans_touching("samples", tenant_id, key, period))


def _incident_evidence(tenant_id: str, key: str, period: PeriodBounds) -> sa.ColumnElement[bool]:
    return sa.or_(
        *(
            sa.exists().where(
                Incident.tenant_id == tenant_id,
                Incident.service_key == key,
                *_inside(column, period),
            )
            for column in (Incident.opened_at, Incident.resolved_at)
        )
    )


def _measurement_evidence(tenant_id: str, key: str, period: PeriodBounds) -> sa.ColumnElement[bool]:
    return sa.exists().where(
        Measurement.tenant_id == tenant_id,
        Measurement.service_key == key,
        *_inside(Measurement.measured_at, period),
    )


# In the order a batch is stored: outages before samples, as the spans are folded.
TELEMETRY_KINDS: dict[str, TelemetryKind[Any]] = {
    kind.name: kind
    for kind in (
        TelemetryKind(
            "outage",
            OutageItem,
            _store_outages,
            _outage_evidence,
            AVAILABILITY | INCIDENTS,
            repo.merge_outage_spans,
        ),
        TelemetryKind(
            "sample",
            SampleItem,
            _store_samples,
            _sample_evidence,
            AVAILABILITY | INCIDENTS,
            repo.rebuild_sample_spans,
        ),
        TelemetryKind("incident", IncidentItem, _store_incidents, _incident_evidence, INCIDENTS),
        TelemetryKind(
            "measurement", MeasurementItem, _store_measurements, _measurement_evidence, INCIDENTS
        ),
    )
}

# Every instant field of every kind, in the registry's order.
TIMESTAMPS: tuple[str, ...] = tuple(
    dict.fromkeys(name for kind in TELEMETRY_KINDS.values() for name in kind.timestamps)
)


async def observed(
    session: AsyncSession,
    tenant_id: str,
    service_key: str,
    period: PeriodBounds,
    metric: MetricKind,
) -> bool:
    """Whether telemetry shows the service key was observed in the period, for an SLA of
    `metric` (one query, whatever the number of kinds)."""
    checks = [
        kind.evidence(tenant_id, service_key, period)
        for kind in TELEMETRY_KINDS.values()
        if metric in kind.evidence_for
    ]
    return bool(checks) and bool(await session.scalar(sa.select(sa.or_(*checks))))
