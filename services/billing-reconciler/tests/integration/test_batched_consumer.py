"""The batched handlers given many events at once, as the consumer runner hands them a run
of records in one transaction, on real PostgreSQL and Kafka: several contracts' closes in
one call, a close delivered twice, a call that fails and is handled again one event at a
time — the credits are those the events handled one by one give, each caused by its close;
consumption events stored as one after the other, a refused one refused alone.

Three SLAs of 40, 50 and 60 % of the at-risk amount fail together: without consumption
M = 90,000.00, ARA (12 %) = 10,800.00, and the uncapped 4,320 + 5,400 + 6,480 exceed it, so
it is shared pro rata: 2,880.00, 3,600.00 and 4,320.00."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Sequence
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from billing_harness import Billing, sla_closed, sla_restated, terms_with

from billing_reconciler.handlers import HANDLERS
from billing_reconciler.models import PeriodCharges, ServiceCredit, SlaOutcome
from crm_events.consumer import Deferred, Delivered, EventContext
from crm_events.envelope import Envelope
from crm_events.errors import PermanentEventError, RetryableEventError
from crm_events.registry import parse_payload
from crm_events.schemas.consumption import ConsumptionRecorded
from crm_testing import examples
from crm_testing.kafka import make_event, publish_envelope, wait_until

SLA = examples.contract_document()["sla_definitions"][0]
CODES = ["AVAIL-CORE", "AVAIL-EDGE", "AVAIL-WEB"]
SHARED = {"AVAIL-CORE": "2880.00", "AVAIL-EDGE": "3600.00", "AVAIL-WEB": "4320.00"}


async def activate_three_slas(billing: Billing, contract_id: uuid.UUID) -> None:
    slas = [
        {**SLA, "code": code, "service_key": code.lower(), "allocation_pct": pct}
        for code, pct in zip(CODES, ["40", "50", "60"], strict=True)
    ]
    terms = terms_with(
        contract_id, sla_definitions=slas, credit_terms={"at_risk_pct": "12", "pool_pct": "200"}
    )
    await billing.activate(terms)


def close(contract_id: uuid.UUID, code: str, period: str = "2026-03") -> Envelope:
    return make_event(
        "sla.period_closed",
        subject=str(contract_id),
        data=sla_closed(contract_id, period, "failed", sla_code=code),
    )


async def handle_together(billing: Billing, events: Sequence[Envelope]) -> None:
    """One call of the batched handler in one transaction, then the work it deferred, as
    the consumer runner does with a run of records."""
    app = billing.app
    deferred: dict[Hashable, Deferred] = {}
    async with app.state.session_factory() as session, session.begin():
        delivered = [
            Delivered(
                EventContext(
                    session=session,
                    envelope=e,
                    source="billing-reconciler",
                    topic="test",
                    partition=0,
                    offset=offset,
                    clock=app.state.clock,
                    deferred=deferred,
                ),
                parse_payload(e),
            )
            for offset, e in enumerate(events)
        ]
        [handler] = HANDLERS[events[0].type]
        await handler(delivered)  # type: ignore[call-arg,arg-type]
        while deferred:
            await deferred.pop(next(iter(deferred)))()


async def credits(billing: Billing, contract_id: uuid.UUID) -> dict[str, tuple[str, int, str]]:
    """sla_code → (amount, revision, the event id it was calculated from)."""
    async with billing.app.state.session_factory() as session:
        rows = await session.scalars(
            sa.select(ServiceCredit).where(ServiceCredit.contract_id == contract_id)
        )
        return {
            r.sla_code: (format(r.credit_amount, "f"), r.revision, r.source_event_id) for r in rows
        }


async def statement_revisions(billing: Billing, contract_id: uuid.UUID) -> list[str]:
    async with billing.app.state.session_factory() as session:
        rows = await session.scalars(
            sa.select(PeriodCharges.trigger)
            .where(PeriodCharges.contract_id == contract_id)
            .order_by(PeriodCharges.revision)
        )
        return list(rows)


async def test_several_contracts_closes_in_one_call_recompute_each_month_once(
    billing: Billing,
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    for cid in (first, second):
        await activate_three_slas(billing, cid)
    events = [close(cid, code) for code in CODES for cid in (first, second)]
    await handle_together(billing, events)

    for cid in (first, second):
        mine = {e.data["sla_code"]: e.id for e in events if e.subject == str(cid)}
        assert await credits(billing, cid) == {
            code: (SHARED[code], 1, mine[code]) for code in CODES
        }
        # one statement revision for the three closes (one by one: three)
        assert await statement_revisions(billing, cid) == ["sla_period_closed"]
    # each credit's event is caused by the close of its SLA; the statement by the last one
    found = await billing.events.wait_for(
        lambda e: e.type == "billing.credit_calculated" and e.subject == str(second), count=3
    )
    by_code = {e.data["sla_code"]: e for e in found}
    assert {c: e.causationid for c, e in by_code.items()} == {
        e.data["sla_code"]: e.id for e in events if e.subject == str(second)
    }
    assert sum(Decimal(e.data["credit_amount"]) for e in found) == Decimal("10800.00")
    [charges] = await billing.events.wait_for(
        lambda e: e.type == "billing.charges_computed" and e.subject == str(second)
    )
    assert charges.causationid == events[-1].id


async def test_a_close_delivered_again_in_a_later_call_changes_nothing(billing: Billing) -> None:
    cid = uuid.uuid4()
    await activate_three_slas(billing, cid)
    events = [close(cid, code) for code in CODES]
    await handle_together(billing, events)
    before = await credits(billing, cid)
    # the same closes published again (new event ids), in one call with themselves
    again = [close(cid, code) for code in CODES]
    await handle_together(billing, [*again, *again])
    assert await credits(billing, cid) == before
    assert await statement_revisions(billing, cid) == ["sla_period_closed"]


async def stored_outcome(billing: Billing, contract_id: uuid.UUID, code: str) -> dict[str, Any]:
    async with billing.app.state.session_factory() as session:
        row = (
            await session.execute(
                sa.select(SlaOutcome.__table__).where(
                    SlaOutcome.contract_id == contract_id, SlaOutcome.sla_code == code
                )
            )
        ).one()
        return dict(row._mapping)


async def test_a_restatement_updates_the_stored_outcome_and_a_late_close_does_not(
    billing: Billing,
) -> None:
    """The outcome row keeps its tenant and first close time; a restatement replaces its
    figures (and names the restating event); the close delivered again after it, in the
    same call, does not put the old figures back."""
    cid = uuid.uuid4()
    await activate_three_slas(billing, cid)
    first = close(cid, "AVAIL-CORE")
    await handle_together(billing, [first])
    created = await stored_outcome(billing, cid, "AVAIL-CORE")
    assert (created["outcome"], created["restatement"]) == ("failed", 0)
    assert created["source_event_id"] == first.id

    restated = make_event(
        "sla.period_restated",
        subject=str(cid),
        data=sla_restated(
            cid, "2026-03", "met", restatement=1, previous="failed", attainment="99.92"
        ).model_copy(update={"sla_code": "AVAIL-CORE"}),
    )
    await handle_together(billing, [restated])
    await handle_together(billing, [close(cid, "AVAIL-CORE")])
    now = await stored_outcome(billing, cid, "AVAIL-CORE")
    assert (now["outcome"], now["restatement"], now["attainment"]) == (
        "met",
        1,
        Decimal("99.92"),
    )
    assert now["source_event_id"] == restated.id
    assert (now["tenant_id"], now["closed_at"]) == (created["tenant_id"], created["closed_at"])
    assert now["updated_at"] >= created["updated_at"]


async def test_a_failing_call_handled_again_one_by_one_gives_the_same_credits(
    billing: Billing,
) -> None:
    batched, one_by_one, unknown = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for cid in (batched, one_by_one):
        await activate_three_slas(billing, cid)
    await handle_together(billing, [close(batched, code) for code in CODES])

    events = [close(one_by_one, code) for code in CODES]
    events.insert(1, close(unknown, "AVAIL-CORE"))  # its contract is not known yet
    with pytest.raises(RetryableEventError):
        await handle_together(billing, events)
    assert await credits(billing, one_by_one) == {}  # the call's transaction left nothing
    for event in events:  # what the runner does then: one event per transaction
        if event.subject == str(unknown):
            with pytest.raises(RetryableEventError):
                await handle_together(billing, [event])
        else:
            await handle_together(billing, [event])

    amounts = {code: amount for code, (amount, _, _) in (await credits(billing, batched)).items()}
    assert amounts == SHARED
    alone = await credits(billing, one_by_one)
    assert {code: amount for code, (amount, _, _) in alone.items()} == SHARED
    # one by one, the third failure made the first two share the cap: their second revision
    assert [alone[code][1] for code in CODES] == [2, 2, 1]


async def test_closes_on_kafka_give_each_sla_its_credit_caused_by_its_close(
    billing: Billing,
) -> None:
    await activate_three_slas(billing, billing.contract_id)
    events = [close(billing.contract_id, code) for code in CODES]
    for e in events:
        await publish_envelope(billing.bootstrap, e)

    ids = {e.data["sla_code"]: e.id for e in events}

    def latest() -> dict[str, Envelope]:
        out = {}
        for e in sorted(billing.of("billing.credit_calculated"), key=lambda e: e.data["revision"]):
            out[e.data["sla_code"]] = e
        return out

    async def shared() -> bool:
        return {c: e.data["credit_amount"] for c, e in latest().items()} == SHARED

    await wait_until(shared, timeout=60, message="the three credits shared the cap")
    amounts = await credits(billing, billing.contract_id)
    assert {code: amount for code, (amount, _, _) in amounts.items()} == SHARED
    # a credit first calculated is caused by its own close, whatever the batches were
    for e in billing.of("billing.credit_calculated", lambda e: e.data["revision"] == 1):
        assert e.causationid == ids[e.data["sla_code"]]


def consumed(contract_id: uuid.UUID, items: list[dict[str, Any]]) -> Envelope:
    return make_event(
        "consumption.recorded",
        subject=str(contract_id),
        data=ConsumptionRecorded.model_validate({"items": items}),
    )


async def test_consumption_events_in_one_call_are_stored_as_one_after_the_other(
    billing: Billing,
) -> None:
    cid = billing.contract_id
    await billing.activate(examples.contract_terms(contract_id=cid))
    await handle_together(billing, [close(cid, "AVAIL-CORE")])  # March is computed
    items = examples.consumption_items(cid)
    corrected = {**items[0], "quantity": "216", "correction": True}
    await handle_together(billing, [consumed(cid, items), consumed(cid, [corrected])])
    url = f"/contracts/{billing.subject}/periods/2026-03/consumption"
    [srv] = [
        r
        for r in (await billing.client.get(url)).json()["items"]
        if r["resource_unit"] == "SRV-WIN"
    ]
    assert [r["quantity"] for r in srv["revisions"]] == ["214", "216"]
    # March recomputed once for both events, with the corrected quantity
    assert await statement_revisions(billing, cid) == ["sla_period_closed", "consumption_changed"]
    charges = (await billing.client.get(f"/contracts/{billing.subject}/charges/2026-03")).json()
    assert [ln["amount"] for ln in charges["lines"] if ln["kind"] == "arc"] == ["2240.00"]

    # an event refused in a call refuses the call; one by one, only it is refused
    later = {**items[1], "record_id": f"{cid}-late", "quantity": "10"}
    conflicting = {**items[0], "quantity": "999"}  # no correction flag
    events = [consumed(cid, [later]), consumed(cid, [conflicting])]
    with pytest.raises(PermanentEventError):
        await handle_together(billing, events)
    await handle_together(billing, events[:1])
    with pytest.raises(PermanentEventError):
        await handle_together(billing, events[1:])
    records = (await billing.client.get(url)).json()["items"]
    assert {r["record_id"]: r["quantity"] for r in records}[f"{cid}-late"] == "10"
    assert [r["quantity"] for r in records if r["resource_unit"] == "SRV-WIN"] == ["216"]
