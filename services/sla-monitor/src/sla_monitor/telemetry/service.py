"""Telemetry ingestion: one path for HTTP and for telemetry.v1."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.telemetry import OutageItem
from sla_monitor.models import Outage


async def ingest(
    *, session: AsyncSession, tenant_id: str, items: Sequence[OutageItem]
) -> tuple[int, int]:
    """Store outages; an interval already stored is a duplicate. Returns (stored, duplicates)."""
    if not items:
        return 0, 0
    rows = [
        {
            "tenant_id": tenant_id,
            "service_key": i.service_key,
            "started_at": i.started_at,
            "ended_at": i.ended_at,
            "source_id": i.source_id,
        }
        for i in items
    ]
    stored = 0
    # Batched multi-row inserts; PostgreSQL caps bind parameters at 65535 per statement.
    for start in range(0, len(rows), 5000):
        chunk = rows[start : start + 5000]
        result = await session.execute(
            pg_insert(Outage)
            .values(chunk)
            .on_conflict_do_nothing(constraint="uq_outages_interval")
            .returning(Outage.id)
        )
        stored += len(result.all())
    return stored, len(rows) - stored
