"""Raw telemetry and downtime spans in PostgreSQL, written in bulk.

Every write is one statement per kind per batch: arrays bound as parameters and unnested
server-side (`INSERT … SELECT FROM unnest(…) ON CONFLICT …`), so 10,000 items cost a
handful of round trips and duplicates are skipped by the unique keys, not by a read first.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.telemetry import IncidentItem, MeasurementItem, OutageItem, SampleItem
from sla_monitor.attainment.domain import Interval, merge
from sla_monitor.telemetry.samples import down_runs

# What a write touched: a service key and the first and last instants concerned.
Touch = tuple[str, datetime, datetime]


async def driver(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, inside the session's transaction."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    db: Any = raw.driver_connection
    if not db.is_in_transaction():
        # SQLAlchemy's asyncpg adapter sends BEGIN with its first statement: until one has
        # gone through it, statements on the driver would each commit on their own (and a
        # transaction-scoped advisory lock would end with its statement).
        await conn.exec_driver_sql("SELECT 1")
    return db


def key_lock(tenant_id: str, service_key: str) -> int:
    digest = hashlib.sha256(f"sla-monitor:spans:{tenant_id}:{service_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def lock_service_keys(db: Any, tenant_id: str, keys: Sequence[str]) -> None:
    """Serialise span maintenance per service key: transaction-scoped advisory locks,
    taken in one sorted order before anything is written (so two batches never deadlock)."""
    ids = sorted({key_lock(tenant_id, k) for k in keys})
    if ids:
        await db.execute(
            "SELECT pg_advisory_xact_lock(id) FROM (SELECT unnest($1::bigint[]) AS id "
            "ORDER BY 1) AS ordered",
            ids,
        )


async def insert_outages(
    db: Any, tenant_id: str, items: Sequence[OutageItem]
) -> list[tuple[str, datetime, datetime]]:
    rows = await db.fetch(
        """
        INSERT INTO outages (tenant_id, service_key, started_at, ended_at, source_id)
        SELECT $1, k, s, e, src FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[],
                                            $5::text[]) AS u(k, s, e, src)
        ON CONFLICT ON CONSTRAINT uq_outages_interval DO NOTHING
        RETURNING service_key, started_at, ended_at
        """,
        tenant_id,
        [i.service_key for i in items],
        [i.started_at for i in items],
        [i.ended_at for i in items],
        [i.source_id for i in items],
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def insert_samples(db: Any, tenant_id: str, items: Sequence[SampleItem]) -> int:
    """Store samples; returns how many were new. (No rows come back: recomputing down runs
    around a duplicate changes nothing, so the caller can use the whole batch.)"""
    status = await db.execute(
        """
        INSERT INTO samples (tenant_id, service_key, observed_at, status, source_id)
        SELECT $1, k, t, s, src FROM unnest($2::text[], $3::timestamptz[], $4::text[],
                                            $5::text[]) AS u(k, t, s, src)
        ON CONFLICT DO NOTHING
        """,
        tenant_id,
        [i.service_key for i in items],
        [i.observed_at for i in items],
        [i.status for i in items],
        [i.source_id for i in items],
    )
    return int(status.rsplit(" ", 1)[-1])


async def insert_measurements(
    db: Any, tenant_id: str, items: Sequence[MeasurementItem]
) -> list[tuple[str, datetime]]:
    rows = await db.fetch(
        """
        INSERT INTO measurements (tenant_id, service_key, unit, measured_at, source_key, value)
        SELECT $1, k, u, t, src, v FROM unnest($2::text[], $3::text[], $4::timestamptz[],
                                              $5::text[], $6::numeric[]) AS x(k, u, t, src, v)
        ON CONFLICT DO NOTHING
        RETURNING service_key, measured_at
        """,
        tenant_id,
        [i.service_key for i in items],
        [i.unit for i in items],
        [i.measured_at for i in items],
        [i.source_id or "" for i in items],
        [i.value for i in items],
    )
    return [(r[0], r[1]) for r in rows]


@dataclass
class IncidentChange:
    service_key: str
    priority: str
    opened_at: datetime
    resolved_at: datetime | None


async def upsert_incidents(
    db: Any, tenant_id: str, items: Sequence[IncidentItem]
) -> tuple[int, list[IncidentChange]]:
    """Keep the highest revision of each ticket. Returns (tickets changed, the changes —
    old and new placements — that may move figures)."""
    latest: dict[str, IncidentItem] = {}
    for item in items:
        seen = latest.get(item.ticket_id)
        if seen is None or item.revision > seen.revision:
            latest[item.ticket_id] = item
    chosen = list(latest.values())
    old = await db.fetch(
        "SELECT ticket_id, service_key, priority, opened_at, resolved_at FROM incidents "
        "WHERE tenant_id = $1 AND ticket_id = ANY($2::text[])",
        tenant_id,
        [i.ticket_id for i in chosen],
    )
    previous = {r[0]: IncidentChange(r[1], r[2], r[3], r[4]) for r in old}
    rows = await db.fetch(
        """
        INSERT INTO incidents (tenant_id, ticket_id, revision, service_key, priority, opened_at,
                               responded_at, resolved_at)
        SELECT $1, t, r, k, p, o, rs, rv FROM unnest($2::text[], $3::int[], $4::text[],
            $5::text[], $6::timestamptz[], $7::timestamptz[], $8::timestamptz[])
            AS u(t, r, k, p, o, rs, rv)
        ON CONFLICT (tenant_id, ticket_id) DO UPDATE SET
            revision = excluded.revision, service_key = excluded.service_key,
            priority = excluded.priority, opened_at = excluded.opened_at,
            responded_at = excluded.responded_at, resolved_at = excluded.resolved_at,
            updated_at = now()
        WHERE incidents.revision < excluded.revision
        RETURNING ticket_id, service_key, priority, opened_at, resolved_at
        """,
        tenant_id,
        [i.ticket_id for i in chosen],
        [i.revision for i in chosen],
        [i.service_key for i in chosen],
        [i.priority for i in chosen],
        [i.opened_at for i in chosen],
        [i.responded_at for i in chosen],
        [i.resolved_at for i in chosen],
    )
    changes = []
    for r in rows:
        changes.append(IncidentChange(r[1], r[2], r[3], r[4]))
        if r[0] in previous:
            changes.append(previous[r[0]])
    return len(rows), changes


@dataclass
class SpanChanges:
    """What span maintenance touched, per service key: the hull of every span removed or
    written (attainment outside it cannot have changed)."""

    hull: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    # The spans deleted and written, per service key: the stored period figures move by
    # them (attainment.downtime_store).
    removed: dict[str, list[Interval]] = field(default_factory=lambda: defaultdict(list))
    added: dict[str, list[Interval]] = field(default_factory=lambda: defaultdict(list))

    def touch(self, key: str, start: datetime, end: datetime) -> None:
        old = self.hull.get(key)
        self.hull[key] = (start, end) if old is None else (min(old[0], start), max(old[1], end))

    def remove(self, key: str, span: Interval) -> None:
        self.removed[key].append(span)
        self.touch(key, span.start, span.end)

    def add(self, key: str, span: Interval) -> None:
        self.added[key].append(span)
        self.touch(key, span.start, span.end)


async def _insert_spans(
    db: Any, tenant_id: str, source: str, spans: Sequence[tuple[str, Interval]]
) -> None:
    """Write downtime spans of one source (`outages` or `samples`)."""
    await db.execute(
        "INSERT INTO downtime_spans (tenant_id, service_key, source, started_at, ended_at) "
        "SELECT $1, k, $2, s, e FROM unnest($3::text[], $4::timestamptz[], "
        "$5::timestamptz[]) AS n(k, s, e)",
        tenant_id,
        source,
        [key for key, _ in spans],
        [iv.start for _, iv in spans],
        [iv.end for _, iv in spans],
    )


async def merge_outage_spans(
    db: Any, tenant_id: str, new: Sequence[Touch], changes: SpanChanges
) -> None:
    """Fold new outages into the merged outage spans of their service keys."""
    if not new:
        return
    by_key: dict[str, list[Interval]] = defaultdict(list)
    for key, start, end in new:
        by_key[key].append(Interval(start, end))
    keys, starts, ends = [], [], []
    for key, intervals in by_key.items():
        for iv in merge(intervals):
            keys.append(key)
            starts.append(iv.start)
            ends.append(iv.end)
    removed = await db.fetch(
        """
        DELETE FROM downtime_spans d
        USING unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS n(k, s, e)
        WHERE d.tenant_id = $1 AND d.source = 'outages' AND d.service_key = n.k
          AND d.started_at <= n.e AND d.ended_at >= n.s
        RETURNING d.service_key, d.started_at, d.ended_at
        """,
        tenant_id,
        keys,
        starts,
        ends,
    )
    for r in removed:
        by_key[r[0]].append(Interval(r[1], r[2]))
        changes.remove(r[0], Interval(r[1], r[2]))
    merged = [(key, iv) for key, intervals in by_key.items() for iv in merge(intervals)]
    for key, iv in merged:
        changes.add(key, iv)
    await _insert_spans(db, tenant_id, "outages", merged)


@dataclass(frozen=True)
class SampleWindow:
    """Where down runs of a service key may have changed: from the last `up` sample before
    the new samples to the first `up` sample after them (None: unbounded)."""

    service_key: str
    lo: datetime | None
    hi: datetime | None


async def _sample_windows(
    db: Any, tenant_id: str, bounds: dict[str, tuple[datetime, datetime]]
) -> list[SampleWindow]:
    """The window around [first, last] new sample of each service key. An instant whose
    samples disagree counts as `down` (samples.collapse), so it does not bound a window."""
    keys = list(bounds)
    rows = await db.fetch(
        """
        SELECT n.k,
          (SELECT s.observed_at FROM samples s
            WHERE s.tenant_id = $1 AND s.service_key = n.k AND s.observed_at < n.a
              AND s.status = 'up'
              AND NOT EXISTS (SELECT 1 FROM samples d WHERE d.tenant_id = $1
                  AND d.service_key = n.k AND d.observed_at = s.observed_at
                  AND d.status = 'down')
            ORDER BY s.observed_at DESC LIMIT 1) AS lo,
          (SELECT s.observed_at FROM samples s
            WHERE s.tenant_id = $1 AND s.service_key = n.k AND s.observed_at > n.b
              AND s.status = 'up'
              AND NOT EXISTS (SELECT 1 FROM samples d WHERE d.tenant_id = $1
                  AND d.service_key = n.k AND d.observed_at = s.observed_at
                  AND d.status = 'down')
            ORDER BY s.observed_at ASC LIMIT 1) AS hi
        FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS n(k, a, b)
        """,
        tenant_id,
        keys,
        [bounds[k][0] for k in keys],
        [bounds[k][1] for k in keys],
    )
    return [SampleWindow(r[0], r[1], r[2]) for r in rows]


def _window_arrays(windows: Sequence[SampleWindow]) -> tuple[list[Any], list[Any], list[Any]]:
    return (
        [w.service_key for w in windows],
        [w.lo for w in windows],
        [w.hi for w in windows],
    )


async def _samples_in(
    db: Any, tenant_id: str, windows: Sequence[SampleWindow]
) -> dict[str, list[tuple[datetime, str]]]:
    """Every sample inside the windows, per service key, in time order."""
    rows = await db.fetch(
        """
        SELECT s.service_key, s.observed_at, s.status
        FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS w(k, lo, hi)
        JOIN samples s ON s.tenant_id = $1 AND s.service_key = w.k
          AND s.observed_at >= coalesce(w.lo, '-infinity')
          AND s.observed_at <= coalesce(w.hi, 'infinity')
        ORDER BY s.service_key, s.observed_at
        """,
        tenant_id,
        *_window_arrays(windows),
    )
    samples: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for r in rows:
        samples[r[0]].append((r[1], r[2]))
    return samples


async def _drop_sample_spans(
    db: Any, tenant_id: str, windows: Sequence[SampleWindow], changes: SpanChanges
) -> None:
    """Delete the down runs that start inside the windows (they are recomputed)."""
    removed = await db.fetch(
        """
        DELETE FROM downtime_spans d
        USING unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS w(k, lo, hi)
        WHERE d.tenant_id = $1 AND d.source = 'samples' AND d.service_key = w.k
          AND d.started_at >= coalesce(w.lo, '-infinity')
          AND d.started_at <= coalesce(w.hi, 'infinity')
        RETURNING d.service_key, d.started_at, d.ended_at
        """,
        tenant_id,
        *_window_arrays(windows),
    )
    for r in removed:
        changes.remove(r[0], Interval(r[1], r[2]))


async def rebuild_sample_spans(
    db: Any, tenant_id: str, new: Sequence[Touch], changes: SpanChanges
) -> None:
    """Recompute the down runs around new samples.

    Runs are cut by `up` samples, so the window from the last `up` sample before the new
    ones to the first `up` sample after them holds every run they can change; runs outside
    it stay as they are.
    """
    if not new:
        return
    bounds: dict[str, tuple[datetime, datetime]] = {}
    for key, first, last in new:
        lo, hi = bounds.get(key, (first, last))
        bounds[key] = (min(lo, first), max(hi, last))
    windows = await _sample_windows(db, tenant_id, bounds)
    samples = await _samples_in(db, tenant_id, windows)
    await _drop_sample_spans(db, tenant_id, windows, changes)
    runs = [
        (w.service_key, run) for w in windows for run in down_runs(samples.get(w.service_key, []))
    ]
    for key, run in runs:
        changes.add(key, run)
    if runs:
        await _insert_spans(db, tenant_id, "samples", runs)
