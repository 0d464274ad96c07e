"""A run of consumed events against the database: one query per kind of read, one statement
per kind of write, however many events the run holds; the decisions are `intake.plan`'s.

`take_in` loads, decides, then claims the alerts and obligations the run opens (inserts that
skip a key already taken). Another instance may take one of those keys between the load and
the claim (it heard of the same breach on another partition): the claim is then undone (a
savepoint) and the run decided again on what is stored now, as the events would have been
handled one at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.envelope import Envelope
from crm_events.errors import RetryableEventError
from crm_events.schemas.contracts import ContractTerms
from crm_platform.contract_terms import contract_terms_table
from obligation_tracker.alerts import rules
from obligation_tracker.alerts.plan import AlertState, Incoming
from obligation_tracker.governance.snapshot import record_period_facts
from obligation_tracker.intake.plan import (
    FollowUps,
    IntakePlan,
    Loaded,
    Outbound,
    alert_keys,
    decide,
    needs_terms,
    wanted_follow_ups,
)
from obligation_tracker.models import (
    OPEN_STATUSES,
    Alert,
    AlertRule,
    Obligation,
    ObligationHistory,
    table_of,
)
from obligation_tracker.obligations.followups import GATHERING_KINDS, OpenFollowUp
from obligation_tracker.obligations.opening import created_history, obligation_row
from obligation_tracker.settings import Settings

ALERTS = table_of(Alert)
OBLIGATIONS = table_of(Obligation)

Publish = Callable[[Sequence[Outbound]], Awaitable[Sequence[Envelope]]]

CLAIM_ATTEMPTS = 3


async def take_in(
    session: AsyncSession,
    incoming: Sequence[Incoming],
    *,
    settings: Settings | None,
    publish: Publish,
) -> None:
    """Handle the events, in order, in the caller's transaction. Without `settings`, only
    events that call for no obligation (their alerts)."""
    contracts = {c for e in incoming if (c := needs_terms(e.payload)) is not None}
    terms = await load_terms(session, contracts)
    wanted = wanted_follow_ups(incoming, terms, settings)
    for _ in range(CLAIM_ATTEMPTS):
        plan = decide(incoming, wanted, await _load(session, incoming, wanted, terms))
        if await _claimed(session, plan):
            await _write(session, plan, publish)
            return
    raise RetryableEventError("the alerts or obligations of these events keep changing")


async def _load(
    session: AsyncSession,
    incoming: Sequence[Incoming],
    wanted: FollowUps,
    terms: dict[uuid.UUID, ContractTerms],
) -> Loaded:
    gathering = {f.new.contract_id for _, f, _ in wanted if f.gather is not None}
    return Loaded(
        terms=terms,
        alerts=await load_alerts(session, alert_keys(incoming)),
        rules=await load_rules(session, incoming),
        open_follow_ups=await load_open_follow_ups(session, gathering),
        taken_keys=await load_taken_keys(session, {f.new.dedup_key for _, f, _ in wanted}),
    )


async def load_terms(
    session: AsyncSession, contract_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, ContractTerms]:
    """The latest terms of each contract (those not known yet are missing)."""
    if not contract_ids:
        return {}
    t = contract_terms_table
    rows = await session.execute(
        sa.select(t.c.contract_id, t.c.terms)
        .ext(distinct_on(t.c.contract_id))
        .where(t.c.contract_id.in_(sorted(contract_ids)))
        .order_by(t.c.contract_id, t.c.version.desc())
    )
    return {cid: ContractTerms.model_validate(doc) for cid, doc in rows}


async def load_alerts(session: AsyncSession, keys: Collection[str]) -> dict[str, AlertState]:
    """The stored alerts under these keys, locked (in key order: no deadlock between two
    runs that lock some of the same) until the transaction ends."""
    if not keys:
        return {}
    a = ALERTS.c
    rows = await session.execute(
        sa.select(a.id, a.dedup_key, a.details, a.occurrences, a.event_types, a.updated_at)
        .where(a.dedup_key.in_(sorted(keys)))
        .order_by(a.dedup_key)
        .with_for_update()
    )
    return {
        r.dedup_key: AlertState(r.id, r.details, r.occurrences, r.event_types, r.updated_at)
        for r in rows
    }


async def load_rules(session: AsyncSession, incoming: Sequence[Incoming]) -> list[AlertRule]:
    """Every rule that may decide for one of the events (`rules.choose_rule` picks)."""
    found = [
        (e, c) for e in incoming if (c := rules.candidate(e.event_type, e.payload)) is not None
    ]
    if not found:
        return []
    return list(
        (
            await session.scalars(
                sa.select(AlertRule).where(
                    AlertRule.event_type.in_(sorted({e.event_type for e, _ in found})),
                    sa.or_(
                        AlertRule.tenant_id.is_(None),
                        AlertRule.tenant_id.in_(sorted({e.tenant_id for e, _ in found})),
                    ),
                    sa.or_(
                        AlertRule.contract_id.is_(None),
                        AlertRule.contract_id.in_(sorted({c.contract_id for _, c in found})),
                    ),
                )
            )
        ).all()
    )


async def load_open_follow_ups(
    session: AsyncSession, contract_ids: Collection[uuid.UUID]
) -> list[OpenFollowUp]:
    """The contracts' open disputes and renegotiations, oldest first, locked."""
    if not contract_ids:
        return []
    o = OBLIGATIONS.c
    rows = await session.execute(
        sa.select(o.id, o.contract_id, o.kind, o.details, o.updated_at)
        .where(
            o.contract_id.in_(sorted(contract_ids)),
            o.kind.in_(GATHERING_KINDS),
            o.status.in_(OPEN_STATUSES),
        )
        .order_by(o.created_at, o.id)
        .with_for_update()
    )
    return [OpenFollowUp(r.id, r.contract_id, r.kind, r.details, r.updated_at) for r in rows]


async def load_taken_keys(session: AsyncSession, keys: Collection[str]) -> frozenset[str]:
    if not keys:
        return frozenset()
    o = OBLIGATIONS.c
    taken = await session.scalars(sa.select(o.dedup_key).where(o.dedup_key.in_(sorted(keys))))
    return frozenset(taken)


async def _claimed(session: AsyncSession, plan: IntakePlan) -> bool:
    """Insert the alerts and obligations the run opens; False (nothing inserted) when
    another transaction took one of their keys since they were loaded."""
    alerts = [s.new_row for s in plan.alerts.raised if s.new_row is not None]
    obligations = [
        {
            **obligation_row(o.new, o.id, o.now),
            "details": o.state.details,
            "updated_at": o.state.updated_at,
        }
        for o in plan.follow_ups.opened
    ]
    if not alerts and not obligations:
        return True
    savepoint = await session.begin_nested()
    for table, rows in ((ALERTS, alerts), (OBLIGATIONS, obligations)):
        if rows and not await _inserted_all(session, table, rows):
            await savepoint.rollback()
            return False
    await savepoint.commit()
    return True


async def _inserted_all(session: AsyncSession, table: sa.Table, rows: list[dict[str, Any]]) -> bool:
    # Executed with the rows as parameters: compiled once, sent as multi-row inserts.
    inserted = await session.execute(
        pg_insert(table).on_conflict_do_nothing(index_elements=["dedup_key"]).returning(table.c.id),
        rows,
    )
    return len(inserted.all()) == len(rows)


async def _write(session: AsyncSession, plan: IntakePlan, publish: Publish) -> None:
    completed = [
        {
            "id": s.id,
            "details": s.details,
            "occurrences": s.occurrences,
            "event_types": s.event_types,
            "updated_at": s.updated_at,
        }
        for s in plan.alerts.completed
    ]
    if completed:
        await session.execute(
            sa.update(ALERTS)
            .where(ALERTS.c.id == sa.bindparam("b_id"))
            .values(
                details=sa.bindparam("b_details"),
                occurrences=sa.bindparam("b_occurrences"),
                event_types=sa.bindparam("b_event_types"),
                updated_at=sa.bindparam("b_updated_at"),
            ),
            [{f"b_{k}": v for k, v in row.items()} for row in completed],
        )
    gathered = [
        {"id": o.id, "details": o.details, "updated_at": o.updated_at}
        for o in plan.follow_ups.gathered
    ]
    if gathered:
        await session.execute(
            sa.update(OBLIGATIONS)
            .where(OBLIGATIONS.c.id == sa.bindparam("b_id"))
            .values(details=sa.bindparam("b_details"), updated_at=sa.bindparam("b_updated_at")),
            [{f"b_{k}": v for k, v in row.items()} for row in gathered],
        )
    if plan.period_facts:
        await record_period_facts(session, plan.period_facts)
    if not plan.outbound:
        return
    envelopes = await publish(plan.outbound)
    history = [
        created_history(m.opened.new, m.opened.id, envelope.id, m.opened.now)
        for m, envelope in zip(plan.outbound, envelopes, strict=True)
        if m.opened is not None
    ]
    if history:
        await session.execute(sa.insert(table_of(ObligationHistory)), history)
