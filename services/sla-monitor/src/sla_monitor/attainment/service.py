"""Attainment per SLA and period: live while open, published when closed."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.outbox import staged
from crm_events.schemas.contracts import SlaDefinition
from crm_events.schemas.sla import AvailabilityFigures, Outcome, SlaPeriodClosed
from crm_platform import periods
from crm_platform.audit import Audit
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.db import any_of, table_of
from crm_platform.emitter import Emit
from crm_platform.errors import Conflict, NotFound, Unprocessable
from crm_platform.pagination import Keyset, PageRequest, SortKey, fetch_page
from crm_platform.periods import PeriodKind
from sla_monitor.attainment.compute import (
    COMPUTATIONS,
    Computation,
    SlaRef,
    compute,
    inputs_read_ahead,
)
from sla_monitor.attainment.domain import PeriodBounds, minutes, period_bounds
from sla_monitor.attainment.inputs import ContractVersions, adhoc_windows_read_ahead
from sla_monitor.attainment.schedule import (
    WrongPeriodKind,
    check_kind,
    parse_period,
    sla_in,
    within_term,
)
from sla_monitor.attainment.schemas import (
    AttainmentRead,
    ClosedPeriodLine,
    DowntimeInterval,
    ExplanationRead,
    PeriodsCloseRequest,
    PeriodsCloseResult,
    RestatementPage,
    RestatementRead,
    ScorecardLine,
    ScorecardRead,
    SkippedPeriodLine,
)
from sla_monitor.models import SlaDefinitionRow, SlaPeriod, SlaRestatement


async def definition_row(
    session: AsyncSession, principal: Principal, contract_id: uuid.UUID, sla_code: str
) -> SlaDefinitionRow:
    row = await session.scalar(
        sa.select(SlaDefinitionRow).where(
            SlaDefinitionRow.contract_id == contract_id,
            SlaDefinitionRow.sla_code == sla_code,
            principal.tenant_filter(SlaDefinitionRow.tenant_id),
        )
    )
    if row is None:
        raise NotFound(f"SLA {sla_code!r} of contract {contract_id} not found")
    return row


async def resolve(
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID,
    sla_code: str,
    period_label: str,
) -> tuple[SlaRef, PeriodBounds]:
    row = await definition_row(session, principal, contract_id, sla_code)
    period = parse_period(period_label, row.timezone)
    versions = ContractVersions(session)
    await versions.load([contract_id])
    terms = versions.for_period(contract_id, period.start, row.timezone)
    if terms is None:
        raise NotFound(f"terms of contract {contract_id} not found")
    sla = sla_in(terms, sla_code)
    if sla is None:
        raise NotFound(f"SLA {sla_code!r} is not in version {terms.version} of the contract")
    check_kind(sla, period)
    return SlaRef(contract_id, row.tenant_id, terms, sla), period


def read_live(c: Computation) -> AttainmentRead:
    return AttainmentRead(
        contract_id=c.ref.contract_id,
        sla_code=c.sla.code,
        metric_kind=c.sla.metric_kind,
        contract_version=c.ref.terms.version,
        period=c.period_model(),
        timezone=c.ref.terms.timezone,
        status="open",
        attainment=c.attainment_rounded,
        expected_level=c.sla.expected_level,
        minimum_level=c.sla.minimum_level,
        outcome=c.outcome,
        figures=c.availability_figures,
        incident_figures=c.incident_figures,
        measurement_figures=c.measurement_figures,
        counted_downtime=[
            DowntimeInterval(start=i.start, end=i.end, minutes=minutes(i.seconds))
            for i in (c.availability.counted_downtime if c.availability else [])
        ],
        explanation=c.explanation,
    )


def published(row: SlaPeriod, ref: SlaRef, period: PeriodBounds) -> SlaPeriodClosed:
    if row.published is not None:
        return SlaPeriodClosed.model_validate(row.published)
    # Periods closed before the payload was stored whole (availability only).
    return SlaPeriodClosed(
        contract_id=row.contract_id,
        contract_version=row.contract_version,
        sla_code=row.sla_code,
        metric_kind=ref.sla.metric_kind,
        period=period.as_model(),
        timezone=ref.terms.timezone,
        attainment=row.attainment,
        expected_level=ref.sla.expected_level,
        minimum_level=ref.sla.minimum_level,
        outcome=Outcome(row.outcome),
        figures=AvailabilityFigures.model_validate(row.figures) if row.figures else None,
        explanation=row.explanation,
        closed_at=row.closed_at,
    )


def read_closed(row: SlaPeriod, ref: SlaRef, period: PeriodBounds) -> AttainmentRead:
    p = published(row, ref, period)
    detail = row.detail or {}
    return AttainmentRead(
        contract_id=p.contract_id,
        sla_code=p.sla_code,
        metric_kind=p.metric_kind,
        contract_version=p.contract_version,
        period=p.period,
        timezone=p.timezone,
        status="closed",
        attainment=p.attainment,
        expected_level=p.expected_level,
        minimum_level=p.minimum_level,
        outcome=p.outcome,
        figures=p.figures,
        incident_figures=p.incident_figures,
        measurement_figures=p.measurement_figures,
        counted_downtime=[
            DowntimeInterval.model_validate(d) for d in detail.get("counted_downtime", [])
        ],
        explanation=p.explanation,
        closed_at=row.closed_at,
        restatements=row.restatements,
    )


async def _closed_row(session: AsyncSession, ref: SlaRef, label: str) -> SlaPeriod | None:
    return await session.scalar(
        sa.select(SlaPeriod).where(
            SlaPeriod.tenant_id == ref.tenant_id,
            SlaPeriod.contract_id == ref.contract_id,
            SlaPeriod.sla_code == ref.sla.code,
            SlaPeriod.period_label == label,
        )
    )


async def get(
    *,
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID,
    sla_code: str,
    period_label: str,
) -> AttainmentRead:
    ref, period = await resolve(session, principal, contract_id, sla_code, period_label)
    return await attainment_of(session, ref, period)


async def attainment_of(session: AsyncSession, ref: SlaRef, period: PeriodBounds) -> AttainmentRead:
    """A period as published once closed, else live."""
    row = await _closed_row(session, ref, period.label)
    if row is not None:
        return read_closed(row, ref, period)
    return read_live(await compute(session, ref, period))


async def explain(
    *,
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID,
    sla_code: str,
    period_label: str,
) -> ExplanationRead:
    ref, period = await resolve(session, principal, contract_id, sla_code, period_label)
    row = await _closed_row(session, ref, period.label)
    if row is not None:
        p = published(row, ref, period)
        status, outcome, attainment, text = "closed", p.outcome, p.attainment, p.explanation
        detail: dict[str, Any] = row.detail or {}
    else:
        c = await compute(session, ref, period)
        status, outcome, attainment, text = "open", c.outcome, c.attainment_rounded, c.explanation
        detail = c.detail()
    return ExplanationRead(
        contract_id=contract_id,
        sla_code=sla_code,
        period=period.as_model(),
        status=status,
        outcome=outcome,
        attainment=attainment,
        formula=COMPUTATIONS[ref.sla.metric_kind].formula,
        explanation=text,
        detail=detail,
    )


async def history(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    contract_id: uuid.UUID,
    sla_code: str,
    last: int,
) -> list[AttainmentRead]:
    """The last `last` periods of the SLA's own kind (months, quarters or years, as the
    terms in force now say) up to the current one; closed ones as published."""
    row = await definition_row(session, principal, contract_id, sla_code)
    versions = ContractVersions(session)
    await versions.load([contract_id])
    now = clock.now()
    terms = versions.for_period(contract_id, now, row.timezone) or versions.latest(contract_id)
    sla = None if terms is None else sla_in(terms, sla_code)
    kind = PeriodKind.MONTH if sla is None else sla.measurement_period
    current = periods.label_at(now, row.timezone, kind)
    out = []
    for back in range(last - 1, -1, -1):
        label = periods.shift(current, -back)
        try:
            ref, period = await resolve(session, principal, contract_id, sla_code, label)
        except (NotFound, WrongPeriodKind):
            continue  # the SLA was not in, or not measured so in, the terms in force then
        if within_term(ref.terms, period):
            out.append(await attainment_of(session, ref, period))
    return out


def _period_holding(
    versions: ContractVersions, ref: SlaRef, month: PeriodBounds
) -> tuple[SlaRef, PeriodBounds] | None:
    """The SLA's own period that holds a month, with the terms in force at its start (None
    when those terms do not measure the SLA in periods of that kind)."""
    kind = ref.sla.measurement_period
    if kind is PeriodKind.MONTH:
        return ref, month
    period = period_bounds(periods.containing(month.label, kind), ref.terms.timezone)
    terms = versions.for_period(ref.contract_id, period.start, ref.terms.timezone)
    sla: SlaDefinition | None = None if terms is None else sla_in(terms, ref.sla.code)
    if terms is None or sla is None or sla.measurement_period is not kind:
        return None
    return SlaRef(ref.contract_id, ref.tenant_id, terms, sla), period


def _scorecard_month(label: str, timezone: str) -> PeriodBounds:
    month = parse_period(label, timezone)
    if month.kind is not PeriodKind.MONTH:
        message = (
            f"a scorecard is per month (YYYY-MM), not {label!r}; quarterly and annual SLAs "
            "show the quarter or year that holds the month"
        )
        raise Unprocessable(message, details=[{"loc": "path.period", "message": message}])
    return month


async def scorecard(
    *,
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID,
    period_label: str,
) -> ScorecardRead:
    """Every SLA of the contract in a month: monthly SLAs that month, quarterly and annual
    ones the quarter or year that holds it (each line says its period)."""
    rows = await contract_slas(session, principal, contract_id)
    month = _scorecard_month(period_label, rows[0].timezone)
    versions = ContractVersions(session)
    await versions.load([contract_id])
    terms = versions.for_period(contract_id, month.start, rows[0].timezone)
    if terms is None:
        raise NotFound(f"terms of contract {contract_id} not found")
    lines = []
    for sla in terms.sla_definitions:
        found = _period_holding(versions, SlaRef(contract_id, rows[0].tenant_id, terms, sla), month)
        if found is None:
            continue  # added in the middle of its quarter or year: measured from the next
        read = await attainment_of(session, *found)
        lines.append(
            ScorecardLine(
                sla_code=sla.code,
                name=sla.name,
                metric_kind=sla.metric_kind,
                period=read.period,
                status=read.status,
                attainment=read.attainment,
                expected_level=sla.expected_level,
                minimum_level=sla.minimum_level,
                outcome=read.outcome,
                allocation_pct=sla.allocation_pct,
            )
        )
    counts = Counter(line.outcome.value for line in lines)
    return ScorecardRead(
        contract_id=contract_id,
        contract_version=terms.version,
        period=month.as_model(),
        timezone=terms.timezone,
        slas=lines,
        summary={o.value: counts.get(o.value, 0) for o in Outcome},
    )


RESTATEMENTS = Keyset("restatements", SortKey(SlaRestatement.restatement))


async def restatements(
    *,
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID,
    sla_code: str,
    period_label: str,
    page: PageRequest,
) -> RestatementPage:
    ref, period = await resolve(session, principal, contract_id, sla_code, period_label)
    query = sa.select(SlaRestatement).where(
        SlaRestatement.tenant_id == ref.tenant_id,
        SlaRestatement.contract_id == contract_id,
        SlaRestatement.sla_code == sla_code,
        SlaRestatement.period_label == period.label,
    )
    rows, next_cursor = await fetch_page(session, query, RESTATEMENTS, page)
    items = [
        RestatementRead(
            restatement=r.restatement,
            restated_at=r.restated_at,
            reason=r.reason,
            previous=r.previous,
            current=r.current,
            event_id=r.event_id,
        )
        for r in rows
    ]
    return RestatementPage(items=items, next_cursor=next_cursor)


def _period_row(c: Computation, now: datetime) -> dict[str, Any]:
    """A closed period's `sla_periods` row (its event id is set once the event exists)."""
    ref = c.ref
    return {
        "contract_id": ref.contract_id,
        "sla_code": ref.sla.code,
        "period_label": c.period.label,
        "tenant_id": ref.tenant_id,
        "contract_version": ref.terms.version,
        "status": "closed",
        "attainment": c.attainment_rounded,
        "outcome": c.outcome.value,
        "figures": c.availability_figures.model_dump(mode="json") if c.availability_figures else {},
        "explanation": c.explanation,
        "closed_at": now,
        "event_id": str(uuid.uuid4()),
        "metric_kind": ref.sla.metric_kind.value,
        "published": c.closed_payload(now).model_dump(mode="json"),
        "detail": c.detail(),
        "restatements": 0,
    }


async def close_many(
    *,
    session: AsyncSession,
    emit: Emit,
    now: datetime,
    due: Sequence[tuple[SlaRef, PeriodBounds]],
) -> list[Computation | None]:
    """Close periods: freeze each one's figures and publish its `sla.period_closed`, in the
    order given. An entry is None when that period was closed already (by an operator, the
    job or another instance). The same as closing them one by one, in a fixed number of
    statements: the inputs of all of them, whatever their tenants, with one query per kind
    (ad-hoc maintenance windows, downtime spans, incidents, measurement figures; only the
    check that a period without any shows observed telemetry is per period), then one insert
    of the rows, one outbox insert, one update of their event ids."""
    if not due:
        return []
    # Every tenant's ad-hoc maintenance windows, spans, incidents and measurement figures
    # with one query per kind, not per period (nor per tenant).
    async with (
        adhoc_windows_read_ahead(
            session,
            {ref.tenant_id for ref, _ in due},
            (ref.contract_id for ref, _ in due),
            min(period.start for _, period in due),
            max(period.end for _, period in due),
        ),
        inputs_read_ahead(session, due, evidence=True),
    ):
        computations = [await compute(session, ref, period) for ref, period in due]
    table = table_of(SlaPeriod)
    key = (table.c.contract_id, table.c.sla_code, table.c.period_label)
    rows = [_period_row(c, now) for c in computations]
    inserted = set(
        (
            await session.execute(pg_insert(table).on_conflict_do_nothing().returning(*key), rows)
        ).all()
    )
    out: list[Computation | None] = []
    event_ids: list[dict[str, Any]] = []
    async with staged(session):
        for c in computations:
            k = (c.ref.contract_id, c.sla.code, c.period.label)
            if k not in inserted:
                out.append(None)
                continue
            inserted.discard(k)  # the same period twice in `due`: closed once
            envelope = await emit(
                "sla.period_closed",
                subject=str(c.ref.contract_id),
                data=c.closed_payload(now),
                tenant=c.ref.tenant_id,
            )
            event_ids.append({"k_c": k[0], "k_s": k[1], "k_p": k[2], "eid": envelope.id})
            out.append(c)
    if event_ids:
        await session.execute(
            sa.update(table)
            .where(
                table.c.contract_id == sa.bindparam("k_c"),
                table.c.sla_code == sa.bindparam("k_s"),
                table.c.period_label == sa.bindparam("k_p"),
            )
            .values(event_id=sa.bindparam("eid")),
            event_ids,
        )
    return out


async def close_one(
    *, session: AsyncSession, emit: Emit, now: datetime, ref: SlaRef, period: PeriodBounds
) -> Computation | None:
    """Close one period (see `close_many`); None when it was closed already."""
    return (await close_many(session=session, emit=emit, now=now, due=[(ref, period)]))[0]


async def close(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    emit: Emit,
    audit: Audit,
    contract_id: uuid.UUID,
    sla_code: str,
    period_label: str,
) -> AttainmentRead:
    ref, period = await resolve(session, principal, contract_id, sla_code, period_label)
    now = clock.now()
    c = await close_one(session=session, emit=emit, now=now, ref=ref, period=period)
    if c is None:
        raise Conflict(f"period {period.label} of SLA {sla_code!r} is already closed")
    closed = read_live(c).model_copy(update={"status": "closed", "closed_at": now})
    await audit.record(
        action="sla_period.close",
        subject_type="sla_period",
        subject_id=f"{sla_code}/{period.label}",
        tenant_id=ref.tenant_id,
        contract_id=contract_id,
        before={"status": "open"},
        after=closed.model_dump(
            mode="json", include={"status", "attainment", "outcome", "closed_at"}
        ),
    )
    return closed


def _measured_ref(
    versions: ContractVersions, row: SlaDefinitionRow, period: PeriodBounds
) -> tuple[SlaRef | None, str]:
    """The SLA's reference for the period, or why the SLA has no such period."""
    terms = versions.for_period(row.contract_id, period.start, row.timezone)
    sla = None if terms is None else sla_in(terms, row.sla_code)
    if terms is None or sla is None:
        return None, f"not in the terms in force at the start of {period.label}"
    if sla.measurement_period is not period.kind:
        return None, (f"measured per {sla.measurement_period.value}, not per {period.kind.value}")
    if not within_term(terms, period):
        return None, f"{period.label} is outside the contract's term"
    return SlaRef(row.contract_id, row.tenant_id, terms, sla), ""


def _not_in(
    values: Sequence[Any], present: set[Any], loc: str, message: Callable[[Any], str]
) -> list[dict[str, str]]:
    """An error detail for each of a request's values that is not among `present`."""
    return [
        {"loc": f"{loc}[{i}]", "message": message(v)}
        for i, v in enumerate(values)
        if v not in present
    ]


async def _requested_slas(
    session: AsyncSession, principal: Principal, body: PeriodsCloseRequest
) -> list[SlaDefinitionRow]:
    """The SLAs a portfolio close names, in the request's contract order then by code; a
    404 naming the contracts with no SLA here, a 422 naming codes none of them has."""
    wanted = list(dict.fromkeys(body.contract_ids))
    rows = (
        await session.scalars(
            sa.select(SlaDefinitionRow).where(
                any_of(SlaDefinitionRow.contract_id, wanted),
                principal.tenant_filter(SlaDefinitionRow.tenant_id),
            )
        )
    ).all()
    unknown = _not_in(
        body.contract_ids,
        {r.contract_id for r in rows},
        "body.contract_ids",
        lambda c: f"contract {c} has no SLA known here",
    )
    if unknown:
        raise NotFound(
            f"{len(unknown)} of the contracts have no SLA known to this service", details=unknown
        )
    strangers = _not_in(
        body.sla_codes,
        {r.sla_code for r in rows},
        "body.sla_codes",
        lambda code: f"no SLA {code!r} in these contracts",
    )
    if strangers:
        raise Unprocessable(
            f"{len(strangers)} of the SLA codes are in none of the contracts", details=strangers
        )
    if body.sla_codes:
        rows = [r for r in rows if r.sla_code in set(body.sla_codes)]
    order = {c: i for i, c in enumerate(wanted)}
    return sorted(rows, key=lambda r: (order[r.contract_id], r.sla_code))


def _periods_of(
    versions: ContractVersions, rows: Sequence[SlaDefinitionRow], period_label: str
) -> tuple[list[tuple[SlaRef, PeriodBounds]], list[SkippedPeriodLine]]:
    """Which of the SLAs have a period of that label (with their terms), and why the others
    have none (pure, given the loaded versions)."""
    bounds: dict[str, PeriodBounds] = {}
    due: list[tuple[SlaRef, PeriodBounds]] = []
    not_measured: list[SkippedPeriodLine] = []
    for row in rows:
        if row.timezone not in bounds:
            bounds[row.timezone] = parse_period(period_label, row.timezone)
        ref, reason = _measured_ref(versions, row, bounds[row.timezone])
        if ref is None:
            not_measured.append(
                SkippedPeriodLine(contract_id=row.contract_id, sla_code=row.sla_code, reason=reason)
            )
        else:
            due.append((ref, bounds[row.timezone]))
    return due, not_measured


async def close_periods(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    emit: Emit,
    audit: Audit,
    period_label: str,
    body: PeriodsCloseRequest,
) -> PeriodsCloseResult:
    """Close one period label for every SLA of some contracts at once (month end): the
    same figures and events as closing each with `close`, one audit entry per contract."""
    rows = await _requested_slas(session, principal, body)
    versions = ContractVersions(session)
    await versions.load(r.contract_id for r in rows)
    due, not_measured = _periods_of(versions, rows, period_label)
    now = clock.now()
    closed: list[ClosedPeriodLine] = []
    already: list[SkippedPeriodLine] = []
    per_contract: dict[uuid.UUID, dict[str, Any]] = {}
    async with staged(session):
        results = await close_many(session=session, emit=emit, now=now, due=due)
        for (ref, _), c in zip(due, results, strict=True):
            if c is None:
                already.append(
                    SkippedPeriodLine(
                        contract_id=ref.contract_id, sla_code=ref.sla.code, reason="already closed"
                    )
                )
                continue
            line = ClosedPeriodLine(
                contract_id=ref.contract_id,
                sla_code=ref.sla.code,
                metric_kind=ref.sla.metric_kind,
                contract_version=ref.terms.version,
                attainment=c.attainment_rounded,
                outcome=c.outcome,
            )
            closed.append(line)
            per_contract.setdefault(ref.contract_id, {})[ref.sla.code] = line.model_dump(
                mode="json", include={"attainment", "outcome"}
            )
        tenants = {ref.contract_id: ref.tenant_id for ref, _ in due}
        for contract_id, slas in per_contract.items():
            await audit.record(
                action="sla_periods.close",
                subject_type="contract_period",
                subject_id=f"{contract_id}/{period_label}",
                tenant_id=tenants[contract_id],
                contract_id=contract_id,
                before={"status": "open"},
                after={"status": "closed", "closed_at": now, "slas": slas},
            )
    counts = Counter(line.outcome.value for line in closed)
    return PeriodsCloseResult(
        period=period_label,
        closed_at=now,
        closed=closed,
        already_closed=already,
        not_measured=not_measured,
        summary={o.value: counts.get(o.value, 0) for o in Outcome},
    )


async def contract_slas(
    session: AsyncSession, principal: Principal, contract_id: uuid.UUID
) -> list[SlaDefinitionRow]:
    """The SLAs of a contract this caller may see; 404 when there are none."""
    rows = (
        await session.scalars(
            sa.select(SlaDefinitionRow).where(
                SlaDefinitionRow.contract_id == contract_id,
                principal.tenant_filter(SlaDefinitionRow.tenant_id),
            )
        )
    ).all()
    if not rows:
        raise NotFound(f"contract {contract_id} has no SLA known to this service")
    return list(rows)
