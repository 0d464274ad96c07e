"""A run of consumed events against the database: one query per kind of read, one statement
per kind of write, however many events the run holds; the decisions are `intake.plan`'s.

`take_in` loads, decides, then claims the alerts and obligations the run opens (inserts that
skip a key already taken). A root-cause report whose key is taken was simply opened before.
An alert, dispute or renegotiation whose key another instance took between the load and the
claim (it heard of the same breach on another partition) changes what the later events of
the run do: the claim is undone and the run decided again on what is stored now, as the
events would have been handled one at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.envelope import Envelope
from crm_events.errors import RetryableEventError
from crm_platform.contract_terms import contract_terms_table
from crm_platform.db import any_of, table_of
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
)
from obligation_tracker.obligations.followups import (
    GATHERING_KINDS,
    FollowUpTerms,
    OpenFollowUp,
)
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
        opened = await _claim(session, plan)
        if opened is not None:
            await _write(session, plan, opened, publish)
            return
    raise RetryableEventError("the alerts or obligations of these events keep changing")


async def _load(
    session: AsyncSession,
    incoming: Sequence[Incoming],
    wanted: FollowUps,
    terms: dict[uuid.UUID, FollowUpTerms],
) -> Loaded:
    # Only the gathering kinds' keys: whether a root-cause report opens, the insert says
    # (nothing else in the run depends on it).
    gathering = [f.new for _, f, _ in wanted if f.gather is not None]
    return Loaded(
        terms=terms,
        alerts=await load_alerts(session, alert_keys(incoming)),
        rules=await load_rules(session, incoming),
        open_follow_ups=await load_open_follow_ups(session, {n.contract_id for n in gathering}),
        taken_keys=await load_taken_keys(session, {n.dedup_key for n in gathering}),
    )


async def load_terms(
    session: AsyncSession, contract_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, FollowUpTerms]:
    """What the follow-ups read of each contract's latest terms (those not known yet are
    missing); only those fields leave the database."""
    if not contract_ids:
        return {}
    t = contract_terms_table
    rows = await session.execute(
        sa.select(
            t.c.contract_id,
            t.c.tenant_id,
            t.c.terms["timezone"].astext,
            t.c.terms["holidays"],
            t.c.terms[("credit_terms", "root_cause_due_business_days")].astext,
        )
        .ext(distinct_on(t.c.contract_id))
        .where(any_of(t.c.contract_id, contract_ids))
        .order_by(t.c.contract_id, t.c.version.desc())
    )
    return {
        cid: FollowUpTerms(
            tenant_id=tenant_id,
            timezone=timezone,
            holidays=frozenset(date.fromisoformat(d) for d in holidays or ()),
            # The terms' default, for versions stored before the field was carried.
            root_cause_due_business_days=int(days) if days is not None else 10,
        )
        for cid, tenant_id, timezone, holidays, days in rows
    }


async def load_alerts(session: AsyncSession, keys: Collection[str]) -> dict[str, AlertState]:
    """The stored alerts under these keys, locked (in key order: no deadlock between two
    runs that lock some of the same) until the transaction ends."""
    if not keys:
        return {}
    a = ALERTS.c
    rows = await session.execute(
        sa.select(a.id, a.dedup_key, a.details, a.occurrences, a.event_types, a.updated_at)
        .where(any_of(a.dedup_key, keys))
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
                    any_of(AlertRule.event_type, {e.event_type for e, _ in found}),
                    sa.or_(
                        AlertRule.tenant_id.is_(None),
                        any_of(AlertRule.tenant_id, {e.tenant_id for e, _ in found}),
                    ),
                    sa.or_(
                        AlertRule.contract_id.is_(None),
                        any_of(AlertRule.contract_id, {c.contract_id for _, c in found}),
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
            any_of(o.contract_id, contract_ids),
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
    taken = await session.scalars(sa.select(o.dedup_key).where(any_of(o.dedup_key, keys)))
    return frozenset(taken)


async def _claim(session: AsyncSession, plan: IntakePlan) -> set[uuid.UUID] | None:
    """Insert the alerts and obligations the run opens; the obligations inserted (a
    root-cause report whose key is taken is not), or None, with nothing left inserted, when
    another transaction took the key of an alert or of a dispute or renegotiation since
    they were loaded."""
    alerts = [s.new_row for s in plan.alerts.raised if s.new_row is not None]
    obligations = [
        {
            **obligation_row(o.new, o.id, o.now),
            "details": o.state.details,
            "updated_at": o.state.updated_at,
        }
        for o in plan.follow_ups.opened
    ]
    raised = await _insert_new(session, ALERTS, alerts)
    opened = await _insert_new(session, OBLIGATIONS, obligations)
    if len(raised) == len(alerts) and all(
        o.id in opened for o in plan.follow_ups.opened if o.new.kind in GATHERING_KINDS
    ):
        return opened
    # Undone in this transaction (cheaper than a savepoint around every claim).
    for table, ids in ((OBLIGATIONS, opened), (ALERTS, raised)):
        if ids:
            await session.execute(sa.delete(table).where(any_of(table.c.id, ids)))
    return None


async def _insert_new(
    session: AsyncSession, table: sa.Table, rows: list[dict[str, Any]]
) -> set[uuid.UUID]:
    """Insert the rows whose key is free; the ids inserted."""
    if not rows:
        return set()
    # Executed with the rows as parameters: compiled once, sent as multi-row inserts.
    inserted = await session.scalars(
        pg_insert(table).on_conflict_do_nothing(index_elements=["dedup_key"]).returning(table.c.id),
        rows,
    )
    return set(inserted)


async def _write(
    session: AsyncSession, plan: IntakePlan, opened: set[uuid.UUID], publish: Publish
) -> None:
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
    outbound = [m for m in plan.outbound if m.opened is None or m.opened.id in opened]
    if not outbound:
        return
    envelopes = await publish(outbound)
    history = [
        created_history(m.opened.new, m.opened.id, envelope.id, m.opened.now)
        for m, envelope in zip(outbound, envelopes, strict=True)
        if m.opened is not None
    ]
    if history:
        await session.execute(sa.insert(table_of(ObligationHistory)), history)
