"""Retention of the bookkeeping rows every service keeps: the inbox and Idempotency-Keys.

Both grow with traffic and are only needed for a while:
- an inbox row (consumer, event id) makes a redelivered event a no-op. Kafka keeps a topic's
  records for 7 days (`log.retention.hours=168`), so a redelivery older than that cannot
  happen short of a replay from an archive; rows are kept `INBOX_RETENTION_DAYS` (30);
- an `idempotency_keys` row answers a client's retry of a POST with the first response;
  clients retry within minutes or hours: rows are kept `IDEMPOTENCY_RETENTION_HOURS` (168).
The outbox prunes its published rows itself (the relay, 7 days).

`prune_retained` is a periodic job (every `RETENTION_INTERVAL_SECONDS`, one instance at a
time): it deletes in batches of `RETENTION_BATCH_ROWS`, at most `RETENTION_MAX_ROWS` per
table per run, so a run never holds a long transaction on a large backlog; the next run
goes on where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.tables import INBOX
from crm_platform.idempotency import IDEMPOTENCY
from crm_platform.scheduler import JobContext
from crm_platform.settings import ServiceSettings

log = structlog.get_logger(__name__)

PRUNED = Counter("crm_retention_pruned_rows_total", "Rows deleted past retention", ["table"])


@dataclass(frozen=True)
class Retained:
    """A table, its timestamp column, and the instant before which its rows go."""

    table: str
    column: str
    cutoff: datetime


def cutoffs(now: datetime, settings: ServiceSettings) -> list[Retained]:
    """What each table keeps, as of `now`."""
    return [
        Retained(INBOX, "processed_at", now - timedelta(days=settings.inbox_retention_days)),
        Retained(
            IDEMPOTENCY,
            "created_at",
            now - timedelta(hours=settings.idempotency_retention_hours),
        ),
    ]


async def prune(session: AsyncSession, retained: Retained, *, batch: int, limit: int) -> int:
    """Delete the table's rows older than the cutoff, `batch` at a time, at most about
    `limit`; the number deleted (0 when the service has no such table)."""
    exists = await session.scalar(sa.select(sa.func.to_regclass(retained.table)))
    if exists is None:
        return 0
    # ctid = ANY(ARRAY(...)): a TID scan of the batch found, not a join over the table.
    # The names are this module's constants, never input.
    delete = sa.text(
        f'DELETE FROM "{retained.table}" WHERE ctid = ANY(ARRAY('
        f'SELECT ctid FROM "{retained.table}" WHERE "{retained.column}" < :cutoff LIMIT :batch))'
    )
    deleted = 0
    while deleted < limit:
        result = await session.execute(delete, {"cutoff": retained.cutoff, "batch": batch})
        count = int(getattr(result, "rowcount", 0) or 0)
        deleted += count
        if count < batch:
            break
    return deleted


async def prune_retained(job: JobContext) -> None:
    """The periodic job: every retained table pruned to its cutoff. Time is the database's,
    the clock that stamped the rows (not the service's injectable clock)."""
    settings = job.settings
    now = await job.session.scalar(sa.select(sa.func.now()))
    assert now is not None
    for retained in cutoffs(now, settings):
        deleted = await prune(
            job.session,
            retained,
            batch=settings.retention_batch_rows,
            limit=settings.retention_max_rows,
        )
        if deleted:
            PRUNED.labels(retained.table).inc(deleted)
            log.info(
                "retention.pruned",
                table=retained.table,
                rows=deleted,
                before=retained.cutoff.isoformat(),
            )
