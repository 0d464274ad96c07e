"""sla.v1 and billing.v1 events handled as a run in one transaction, on real PostgreSQL:
the rows and the events published are those the same events leave handled one per
transaction; a run with an event that cannot be handled writes nothing, and its other
events handled one at a time leave what they would have left."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from tracker_events import (
    at_risk,
    breached,
    discrepancy,
    restated,
    volume_band_exceeded,
)

import crm_testing.examples as examples
from crm_events.consumer import Delivered, EventContext
from crm_events.envelope import Envelope
from crm_events.errors import RetryableEventError
from crm_events.kafka import make_producer
from crm_events.registry import parse_payload, spec_for
from crm_events.tables import inbox_table, outbox_table
from crm_events.topics import physical
from crm_platform.contract_terms import record_terms
from crm_testing.kafka import make_event, wait_until
from obligation_tracker.alerts.plan import Incoming
from obligation_tracker.handlers import take_in_events
from obligation_tracker.intake import store
from obligation_tracker.intake.plan import decide, wanted_follow_ups
from obligation_tracker.models import Alert, Obligation, ObligationHistory, SlaPeriodResult

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def invoice_line(contract_id: uuid.UUID, invoice_number: str, amount: str) -> Any:
    invoice_id = uuid.uuid5(contract_id, invoice_number)
    return discrepancy(contract_id, invoice_id, amount, invoice_number=invoice_number)


def scenario(c: list[uuid.UUID]) -> list[Envelope]:
    """Month end for four contracts, their events interleaved."""
    closed = examples.period_closed
    events: list[tuple[str, Any]] = [
        ("sla.breached", breached(c[0])),
        ("sla.period_closed", closed(c[1], outcome="below_expected")),
        ("sla.period_closed", closed(c[0])),
        (
            "reconciliation.discrepancy_found",
            invoice_line(c[2], "INV-1", "280.00"),
        ),
        ("sla.at_risk", at_risk(c[3])),
        ("sla.period_closed", closed(c[0])),  # a second close of the same period
        ("sla.period_restated", restated(c[1])),
        (
            "reconciliation.discrepancy_found",
            invoice_line(c[2], "INV-1", "12.50"),
        ),
        ("billing.credit_calculated", examples.credit_calculated(c[0])),
        ("sla.period_closed", closed(c[3], outcome="met")),
        ("billing.volume_band_exceeded", volume_band_exceeded(c[2], period="2026-02")),
        (
            "reconciliation.discrepancy_found",
            invoice_line(c[2], "INV-2", "3.00"),
        ),
        ("billing.volume_band_exceeded", volume_band_exceeded(c[2], period="2026-03")),
    ]
    return [make_event(t, subject=str(data.contract_id), data=data) for t, data in events]


async def activate(tracker: Any, contracts: list[uuid.UUID]) -> None:
    async with tracker.app.state.session_factory() as session, session.begin():
        for cid in contracts:
            await record_terms(session, examples.contract_terms(contract_id=cid), "active")


def delivered(session: Any, tracker: Any, envelope: Envelope, offset: int) -> Delivered:
    ctx = EventContext(
        session=session,
        envelope=envelope,
        source="obligation-tracker",
        topic="sla.v1",
        partition=0,
        offset=offset,
        clock=tracker.clock,
    )
    return Delivered(ctx, parse_payload(envelope))


async def in_one_transaction(tracker: Any, envelopes: list[Envelope]) -> None:
    async with tracker.app.state.session_factory() as session, session.begin():
        items = [delivered(session, tracker, e, i) for i, e in enumerate(envelopes)]
        await take_in_events(items, settings=tracker.app.state.settings)


async def one_per_transaction(tracker: Any, envelopes: list[Envelope]) -> None:
    for envelope in envelopes:
        await in_one_transaction(tracker, [envelope])


async def written(tracker: Any, contracts: list[uuid.UUID], envelopes: list[Envelope]) -> str:
    """Everything the events wrote for these contracts, with the contracts and events named
    by their place in the scenario, the events published by theirs among the published
    ones, and other ids blanked."""
    async with tracker.app.state.session_factory() as session:
        alerts = (
            await session.execute(
                sa.select(Alert.__table__)
                .where(Alert.contract_id.in_(contracts))
                .order_by(Alert.dedup_key)
            )
        ).mappings()
        alerts_rows = [{k: v for k, v in r.items() if k != "id"} for r in alerts]
        obligations = (
            await session.scalars(
                sa.select(Obligation)
                .where(Obligation.contract_id.in_(contracts))
                .order_by(Obligation.dedup_key)
            )
        ).all()
        history = (
            await session.scalars(
                sa.select(ObligationHistory)
                .where(ObligationHistory.obligation_id.in_([o.id for o in obligations]))
                .order_by(ObligationHistory.id)
            )
        ).all()
        periods = (
            await session.execute(
                sa.select(SlaPeriodResult.__table__)
                .where(SlaPeriodResult.contract_id.in_(contracts))
                .order_by(SlaPeriodResult.contract_id)
            )
        ).mappings()
        rows = (
            await session.execute(
                sa.select(
                    outbox_table.c.key,
                    outbox_table.c.event_id,
                    outbox_table.c.event_type,
                    outbox_table.c.value,
                )
                .where(outbox_table.c.key.in_([str(c) for c in contracts]))
                .order_by(outbox_table.c.id)
            )
        ).all()
    # Each contract's events in the order they were published (the consumer may interleave
    # contracts of different partitions in another order).
    position = {str(c): i for i, c in enumerate(contracts)}
    outbox = [r[1:] for r in sorted(rows, key=lambda r: position[r[0]])]
    published = [
        {
            "type": event_type,
            "causation": json.loads(value)["causationid"],
            "data": json.loads(value)["data"],
        }
        for _, event_type, value in outbox
    ]
    names = {str(c): f"contract-{i}" for i, c in enumerate(contracts)}
    names |= {e.id: f"event-{i}" for i, e in enumerate(envelopes)}
    names |= {event_id: f"published-{i}" for i, (event_id, _, _) in enumerate(outbox)}

    def named(rows: list[Any], *, ordered: bool) -> list[str]:
        """The rows as JSON with ids named (in a set's order, if not `ordered`)."""
        out = [
            UUID.sub(
                lambda m: names.get(m.group(0), "<id>"),
                json.dumps(row, default=str, sort_keys=True),
            )
            for row in rows
        ]
        return out if ordered else sorted(out)

    return json.dumps(
        {
            "alerts": named(alerts_rows, ordered=False),
            "obligations": named(
                [
                    {k: v for k, v in vars(o).items() if not k.startswith("_") and k != "id"}
                    for o in obligations
                ],
                ordered=False,
            ),
            "history": named(
                [(h.action, h.to_status, h.details, h.event_id, h.at) for h in history],
                ordered=False,
            ),
            "periods": named([dict(p) for p in periods], ordered=False),
            "published": named(published, ordered=True),
        },
        indent=1,
    )


async def test_a_run_in_one_transaction_writes_and_publishes_what_one_event_at_a_time_does(
    tracker: Any,
) -> None:
    one_by_one = [uuid.uuid4() for _ in range(4)]
    as_a_run = [uuid.uuid4() for _ in range(4)]
    await activate(tracker, one_by_one + as_a_run)
    singles, run = scenario(one_by_one), scenario(as_a_run)

    await one_per_transaction(tracker, singles)
    await in_one_transaction(tracker, run)

    expected = await written(tracker, one_by_one, singles)
    assert await written(tracker, as_a_run, run) == expected
    facts = {k: [json.loads(row) for row in rows] for k, rows in json.loads(expected).items()}
    # What the scenario is about: one alert per breach, completed by its later events (the
    # global rule for a closed period wants "high": below expected raises none); a dispute
    # per invoice gathering its lines; the reports and the renegotiation.
    assert sorted((a["dedup_key"].split(":")[0], a["occurrences"]) for a in facts["alerts"]) == [
        ("invoice_discrepancy", 1),
        ("invoice_discrepancy", 2),
        ("sla_at_risk", 1),
        ("sla_failure", 1),
        ("sla_failure", 4),
        ("volume_band", 1),
        ("volume_band", 1),
    ]
    kinds = sorted(o["kind"] for o in facts["obligations"])
    assert kinds == [
        "dispute_resolution",
        "dispute_resolution",
        "renegotiation",
        "root_cause_report",
        "root_cause_report",
    ]
    types = [p["type"] for p in facts["published"]]
    assert types.count("obligation.created") == 5
    assert all(p["causation"].startswith("event-") for p in facts["published"])


async def test_a_run_with_an_event_it_cannot_handle_writes_nothing_and_the_others_pass_alone(
    tracker: Any,
) -> None:
    control = [uuid.uuid4() for _ in range(4)]
    contracts = [uuid.uuid4() for _ in range(4)]
    await activate(tracker, control + contracts)
    unknown = uuid.uuid4()  # its activation has not arrived
    stray = make_event(
        "sla.period_closed",
        subject=str(unknown),
        data=examples.period_closed(unknown),
    )
    run = scenario(contracts)
    run.insert(4, stray)

    with pytest.raises(RetryableEventError, match=str(unknown)):
        await in_one_transaction(tracker, run)
    empty = json.loads(await written(tracker, contracts, run))
    assert all(rows == [] for rows in empty.values())

    # The runner's fallback: one record per transaction; the stray one keeps failing.
    for envelope in run:
        if envelope is stray:
            with pytest.raises(RetryableEventError):
                await in_one_transaction(tracker, [envelope])
        else:
            await in_one_transaction(tracker, [envelope])
    control_run = scenario(control)
    await one_per_transaction(tracker, control_run)
    handled = [e for e in run if e is not stray]
    assert await written(tracker, contracts, handled) == await written(
        tracker, control, control_run
    )


async def test_an_alert_raised_elsewhere_between_load_and_claim_is_completed_not_raised_again(
    tracker: Any,
) -> None:
    cid = uuid.uuid4()
    await activate(tracker, [cid])
    envelope = make_event("sla.period_closed", subject=str(cid), data=examples.period_closed(cid))
    incoming = [
        Incoming(
            envelope.id,
            envelope.type,
            envelope.tenant,
            parse_payload(envelope),
            tracker.clock.now(),
        )
    ]
    factory = tracker.app.state.session_factory
    async with factory() as session, session.begin():
        terms = await store.load_terms(session, [cid])
        wanted = wanted_follow_ups(incoming, terms, tracker.app.state.settings)
        stale = decide(incoming, wanted, await store._load(session, incoming, wanted, terms))
        # Another instance raises the breach's alert (it heard sla.breached) meanwhile.
        async with factory() as other, other.begin():
            await store.take_in(
                other,
                [
                    Incoming(
                        "elsewhere",
                        "sla.breached",
                        "acme-bank",
                        breached(cid),
                        tracker.clock.now(),
                    )
                ],
                settings=None,
                publish=_no_envelopes,
            )
        assert await store._claim(session, stale) is None
        # Nothing of the claim is left: neither the alert nor the report.
        assert (
            await session.scalar(
                sa.select(sa.func.count())
                .select_from(Obligation)
                .where(Obligation.contract_id == cid)
            )
            == 0
        )
    async with factory() as session, session.begin():
        items = [delivered(session, tracker, envelope, 0)]
        await take_in_events(items, settings=tracker.app.state.settings)
    async with factory() as session:
        [alert] = (await session.scalars(sa.select(Alert).where(Alert.contract_id == cid))).all()
        reports = (
            await session.scalars(sa.select(Obligation).where(Obligation.contract_id == cid))
        ).all()
    assert alert.source_event_id == "elsewhere" and alert.occurrences == 2
    assert alert.event_types == ["sla.breached", "sla.period_closed"]
    assert [r.kind for r in reports] == ["root_cause_report"]


async def _no_envelopes(messages: Any) -> list[Envelope]:
    return [make_event(m.event_type, subject=m.subject, data=m.data) for m in messages]


async def test_events_through_the_consumer_in_runs_leave_what_one_at_a_time_leaves_once(
    tracker: Any, kafka_bootstrap: str
) -> None:
    control = [uuid.uuid4() for _ in range(4)]
    contracts = [uuid.uuid4() for _ in range(4)]
    await activate(tracker, control + contracts)
    await one_per_transaction(tracker, control_run := scenario(control))
    run = scenario(contracts)
    # Redelivered: the first close and the first discrepancy come again (same event ids).
    redelivered = [*run, run[2], run[3]]
    consumer = tracker.app.state.consumers[0]
    group = consumer.group_id

    async def handled(ids: set[str]) -> bool:
        async with tracker.app.state.session_factory() as session:
            seen = await session.scalar(
                sa.select(sa.func.count())
                .select_from(inbox_table)
                .where(inbox_table.c.consumer == group, inbox_table.c.event_id.in_(ids))
            )
        return seen == len(ids)

    # Kafka orders a topic's partition, not two topics: sla.v1's events go first, then
    # billing.v1's, each topic's in one go (a contract's events keep the scenario's order,
    # so the alerts they raise are the control's whichever topic the consumer reads first).
    def topic_of(e: Envelope) -> str:
        return physical(spec_for(e.type).topic.value)

    sla_topic = topic_of(run[0])
    phases = [
        [e for e in redelivered if topic_of(e) == sla_topic],
        [e for e in redelivered if topic_of(e) != sla_topic],
    ]
    producer = make_producer(kafka_bootstrap, client_id="test-intake-runs")
    await producer.start()
    try:
        for phase in phases:
            for e in phase:
                await producer.send(topic_of(e), e.to_bytes(), key=e.key, headers=e.kafka_headers())
            await producer.flush()
            await wait_until(
                lambda phase=phase: handled({e.id for e in phase}),
                timeout=60,
                message="every event of the phase handled",
            )
    finally:
        await producer.stop()
    # The redelivered events were in the inbox or in their chunk already: nothing twice.
    await wait_until(lambda: consumer.stats.duplicates >= 2, message="the redeliveries seen")
    assert await written(tracker, contracts, run) == await written(tracker, control, control_run)
