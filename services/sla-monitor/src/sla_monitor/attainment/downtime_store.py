"""Stored period downtime figures (period_downtime): folded forward as spans change, made
on first use, read by the early warnings.

Every write happens while the transaction holds the span lock of the service key
(telemetry.repository.lock_service_keys): span changes and the figures they move commit
together, and a period measured from its spans cannot miss a concurrent batch's spans.
A row is used only while its basis (the period and the SLA's exclusions) is still the
SLA's; otherwise the period is measured from its spans again (an amendment or an ad-hoc
maintenance window changes the exclusions without touching the spans).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sla_monitor.attainment import inputs
from sla_monitor.attainment.domain import Interval, PeriodBounds, merge
from sla_monitor.attainment.period_downtime import (
    DowntimeBasis,
    PeriodDowntime,
    closure_complete,
    fold,
    measure,
)
from sla_monitor.models import PeriodDowntimeRow

log = structlog.get_logger(__name__)

# session.info key: the (tenant, service key) pairs whose span lock this transaction holds.
_SPAN_LOCKS = "sla_monitor.span_locks"


def hold_span_locks(session: AsyncSession, tenant_id: str, keys: Iterable[str]) -> None:
    """Record that the session's transaction holds these keys' span locks."""
    held = session.info.setdefault(_SPAN_LOCKS, {})
    txn = session.sync_session.get_transaction()
    for key in keys:
        held[(tenant_id, key)] = txn


def holds_span_lock(session: AsyncSession, tenant_id: str, key: str) -> bool:
    held = session.info.get(_SPAN_LOCKS, {})
    txn = held.get((tenant_id, key))
    return txn is not None and txn is session.sync_session.get_transaction()


async def _touching(
    db: Any, tenant_id: str, regions: Mapping[str, Sequence[Interval]]
) -> list[tuple[int, str, Interval]]:
    """Every span (any source) that overlaps or touches one of the regions."""
    keys, starts, ends = [], [], []
    for key, intervals in regions.items():
        for iv in intervals:
            keys.append(key)
            starts.append(iv.start)
            ends.append(iv.end)
    rows = await db.fetch(
        """
        SELECT DISTINCT d.id, d.service_key, d.started_at, d.ended_at
        FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS r(k, s, e)
        JOIN downtime_spans d ON d.tenant_id = $1 AND d.service_key = r.k
          AND d.started_at <= r.e AND d.ended_at >= r.s
        """,
        tenant_id,
        keys,
        starts,
        ends,
    )
    return [(r[0], r[1], Interval(r[2], r[3])) for r in rows]


async def closed_regions(
    db: Any, tenant_id: str, regions: Mapping[str, Sequence[Interval]]
) -> dict[str, list[Interval]]:
    """The spans now stored around the regions, per key, widened until closed: every span
    overlapping or touching one read is read too (period_downtime.closure_complete)."""
    queried = {key: merge(ivs) for key, ivs in regions.items() if ivs}
    read: dict[str, dict[int, Interval]] = {key: {} for key in queried}
    pending = dict(queried)
    while pending:
        for span_id, key, iv in await _touching(db, tenant_id, pending):
            read[key][span_id] = iv
        pending = {}
        for key, spans in read.items():
            if not closure_complete(list(spans.values()), queried[key]):
                pending[key] = merge(spans.values())
                queried[key] = merge([*queried[key], *pending[key]])
    return {key: list(spans.values()) for key, spans in read.items()}


def as_before(
    after: Sequence[Interval], added: Sequence[Interval], removed: Sequence[Interval]
) -> list[Interval]:
    """The region's spans before the change: those now stored, less the ones written,
    plus the ones deleted (as multisets: equal spans may be stored twice)."""
    spans = Counter(after)
    spans.subtract(Counter(added))
    if any(n < 0 for n in spans.values()):
        raise ValueError("a written span is missing from the region read after the change")
    spans.update(removed)
    return list(spans.elements())


def _basis(row: PeriodDowntimeRow) -> DowntimeBasis:
    excluded = tuple(
        Interval(s, e) for s, e in zip(row.excluded_starts, row.excluded_ends, strict=True)
    )
    return DowntimeBasis(row.period_start, row.period_end, excluded)


def _state(row: PeriodDowntimeRow) -> PeriodDowntime:
    return PeriodDowntime(
        basis=_basis(row),
        spans=row.spans,
        reported_seconds=row.reported_seconds,
        downtime_seconds=row.downtime_seconds,
    )


async def _rows_near(
    session: AsyncSession, tenant_id: str, hulls: Mapping[str, tuple[datetime, datetime]]
) -> list[PeriodDowntimeRow]:
    where = sa.or_(
        *(
            sa.and_(
                PeriodDowntimeRow.service_key == key,
                PeriodDowntimeRow.period_end >= lo,
                PeriodDowntimeRow.period_start <= hi,
            )
            for key, (lo, hi) in hulls.items()
        )
    )
    rows = await session.scalars(
        sa.select(PeriodDowntimeRow)
        .where(PeriodDowntimeRow.tenant_id == tenant_id, where)
        .order_by(
            PeriodDowntimeRow.contract_id,
            PeriodDowntimeRow.sla_code,
            PeriodDowntimeRow.period_label,
        )
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def fold_span_changes(
    session: AsyncSession,
    db: Any,
    tenant_id: str,
    removed: Mapping[str, Sequence[Interval]],
    added: Mapping[str, Sequence[Interval]],
) -> None:
    """Move every stored period figure of the keys by the spans just deleted and written
    (the caller holds the keys' span locks)."""
    regions = {k: [*removed.get(k, ()), *added.get(k, ())] for k in {*removed, *added}}
    after = await closed_regions(db, tenant_id, regions)
    before: dict[str, list[Interval]] = {}
    for key in list(after):
        try:
            before[key] = as_before(after[key], added.get(key, ()), removed.get(key, ()))
        except ValueError:
            # Not expected; rather than fail the batch, drop the key's stored figures:
            # they are measured again from the spans on first use.
            log.warning("period_downtime.inconsistent", service_key=key)
            await _forget(session, tenant_id, key)
            del after[key]
    hulls = {
        k: (
            min(iv.start for iv in [*after[k], *before[k]]),
            max(iv.end for iv in [*after[k], *before[k]]),
        )
        for k in after
        if after[k] or before[k]
    }
    if not hulls:
        return
    for row in await _rows_near(session, tenant_id, hulls):
        key = row.service_key
        new = fold(_state(row), before=before[key], after=after[key])
        row.spans, row.reported_seconds, row.downtime_seconds = (
            new.spans,
            new.reported_seconds,
            new.downtime_seconds,
        )
    await session.flush()


async def _forget(session: AsyncSession, tenant_id: str, service_key: str) -> None:
    await session.execute(
        sa.delete(PeriodDowntimeRow).where(
            PeriodDowntimeRow.tenant_id == tenant_id,
            PeriodDowntimeRow.service_key == service_key,
        )
    )


async def period_figures(
    session: AsyncSession,
    *,
    tenant_id: str,
    contract_id: uuid.UUID,
    sla_code: str,
    service_key: str,
    period: PeriodBounds,
    excluded: Sequence[Interval],
) -> PeriodDowntime:
    """A period's downtime figures: the stored ones while their basis holds, else measured
    from the spans (and stored, when this transaction holds the key's span lock)."""
    basis = DowntimeBasis.of(period, excluded)
    row = await session.get(PeriodDowntimeRow, (contract_id, sla_code, period.label))
    if (
        row is not None
        and row.tenant_id == tenant_id
        and row.service_key == service_key
        and _basis(row) == basis
    ):
        return _state(row)
    spans, _ = await inputs.downtime_spans(session, tenant_id, service_key, period)
    state = measure(basis, spans)
    if holds_span_lock(session, tenant_id, service_key):
        values = {
            "tenant_id": tenant_id,
            "service_key": service_key,
            "period_start": basis.start,
            "period_end": basis.end,
            "excluded_starts": [iv.start for iv in basis.excluded],
            "excluded_ends": [iv.end for iv in basis.excluded],
            "spans": state.spans,
            "reported_seconds": state.reported_seconds,
            "downtime_seconds": state.downtime_seconds,
        }
        await session.execute(
            pg_insert(PeriodDowntimeRow)
            .values(contract_id=contract_id, sla_code=sla_code, period_label=period.label, **values)
            .on_conflict_do_update(
                index_elements=["contract_id", "sla_code", "period_label"], set_=values
            )
        )
        if row is not None:
            session.expire(row)
    return state
