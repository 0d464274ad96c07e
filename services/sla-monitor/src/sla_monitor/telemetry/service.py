"""Telemetry ingestion: one path for HTTP (JSON and NDJSON) and for telemetry.v1.

A batch is stored in the caller's transaction: raw rows in bulk (duplicates skipped by
their unique keys), downtime spans folded in under per-service-key locks, then the
periods the batch landed in are checked for `sla.at_risk` / `sla.breached` (open) or
restated (closed). Everything commits together or not at all.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.telemetry import TelemetryItem
from crm_platform.emitter import Emit
from sla_monitor.attainment.downtime_store import fold_span_changes, hold_span_locks
from sla_monitor.attainment.monitoring import on_telemetry
from sla_monitor.telemetry import repository as repo
from sla_monitor.telemetry.kinds import TELEMETRY_KINDS, Stored
from sla_monitor.telemetry.partitions import KIND_TABLE, PARTITIONED, ensure_months, months_of
from sla_monitor.telemetry.repository import Touch


@dataclass
class IngestResult:
    accepted: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    touched: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    # New rows that downtime spans still have to absorb, per kind.
    downtime: dict[str, list[Touch]] = field(default_factory=dict)

    def touch(self, key: str, start: datetime, end: datetime) -> None:
        old = self.touched.get(key)
        self.touched[key] = (start, end) if old is None else (min(old[0], start), max(old[1], end))

    def add(self, kind: str, stored: Stored) -> None:
        self.accepted[kind] += stored.accepted
        self.duplicates[kind] += stored.duplicates
        for key, start, end in stored.touched:
            self.touch(key, start, end)
        if stored.downtime:
            self.downtime.setdefault(kind, []).extend(stored.downtime)


async def store_raw(
    *, session: AsyncSession, tenant_id: str, items: Sequence[TelemetryItem], result: IngestResult
) -> None:
    """Write one chunk of items as raw rows (duplicates skipped; the month partitions they
    need made first); spans come after."""
    by_kind: dict[str, list[TelemetryItem]] = defaultdict(list)
    for item in items:
        by_kind[item.kind].append(item)
    for name, table in KIND_TABLE.items():
        if by_kind[name]:
            column = PARTITIONED[table]
            await ensure_months(
                session, table, months_of(getattr(i, column) for i in by_kind[name])
            )
    db = await repo.driver(session)
    for kind in TELEMETRY_KINDS.values():
        if by_kind[kind.name]:
            result.add(kind.name, await kind.store(db, tenant_id, by_kind[kind.name]))


async def update_spans(*, session: AsyncSession, tenant_id: str, result: IngestResult) -> None:
    """Fold the new outages and samples into the downtime spans.

    Span maintenance of a service key is serialised by an advisory lock taken after the
    raw rows are written and held to commit: the locks are all taken at once, in order,
    and nothing waited on while holding them can be held by a transaction waiting for
    them, so concurrent batches queue instead of deadlocking.
    """
    if not any(result.downtime.values()):
        return
    db = await repo.driver(session)
    keys = {key for rows in result.downtime.values() for key, _, _ in rows}
    await repo.lock_service_keys(db, tenant_id, sorted(keys))
    hold_span_locks(session, tenant_id, keys)
    spans = repo.SpanChanges()
    for kind in TELEMETRY_KINDS.values():
        new = result.downtime.get(kind.name)
        if new and kind.fold_downtime is not None:
            await kind.fold_downtime(db, tenant_id, new, spans)
    await fold_span_changes(session, db, tenant_id, spans.removed, spans.added)
    for key, (start, end) in spans.hull.items():
        result.touch(key, start, end)
    result.downtime.clear()


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
    items: Sequence[TelemetryItem],
) -> IngestResult:
    result = IngestResult()
    await store_raw(session=session, tenant_id=tenant_id, items=items, result=result)
    await update_spans(session=session, tenant_id=tenant_id, result=result)
    await settle(session=session, emit=emit, now=now, tenant_id=tenant_id, result=result)
    return result
