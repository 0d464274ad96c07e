"""Telemetry ingestion: one path for HTTP (JSON and NDJSON) and for telemetry.v1.

A batch is stored in the caller's transaction: raw rows in bulk (duplicates skipped by
their unique keys), downtime spans folded in under per-service-key locks, then the
periods the batch landed in are checked for `sla.at_risk` / `sla.breached` (open) or
restated (closed). Everything commits together or not at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.telemetry import IncidentItem, MeasurementItem, OutageItem, SampleItem
from crm_platform.emitter import Emit
from sla_monitor.attainment.monitoring import on_telemetry
from sla_monitor.telemetry import repository as repo

TelemetryItemT: TypeAlias = OutageItem | SampleItem | IncidentItem | MeasurementItem


@dataclass
class IngestResult:
    accepted: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    touched: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    # New rows that downtime spans still have to absorb.
    new_outages: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    new_samples: list[tuple[str, datetime]] = field(default_factory=list)

    def touch(self, key: str, start: datetime, end: datetime) -> None:
        old = self.touched.get(key)
        self.touched[key] = (start, end) if old is None else (min(old[0], start), max(old[1], end))


async def store_raw(
    *, session: AsyncSession, tenant_id: str, items: Sequence[TelemetryItemT], result: IngestResult
) -> None:
    """Write one chunk of items as raw rows (duplicates skipped); spans come after."""
    outages = [i for i in items if isinstance(i, OutageItem)]
    samples = [i for i in items if isinstance(i, SampleItem)]
    incidents = [i for i in items if isinstance(i, IncidentItem)]
    measurements = [i for i in items if isinstance(i, MeasurementItem)]
    db = await repo.driver(session)
    if outages:
        new = await repo.insert_outages(db, tenant_id, outages)
        result.accepted["outage"] += len(new)
        result.duplicates["outage"] += len(outages) - len(new)
        for key, start, end in new:
            result.touch(key, start, end)
        result.new_outages.extend(new)
    if samples:
        stored = await repo.insert_samples(db, tenant_id, samples)
        result.accepted["sample"] += stored
        result.duplicates["sample"] += len(samples) - stored
        if stored:
            for sample in samples:
                result.touch(sample.service_key, sample.observed_at, sample.observed_at)
                result.new_samples.append((sample.service_key, sample.observed_at))
    if incidents:
        changed, moves = await repo.upsert_incidents(db, tenant_id, incidents)
        result.accepted["incident"] += changed
        result.duplicates["incident"] += len(incidents) - changed
        for move in moves:
            result.touch(move.service_key, move.opened_at, move.resolved_at or move.opened_at)
    if measurements:
        new_values = await repo.insert_measurements(db, tenant_id, measurements)
        result.accepted["measurement"] += len(new_values)
        result.duplicates["measurement"] += len(measurements) - len(new_values)
        for key, at in new_values:
            result.touch(key, at, at)


async def update_spans(*, session: AsyncSession, tenant_id: str, result: IngestResult) -> None:
    """Fold the new outages and samples into the downtime spans.

    Span maintenance of a service key is serialised by an advisory lock taken after the
    raw rows are written and held to commit: the locks are all taken at once, in order,
    and nothing waited on while holding them can be held by a transaction waiting for
    them, so concurrent batches queue instead of deadlocking.
    """
    if not result.new_outages and not result.new_samples:
        return
    db = await repo.driver(session)
    keys = {k for k, _, _ in result.new_outages} | {k for k, _ in result.new_samples}
    await repo.lock_service_keys(db, tenant_id, sorted(keys))
    spans = repo.SpanChanges()
    await repo.merge_outage_spans(db, tenant_id, result.new_outages, spans)
    await repo.rebuild_sample_spans(db, tenant_id, result.new_samples, spans)
    for key, (start, end) in spans.hull.items():
        result.touch(key, start, end)
    result.new_outages.clear()
    result.new_samples.clear()


async def settle(
    *, session: AsyncSession, emit: Emit, now: datetime, tenant_id: str, result: IngestResult
) -> None:
    """After the batch is stored: signals for open periods, restatements for closed ones."""
    await on_telemetry(
        session=session, emit=emit, now=now, tenant_id=tenant_id, touched=result.touched
    )


async def ingest(
    *,
    session: AsyncSession,
    emit: Emit,
    now: datetime,
    tenant_id: str,
    items: Sequence[TelemetryItemT],
) -> IngestResult:
    result = IngestResult()
    await store_raw(session=session, tenant_id=tenant_id, items=items, result=result)
    await update_spans(session=session, tenant_id=tenant_id, result=result)
    await settle(session=session, emit=emit, now=now, tenant_id=tenant_id, result=result)
    return result
