"""How long raw telemetry is kept: the retention horizon.

With `TELEMETRY_RETENTION_DAYS` set, the `telemetry_partitions` job (every
`TELEMETRY_PARTITION_INTERVAL_SECONDS`, one instance at a time, first at start-up) gives up
raw telemetry older than the first of the UTC month that many days back — the *horizon*:
1. the horizon is recorded and committed first (`telemetry_horizon`; it only moves
   forward), so from then on ingestion refuses items wholly before it (a 422 naming the
   item and field over HTTP, the DLQ on `telemetry.v1`) and a closed period that starts
   before it is *sealed*: its published figures stand and nothing restates it
   (`Restatement.SEALED`), because its raw rows may be gone;
2. the month partitions of `samples` and `measurements` that end at or before the horizon
   are dropped whole (`partitions.drop_before`: no row-by-row delete, no bloat); the legacy
   partition goes when its bound passes. Ingestion and restatement read the horizon with
   `hold_horizon`, so a drop waits for those that read the previous one: none of them
   stores into, or reads from, a month dropped under it;
3. rows before the horizon in the small tables (outages, resolved incidents, downtime spans
   and the per-period downtime figures) are deleted in batches, as the platform's retention
   job deletes inbox rows.
Then, retention or not, it makes the month partitions of this month and the next
`TELEMETRY_PARTITION_MONTHS_AHEAD`.

Published periods (`sla_periods`), their restatements and the events already sent are kept:
they are the record. Set the retention longer than the longest measurement period plus its
close grace plus the longest restatement window of your contracts (400 days is the least
accepted: a year-long period and its close).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_events.schemas.telemetry import TelemetryItem
from crm_platform.retention import PRUNED, Retained, prune
from crm_platform.scheduler import JobContext
from sla_monitor.models import TelemetryHorizon
from sla_monitor.telemetry.partitions import (
    PARTITIONED,
    add_months,
    ddl_engine,
    drop_before,
    ensure_months,
    month_start,
)

log = structlog.get_logger(__name__)

# The small tables, pruned row by row: a row goes once its instant is before the horizon
# (an incident without `resolved_at` is never before it).
PRUNED_BY_ROW = (
    ("outages", "ended_at"),
    ("incidents", "resolved_at"),
    ("downtime_spans", "ended_at"),
    ("period_downtime", "period_end"),
)
# What places an item wholly before the horizon: its last instant.
LAST_INSTANT = {
    "outage": "ended_at",
    "sample": "observed_at",
    "measurement": "measured_at",
    "incident": "resolved_at",
}


def horizon_for(now: datetime, retention_days: int) -> datetime | None:
    """The first instant kept: the first of the UTC month `retention_days` before `now`
    (whole months go); None when telemetry is kept forever (0)."""
    if retention_days <= 0:
        return None
    return month_start(now - timedelta(days=retention_days))


def before_horizon(
    items: Sequence[TelemetryItem], horizon: datetime | None
) -> list[tuple[int, str, datetime]]:
    """The items that lie wholly before the horizon: (index, field, its instant) (pure)."""
    if horizon is None:
        return []
    found = []
    for index, item in enumerate(items):
        name = LAST_INSTANT[item.kind]
        value = getattr(item, name)
        if value is not None and value < horizon:
            found.append((index, name, value))
    return found


def horizon_details(
    found: list[tuple[int, str, datetime]], horizon: datetime, loc: Callable[[int], str]
) -> list[dict[str, Any]]:
    """`before_horizon`'s findings as error details, each item located by `loc(index)`."""
    return [
        {
            "loc": f"{loc(index)}.{name}",
            "message": f"{name} {value.isoformat()} is before {horizon.isoformat()}, the "
            "retention horizon: raw telemetry before it is no longer kept, and the periods "
            "it fell in are sealed",
            "type": "before_retention_horizon",
        }
        for index, name, value in found
    ]


async def read_horizon(session: AsyncSession | AsyncConnection) -> datetime | None:
    """The instant before which raw telemetry has been given up (None: nothing has)."""
    return await session.scalar(sa.select(TelemetryHorizon.before))


async def hold_horizon(session: AsyncSession, *, writing: bool) -> datetime | None:
    """The horizon, read once `samples` and `measurements` are held against a month's drop:
    ROW EXCLUSIVE (the lock an insert takes anyway) for a caller about to store raw rows,
    ACCESS SHARE for one about to read them. Dropping a month needs ACCESS EXCLUSIVE on its
    table, so the retention job's drop waits for this transaction: items checked against
    this horizon are stored, or a period's raw rows read, before any month that a newer
    horizon gives up is dropped — never into or from a month dropped in between. Only the
    two parents are locked (`ONLY`, not every month), in modes that the attaching of a new
    month does not conflict with. A drop waits at most `partitions.LOCK_TIMEOUT` and is
    otherwise tried again at the next run (as when this caller makes a month meanwhile:
    the attach queues behind the waiting drop, which then gives way)."""
    mode = "ROW EXCLUSIVE" if writing else "ACCESS SHARE"
    await session.execute(sa.text(f"LOCK TABLE ONLY {', '.join(PARTITIONED)} IN {mode} MODE"))
    return await read_horizon(session)


async def move_horizon(
    session: AsyncSession | AsyncConnection, before: datetime, now: datetime
) -> datetime:
    """Record the horizon (never backwards); returns the one in force."""
    statement = pg_insert(TelemetryHorizon).values(id=1, before=before, moved_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=[TelemetryHorizon.id],
        set_={"before": statement.excluded.before, "moved_at": statement.excluded.moved_at},
        where=TelemetryHorizon.before < statement.excluded.before,
    )
    await session.execute(statement)
    current = await read_horizon(session)
    assert current is not None
    return current


async def telemetry_partitions(job: JobContext) -> None:
    """The periodic job: the horizon moved and what lies before it given up (with a
    retention set), then this month's and the coming months' partitions made."""
    settings = job.settings
    session = job.session
    now = await session.scalar(sa.select(sa.func.now()))  # the clock that stamps rows
    assert now is not None
    horizon = horizon_for(now, getattr(settings, "telemetry_retention_days", 0))
    if horizon is not None:
        async with (await ddl_engine(session)).connect() as conn:
            async with conn.begin():  # committed before anything is dropped
                horizon = await move_horizon(conn, horizon, now)
            for table in PARTITIONED:
                await drop_before(conn, table, horizon)
        for table, column in PRUNED_BY_ROW:
            deleted = await prune(
                session,
                Retained(table, column, horizon),
                batch=settings.retention_batch_rows,
                limit=settings.retention_max_rows,
            )
            if deleted:
                PRUNED.labels(table).inc(deleted)
                log.info("retention.pruned", table=table, rows=deleted, before=horizon.isoformat())
    first = month_start(now)
    ahead = getattr(settings, "telemetry_partition_months_ahead", 3)
    for table in PARTITIONED:
        await ensure_months(session, table, [add_months(first, n) for n in range(ahead + 1)])
