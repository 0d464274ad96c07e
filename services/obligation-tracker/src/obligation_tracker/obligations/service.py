"""Obligations through the API: reads, assignment, fulfilment with evidence, waivers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from crm_platform.audit import Audit
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.emitter import Emit
from crm_platform.errors import Conflict, NotFound, Unprocessable
from crm_platform.pagination import EVERYTHING, Keyset, PageRequest, SortKey, fetch_page
from obligation_tracker.models import LATE_STATUSES, OPEN_STATUSES, Obligation, ObligationHistory
from obligation_tracker.obligations.lifecycle import record, transition
from obligation_tracker.obligations.schemas import (
    FulfilRequest,
    HistoryPage,
    HistoryRead,
    ObligationPage,
    ObligationRead,
    ObligationUpdate,
    WaiveRequest,
)

OBLIGATIONS = Keyset("obligations", SortKey(Obligation.due_date), SortKey(Obligation.id))
HISTORY = Keyset("obligation-history", SortKey(ObligationHistory.id))


def local_today(now: datetime) -> Any:
    """The contract's local date, per row, in SQL (each obligation carries its zone)."""
    return sa.cast(sa.func.timezone(Obligation.timezone, now), sa.Date)


async def list_obligations(
    *,
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID | None = None,
    statuses: Sequence[str] | None = None,
    owner: str | None = None,
    owner_role: str | None = None,
    kind: str | None = None,
    due_from: date | None = None,
    due_to: date | None = None,
    extra: Sequence[Any] = (),
    page: PageRequest,
) -> ObligationPage:
    query = sa.select(Obligation).where(principal.tenant_filter(Obligation.tenant_id), *extra)
    if contract_id is not None:
        query = query.where(Obligation.contract_id == contract_id)
    if statuses:
        query = query.where(Obligation.status.in_(statuses))
    if owner is not None:
        query = query.where(Obligation.owner == owner)
    if owner_role is not None:
        query = query.where(Obligation.owner_role == owner_role)
    if kind is not None:
        query = query.where(Obligation.kind == kind)
    if due_from is not None:
        query = query.where(Obligation.due_date >= due_from)
    if due_to is not None:
        query = query.where(Obligation.due_date <= due_to)
    rows, next_cursor = await fetch_page(session, query, OBLIGATIONS, page)
    return ObligationPage(
        items=[ObligationRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


async def calendar_obligations(
    *, session: AsyncSession, principal: Principal, owner: str | None, roles: Sequence[str]
) -> list[ObligationRead]:
    """What a calendar feed shows: the owner's open obligations, and those of `roles` —
    only the unassigned ones when the feed is a person's (the rest have their own owner),
    every one for a role's feed. At most `EVERYTHING`'s limit, soonest due first."""
    wanted = []
    if owner is not None:
        wanted.append(Obligation.owner == owner)
    if roles:
        of_roles = Obligation.owner_role.in_(roles)
        wanted.append(sa.and_(of_roles, Obligation.owner.is_(None)) if owner else of_roles)
    page = await list_obligations(
        session=session,
        principal=principal,
        statuses=OPEN_STATUSES,
        extra=[sa.or_(*wanted)],
        page=EVERYTHING,
    )
    return page.items


async def due_within(
    *,
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    days: int,
    owner: str | None,
    owner_role: str | None,
    contract_id: uuid.UUID | None,
    page: PageRequest,
) -> ObligationPage:
    """Open obligations due from today to `days` ahead, in each contract's local dates."""
    today = local_today(now)
    return await list_obligations(
        session=session,
        principal=principal,
        contract_id=contract_id,
        statuses=["open"],
        owner=owner,
        owner_role=owner_role,
        extra=[Obligation.due_date >= today, Obligation.due_date <= today + days],
        page=page,
    )


async def overdue(
    *,
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    owner: str | None,
    owner_role: str | None,
    contract_id: uuid.UUID | None,
    page: PageRequest,
) -> ObligationPage:
    """Overdue and escalated obligations, and open ones past due that the periodic check has
    not reached yet."""
    late = sa.or_(
        Obligation.status.in_(LATE_STATUSES),
        sa.and_(Obligation.status == "open", Obligation.due_date < local_today(now)),
    )
    return await list_obligations(
        session=session,
        principal=principal,
        contract_id=contract_id,
        owner=owner,
        owner_role=owner_role,
        extra=[late],
        page=page,
    )


async def _get(
    session: AsyncSession, principal: Principal, obligation_id: uuid.UUID, *, lock: bool = False
) -> Obligation:
    query = sa.select(Obligation).where(Obligation.id == obligation_id)
    if lock:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None or not principal.can_access(row.tenant_id):
        raise NotFound(f"obligation {obligation_id} not found")
    return row


async def get(
    *, session: AsyncSession, principal: Principal, obligation_id: uuid.UUID
) -> ObligationRead:
    return ObligationRead.model_validate(await _get(session, principal, obligation_id))


async def history(
    *, session: AsyncSession, principal: Principal, obligation_id: uuid.UUID, page: PageRequest
) -> HistoryPage:
    await _get(session, principal, obligation_id)
    query = sa.select(ObligationHistory).where(ObligationHistory.obligation_id == obligation_id)
    rows, next_cursor = await fetch_page(session, query, HISTORY, page)
    return HistoryPage(items=[HistoryRead.model_validate(r) for r in rows], next_cursor=next_cursor)


def _check_open(row: Obligation) -> None:
    if row.status not in OPEN_STATUSES:
        raise Conflict(
            f"obligation {row.id} is already {row.status}",
            details=[{"loc": "status", "message": f"is {row.status}"}],
        )


async def fulfil(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    emit: Emit,
    audit: Audit,
    obligation_id: uuid.UUID,
    body: FulfilRequest,
) -> ObligationRead:
    row = await _get(session, principal, obligation_id, lock=True)
    _check_open(row)
    before = {"status": row.status}
    if row.evidence_required and body.evidence is None:
        raise Unprocessable(
            "this obligation requires evidence: a note, a link or a document checksum",
            details=[{"loc": "body.evidence", "message": "required for this obligation"}],
        )
    evidence = body.evidence.as_dict() if body.evidence is not None else None
    row.evidence = evidence
    row.resolved_at = clock.now()
    row.resolved_by = body.by
    await transition(
        session,
        clock,
        emit,
        row,
        event="fulfilled",
        to_status="fulfilled",
        by=body.by,
        evidence=evidence,
    )
    await session.flush()
    fields = {"status", "resolved_at", "resolved_by", "evidence"}
    await _audit(audit, row, "fulfil", before, fields)
    return ObligationRead.model_validate(row)


async def waive(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    emit: Emit,
    audit: Audit,
    obligation_id: uuid.UUID,
    body: WaiveRequest,
) -> ObligationRead:
    row = await _get(session, principal, obligation_id, lock=True)
    _check_open(row)
    before = {"status": row.status}
    row.reason = body.reason
    row.resolved_at = clock.now()
    row.resolved_by = body.by
    await transition(
        session,
        clock,
        emit,
        row,
        event="waived",
        to_status="waived",
        by=body.by,
        reason=body.reason,
    )
    await session.flush()
    await _audit(audit, row, "waive", before, {"status", "resolved_at", "resolved_by", "reason"})
    return ObligationRead.model_validate(row)


async def assign(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    audit: Audit,
    obligation_id: uuid.UUID,
    body: ObligationUpdate,
) -> ObligationRead:
    row = await _get(session, principal, obligation_id, lock=True)
    if row.owner != body.owner:
        previous = row.owner
        await _audit(audit, row, "assign", {"owner": previous}, {"owner"}, owner=body.owner)
        row.owner = body.owner
        row.updated_at = clock.now()
        record(
            session,
            row,
            action="assigned",
            from_status=row.status,
            at=row.updated_at,
            by=body.by,
            details={"owner": body.owner, "previous_owner": previous},
        )
        await session.flush()
    return ObligationRead.model_validate(row)


async def _audit(
    audit: Audit,
    row: Obligation,
    verb: str,
    before: dict[str, Any],
    fields: set[str],
    **after: Any,
) -> None:
    """Audit an operator's change of an obligation: `before`, and `fields` of the row as
    they are now (or as `after` gives them)."""
    await audit.record(
        action=f"obligation.{verb}",
        subject_type="obligation",
        subject_id=row.id,
        tenant_id=row.tenant_id,
        contract_id=row.contract_id,
        before=before,
        after={name: after.get(name, getattr(row, name)) for name in sorted(fields)},
    )
