"""What a period's computation reads: the terms in force, exclusions, downtime spans,
incidents and measurements. Queries only; the arithmetic is in the pure modules."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.contracts import ContractTerms, SlaDefinition
from crm_platform.contract_terms import contract_terms_table, parsed_terms
from crm_platform.db import any_of, keyed_rows
from sla_monitor.attainment.domain import (
    Interval,
    PeriodBounds,
    clip,
    maintenance_intervals,
    merge,
    outside_service_hours,
)
from sla_monitor.attainment.incidents import Incident
from sla_monitor.attainment.measurements import nearest_rank
from sla_monitor.models import DowntimeSpan, MaintenanceWindowRow, Measurement
from sla_monitor.models import Incident as IncidentRow


@dataclass(frozen=True)
class TermsVersion:
    version: int
    effective_from: date


def version_in_force(versions: Sequence[TermsVersion], on: date) -> TermsVersion | None:
    """Of a contract's versions (in version order), the one in force on `on`: the latest
    effective on that day (an amendment effective the same day as the version it amends
    supersedes it), else the first one."""
    chosen = versions[0] if versions else None
    for v in versions:
        if v.effective_from <= on:
            chosen = v
    return chosen


def local_day(instant: datetime, tz: str) -> date:
    """The day an instant falls on in the contract's zone (a period's first day)."""
    return instant.astimezone(ZoneInfo(tz)).date()


class ContractVersions:
    """Every version of some contracts' terms, parsed lazily, picked per period."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._versions: dict[uuid.UUID, list[TermsVersion]] = {}
        self._terms: dict[tuple[uuid.UUID, int], ContractTerms] = {}

    async def load(self, contract_ids: Iterable[uuid.UUID]) -> None:
        wanted = [c for c in set(contract_ids) if c not in self._versions]
        if not wanted:
            return
        t = contract_terms_table
        rows = (
            await self._session.execute(
                sa.select(t.c.contract_id, t.c.version, t.c.effective_from, t.c.received_at)
                .where(any_of(t.c.contract_id, wanted))
                .order_by(t.c.contract_id, t.c.version)
            )
        ).all()
        for cid in wanted:
            self._versions[cid] = []
        for r in rows:
            self._versions[r.contract_id].append(TermsVersion(r.version, r.effective_from))
        parsed = await parsed_terms(
            self._session, [(r.contract_id, r.version, r.received_at) for r in rows]
        )
        for (cid, version, _), terms in parsed.items():
            self._terms[(cid, version)] = terms

    def every(self, contract_id: uuid.UUID) -> list[ContractTerms]:
        """Every version of the contract's terms, oldest first."""
        found = (
            self._terms.get((contract_id, v.version)) for v in self._versions.get(contract_id, [])
        )
        return [t for t in found if t is not None]

    def latest(self, contract_id: uuid.UUID) -> ContractTerms | None:
        versions = self._versions.get(contract_id) or []
        return self._terms.get((contract_id, versions[-1].version)) if versions else None

    def in_force(self, contract_id: uuid.UUID, on: date) -> ContractTerms | None:
        chosen = version_in_force(self._versions.get(contract_id) or [], on)
        return None if chosen is None else self._terms.get((contract_id, chosen.version))

    def for_period(
        self, contract_id: uuid.UUID, period_start: datetime, tz: str
    ) -> ContractTerms | None:
        return self.in_force(contract_id, local_day(period_start, tz))


@dataclass(frozen=True)
class Exclusions:
    maintenance: list[Interval]  # agreed windows inside the period (contract + ad hoc)
    outside_hours: list[Interval]  # the period outside the service hours

    @property
    def all(self) -> list[Interval]:
        return merge([*self.maintenance, *self.outside_hours])


# session.info key: ad-hoc windows read ahead for the computations of one transaction.
_ADHOC = "sla_monitor.adhoc_windows"


@dataclass(frozen=True)
class _ReadAhead:
    transaction: object
    tenant_ids: frozenset[str]
    start: datetime
    end: datetime
    windows: dict[uuid.UUID, list[tuple[datetime, datetime, list[str]]]]

    def covers(self, session: AsyncSession, tenant_id: str, period: PeriodBounds) -> bool:
        return (
            self.transaction is session.sync_session.get_transaction()
            and tenant_id in self.tenant_ids
            and self.start <= period.start
            and period.end <= self.end
        )


async def read_adhoc_windows_ahead(
    session: AsyncSession,
    tenant_ids: Iterable[str],
    contract_ids: Iterable[uuid.UUID],
    start: datetime,
    end: datetime,
) -> None:
    """Read the ad-hoc windows of many contracts (of these tenants) over [start, end) in one
    query, for the period computations that follow in this transaction (a batch's signal
    checks, the close job's chunk), until `forget_adhoc_windows`."""
    ids = list(set(contract_ids))
    tenants = frozenset(tenant_ids)
    rows = (
        await session.execute(
            sa.select(
                MaintenanceWindowRow.contract_id,
                MaintenanceWindowRow.starts_at,
                MaintenanceWindowRow.ends_at,
                MaintenanceWindowRow.sla_codes,
            ).where(
                any_of(MaintenanceWindowRow.tenant_id, tenants),
                any_of(MaintenanceWindowRow.contract_id, ids),
                MaintenanceWindowRow.starts_at < end,
                MaintenanceWindowRow.ends_at > start,
            )
        )
    ).all()
    windows: dict[uuid.UUID, list[tuple[datetime, datetime, list[str]]]] = {c: [] for c in ids}
    for r in rows:
        windows[r.contract_id].append((r.starts_at, r.ends_at, list(r.sla_codes)))
    txn = session.sync_session.get_transaction()
    session.info[_ADHOC] = _ReadAhead(txn, tenants, start, end, windows)


def forget_adhoc_windows(session: AsyncSession) -> None:
    session.info.pop(_ADHOC, None)


@contextlib.asynccontextmanager
async def adhoc_windows_read_ahead(
    session: AsyncSession,
    tenant_ids: Iterable[str],
    contract_ids: Iterable[uuid.UUID],
    start: datetime,
    end: datetime,
) -> AsyncIterator[None]:
    """The ad-hoc windows of many contracts over [start, end), read in one query for the
    period computations inside the block (`read_adhoc_windows_ahead`); whatever was read
    ahead before the block is read ahead again after it."""
    before = session.info.get(_ADHOC)
    await read_adhoc_windows_ahead(session, tenant_ids, contract_ids, start, end)
    try:
        yield
    finally:
        if before is None:
            forget_adhoc_windows(session)
        else:
            session.info[_ADHOC] = before


async def adhoc_windows(
    session: AsyncSession,
    tenant_id: str,
    contract_id: uuid.UUID,
    sla_code: str,
    period: PeriodBounds,
) -> list[Interval]:
    ahead = session.info.get(_ADHOC)
    if isinstance(ahead, _ReadAhead) and ahead.covers(session, tenant_id, period):
        found = ahead.windows.get(contract_id)
        if found is not None:
            # The query's rule below: windows for every SLA (no codes) or naming this one.
            return [
                Interval(s, e)
                for s, e, codes in found
                if s < period.end and e > period.start and (not codes or sla_code in codes)
            ]
    rows = (
        await session.execute(
            sa.select(MaintenanceWindowRow.starts_at, MaintenanceWindowRow.ends_at).where(
                MaintenanceWindowRow.tenant_id == tenant_id,
                MaintenanceWindowRow.contract_id == contract_id,
                MaintenanceWindowRow.starts_at < period.end,
                MaintenanceWindowRow.ends_at > period.start,
                sa.or_(
                    MaintenanceWindowRow.sla_codes == sa.cast([], sa.ARRAY(sa.String)),
                    sa.literal(sla_code) == sa.func.any(MaintenanceWindowRow.sla_codes),
                ),
            )
        )
    ).all()
    return [Interval(r.starts_at, r.ends_at) for r in rows]


async def exclusions(
    session: AsyncSession,
    contract_id: uuid.UUID,
    terms: ContractTerms,
    sla: SlaDefinition,
    period: PeriodBounds,
) -> Exclusions:
    contract_windows = maintenance_intervals(sla.maintenance_windows, terms.timezone, period)
    adhoc = await adhoc_windows(session, terms.tenant_id, contract_id, sla.code, period)
    return Exclusions(
        maintenance=merge(clip([*contract_windows, *adhoc], period.start, period.end)),
        outside_hours=outside_service_hours(
            sla.service_hours, terms.holidays, terms.timezone, period
        ),
    )


# -- reading ahead for many periods ---------------------------------------------------------
#
# A bulk close computes hundreds of (SLA, period) pairs in one transaction.
# `periods_read_ahead` reads their spans, incidents and measurement figures with one
# statement per kind (the pairs as a VALUES list, each probing its index through a LATERAL
# subquery, as its own query would), keyed by the exact arguments the per-period functions
# below take; each of them answers from it when it holds their arguments, and queries as
# before when it does not.

_AHEAD = "sla_monitor.period_inputs_ahead"

SpanKey = tuple[str, str, datetime, datetime]  # tenant, service key, period start, end
IncidentKey = tuple[str, str, str, datetime, datetime]  # … with the priority
MeasureKey = tuple[str, str, str, datetime, datetime]  # … with the unit ('' for any)
RankKey = tuple[str, str, str, datetime, datetime, int]  # … and a 1-based rank


@dataclass
class AheadRequests:
    """What to read ahead: spans, incidents, means and percentiles (with the percentile,
    from which the rank follows once the count is known)."""

    spans: set[SpanKey] = field(default_factory=set)
    incidents: set[IncidentKey] = field(default_factory=set)
    means: set[MeasureKey] = field(default_factory=set)
    percentiles: set[tuple[MeasureKey, Decimal]] = field(default_factory=set)


@dataclass
class _Ahead:
    transaction: object
    spans: dict[SpanKey, tuple[list[Interval], bool]]
    incidents: dict[IncidentKey, list[Incident]]
    means: dict[MeasureKey, tuple[int, Decimal | None]]
    counts: dict[MeasureKey, int]
    ranks: dict[RankKey, Decimal | None]


def _read_ahead(session: AsyncSession) -> _Ahead | None:
    ahead = session.info.get(_AHEAD)
    if isinstance(ahead, _Ahead) and ahead.transaction is session.sync_session.get_transaction():
        return ahead
    return None


_TS = sa.DateTime(timezone=True)


async def _spans_ahead(session: AsyncSession, keys: list[SpanKey]) -> dict[SpanKey, Any]:
    out: dict[SpanKey, tuple[list[Interval], bool]] = {k: ([], False) for k in keys}
    if not keys:
        return out
    v = keyed_rows("v", keys, sa.Text, sa.Text, _TS, _TS)
    # A LATERAL probe per key: the index scan each key's own query would make.
    found = (
        sa.select(DowntimeSpan.started_at, DowntimeSpan.ended_at, DowntimeSpan.source)
        .where(
            DowntimeSpan.tenant_id == v.c.c0,
            DowntimeSpan.service_key == v.c.c1,
            DowntimeSpan.ended_at > v.c.c2,
            DowntimeSpan.started_at < v.c.c3,
        )
        .lateral("found")
    )
    rows = await session.execute(
        sa.select(v.c.i, found.c.started_at, found.c.ended_at, found.c.source).join(
            found, sa.true()
        )
    )
    for r in rows:
        spans, outage = out[keys[r.i]]
        spans.append(Interval(r.started_at, r.ended_at))
        out[keys[r.i]] = (spans, outage or r.source == "outages")
    return out


async def _incidents_ahead(
    session: AsyncSession, keys: list[IncidentKey]
) -> dict[IncidentKey, list[Incident]]:
    out: dict[IncidentKey, list[Incident]] = {k: [] for k in keys}
    if not keys:
        return out
    v = keyed_rows("v", keys, sa.Text, sa.Text, sa.Text, _TS, _TS)
    found = (
        sa.select(
            IncidentRow.ticket_id,
            IncidentRow.opened_at,
            IncidentRow.responded_at,
            IncidentRow.resolved_at,
        )
        .where(
            IncidentRow.tenant_id == v.c.c0,
            IncidentRow.service_key == v.c.c1,
            sa.func.lower(IncidentRow.priority) == sa.func.lower(v.c.c2),
            IncidentRow.resolved_at >= v.c.c3,
            IncidentRow.resolved_at < v.c.c4,
        )
        .lateral("found")
    )
    rows = await session.execute(
        sa.select(
            v.c.i, found.c.ticket_id, found.c.opened_at, found.c.responded_at, found.c.resolved_at
        ).join(found, sa.true())
    )
    for r in rows:
        out[keys[r.i]].append(Incident(r.ticket_id, r.opened_at, r.responded_at, r.resolved_at))
    return out


def _measured(v: Any, *, any_unit: bool) -> list[sa.ColumnElement[bool]]:
    """A key's values: the unit is part of the index, so keys with a unit and keys for any
    unit are asked in separate statements, each with the condition its index scan needs."""
    where = [
        Measurement.tenant_id == v.c.c0,
        Measurement.service_key == v.c.c1,
        Measurement.measured_at >= v.c.c3,
        Measurement.measured_at < v.c.c4,
    ]
    if not any_unit:
        where.append(Measurement.unit == v.c.c2)
    return where


async def _measures_ahead(
    session: AsyncSession, keys: list[MeasureKey]
) -> dict[MeasureKey, tuple[int, Decimal | None]]:
    """(count, exact sum) of each key's values."""
    out: dict[MeasureKey, tuple[int, Decimal | None]] = {}
    for any_unit in (False, True):
        group = [k for k in keys if (k[2] == "") is any_unit]
        if not group:
            continue
        v = keyed_rows("v", group, sa.Text, sa.Text, sa.Text, _TS, _TS)
        figures = (
            sa.select(
                sa.func.count(Measurement.value).label("n"),
                sa.func.sum(Measurement.value).label("total"),
            )
            .where(*_measured(v, any_unit=any_unit))
            .lateral("figures")
        )
        rows = await session.execute(
            sa.select(v.c.i, figures.c.n, figures.c.total).join(figures, sa.true())
        )
        out.update({group[r.i]: (int(r.n), r.total) for r in rows})
    return out


async def _ranks_ahead(session: AsyncSession, keys: list[RankKey]) -> dict[RankKey, Decimal | None]:
    """The value at each key's rank (ascending), one index probe per key."""
    out: dict[RankKey, Decimal | None] = {k: None for k in keys}
    for any_unit in (False, True):
        group = [k for k in keys if (k[2] == "") is any_unit]
        if not group:
            continue
        v = keyed_rows("v", group, sa.Text, sa.Text, sa.Text, _TS, _TS, sa.Integer)
        at_rank = (
            sa.select(Measurement.value)
            .where(*_measured(v, any_unit=any_unit))
            .order_by(Measurement.value)
            .offset(v.c.c5 - 1)
            .limit(1)
            .lateral("at_rank")
        )
        rows = await session.execute(sa.select(v.c.i, at_rank.c.value).join(at_rank, sa.true()))
        for r in rows:
            out[group[r.i]] = r.value
    return out


@contextlib.asynccontextmanager
async def periods_read_ahead(session: AsyncSession, requests: AheadRequests) -> AsyncIterator[None]:
    """Read the requested inputs with one query per kind, for the computations inside the
    block (in this transaction); whatever was read ahead before the block is read ahead
    again after it."""
    counted = list({key for key, _ in requests.percentiles})
    measures = await _measures_ahead(session, sorted(requests.means | set(counted)))
    counts = {k: measures[k][0] for k in counted}
    ranks = sorted(
        {(*key, nearest_rank(pct, counts[key])) for key, pct in requests.percentiles if counts[key]}
    )
    ahead = _Ahead(
        transaction=session.sync_session.get_transaction(),
        spans=await _spans_ahead(session, sorted(requests.spans)),
        incidents=await _incidents_ahead(session, sorted(requests.incidents)),
        means={k: measures[k] for k in requests.means},
        counts=counts,
        ranks=await _ranks_ahead(session, ranks),
    )
    before = session.info.get(_AHEAD)
    session.info[_AHEAD] = ahead
    try:
        yield
    finally:
        if before is None:
            session.info.pop(_AHEAD, None)
        else:
            session.info[_AHEAD] = before


async def downtime_spans(
    session: AsyncSession, tenant_id: str, service_key: str, period: PeriodBounds
) -> tuple[list[Interval], bool]:
    """Downtime spans touching the period, and whether any came from an outage."""
    ahead = _read_ahead(session)
    key: SpanKey = (tenant_id, service_key, period.start, period.end)
    if ahead is not None and key in ahead.spans:
        spans, outage = ahead.spans[key]
        return list(spans), outage
    rows = (
        await session.execute(
            sa.select(DowntimeSpan.started_at, DowntimeSpan.ended_at, DowntimeSpan.source).where(
                DowntimeSpan.tenant_id == tenant_id,
                DowntimeSpan.service_key == service_key,
                DowntimeSpan.ended_at > period.start,
                DowntimeSpan.started_at < period.end,
            )
        )
    ).all()
    return [Interval(r.started_at, r.ended_at) for r in rows], any(
        r.source == "outages" for r in rows
    )


async def resolved_incidents(
    session: AsyncSession, tenant_id: str, service_key: str, priority: str, period: PeriodBounds
) -> list[Incident]:
    """Incidents of the priority (in any letter case) resolved in the period."""
    ahead = _read_ahead(session)
    key: IncidentKey = (tenant_id, service_key, priority, period.start, period.end)
    if ahead is not None and key in ahead.incidents:
        return list(ahead.incidents[key])
    rows = (
        await session.execute(
            sa.select(
                IncidentRow.ticket_id,
                IncidentRow.opened_at,
                IncidentRow.responded_at,
                IncidentRow.resolved_at,
            ).where(
                IncidentRow.tenant_id == tenant_id,
                IncidentRow.service_key == service_key,
                # Priorities match case-insensitively (P1 = p1), on the index's lower().
                sa.func.lower(IncidentRow.priority) == sa.func.lower(priority),
                IncidentRow.resolved_at >= period.start,
                IncidentRow.resolved_at < period.end,
            )
        )
    ).all()
    return [Incident(r.ticket_id, r.opened_at, r.responded_at, r.resolved_at) for r in rows]


def _measurement_filter(
    tenant_id: str, service_key: str, unit: str | None, period: PeriodBounds
) -> list[sa.ColumnElement[bool]]:
    where = [
        Measurement.tenant_id == tenant_id,
        Measurement.service_key == service_key,
        Measurement.measured_at >= period.start,
        Measurement.measured_at < period.end,
    ]
    if unit:
        where.append(Measurement.unit == unit)
    return where


async def measurement_mean(
    session: AsyncSession, tenant_id: str, service_key: str, unit: str | None, period: PeriodBounds
) -> tuple[int, Decimal | None]:
    """(count, sum) of the period's values, summed exactly by PostgreSQL's numeric."""
    ahead = _read_ahead(session)
    key: MeasureKey = (tenant_id, service_key, unit or "", period.start, period.end)
    if ahead is not None and key in ahead.means:
        return ahead.means[key]
    row = (
        await session.execute(
            sa.select(sa.func.count(), sa.func.sum(Measurement.value)).where(
                *_measurement_filter(tenant_id, service_key, unit, period)
            )
        )
    ).one()
    return int(row[0]), row[1]


async def measurement_at_rank(
    session: AsyncSession,
    tenant_id: str,
    service_key: str,
    unit: str | None,
    period: PeriodBounds,
    rank: int,
) -> Decimal | None:
    """The value at 1-based `rank` among the period's values sorted ascending."""
    ahead = _read_ahead(session)
    key: RankKey = (tenant_id, service_key, unit or "", period.start, period.end, rank)
    if ahead is not None and key in ahead.ranks:
        return ahead.ranks[key]
    return await session.scalar(
        sa.select(Measurement.value)
        .where(*_measurement_filter(tenant_id, service_key, unit, period))
        .order_by(Measurement.value)
        .offset(rank - 1)
        .limit(1)
    )


async def measurement_count(
    session: AsyncSession, tenant_id: str, service_key: str, unit: str | None, period: PeriodBounds
) -> int:
    ahead = _read_ahead(session)
    key: MeasureKey = (tenant_id, service_key, unit or "", period.start, period.end)
    if ahead is not None and key in ahead.counts:
        return ahead.counts[key]
    return int(
        await session.scalar(
            sa.select(sa.func.count()).where(
                *_measurement_filter(tenant_id, service_key, unit, period)
            )
        )
        or 0
    )
