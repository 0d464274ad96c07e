"""Obligations and alerts born from events, on real PostgreSQL and Kafka: one breach, one
alert, one obligation; disputes per invoice; renegotiations; the governance review's
health snapshot."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import crm_testing.examples as examples
from crm_events.schemas.billing import DiscrepancyFound, VolumeBandExceeded
from crm_events.schemas.sla import Period, SlaBreached
from crm_testing.kafka import EventCollector, wait_until
from obligation_tracker.main import CHECK_JOB
from obligation_tracker.obligations.checks import check_obligations


def breached(contract_id: uuid.UUID) -> SlaBreached:
    return SlaBreached(
        contract_id=contract_id,
        contract_version=1,
        sla_code="AVAIL-CORE",
        period=Period(
            label=examples.PERIOD,
            start=datetime(2026, 3, 1, 5, tzinfo=UTC),
            end=datetime(2026, 4, 1, 4, tzinfo=UTC),
        ),
        best_possible_attainment=Decimal("99.4609"),
        minimum_level=Decimal("99.5"),
        explanation="240 minutes of downtime outside maintenance",
        detected_at=datetime(2026, 3, 14, 8, 1, tzinfo=UTC),
    )


async def test_a_breach_raises_one_alert_that_later_events_complete_and_one_root_cause(
    tracker: Any, make_terms: Any, kafka_bootstrap: str
) -> None:
    cid = uuid.uuid4()
    # Good Friday, 10 April 2026, is a holiday of this contract.
    await tracker.activate(make_terms(cid, holidays=["2026-04-10"]))
    async with EventCollector(kafka_bootstrap, ["obligations.v1", "alerts.v1"]) as kafka:
        await tracker.publish("sla.breached", breached(cid))
        closed = examples.period_closed(cid, closed_at=datetime(2026, 4, 3, 15, tzinfo=UTC))
        await tracker.publish("sla.period_closed", closed)
        await tracker.publish("sla.period_closed", closed)  # a second close event: ignored
        await tracker.publish("billing.credit_calculated", examples.credit_calculated(cid))

        async def complete() -> list[dict[str, Any]] | None:
            alerts = (await tracker.client.get("/alerts", params={"contract_id": str(cid)})).json()[
                "items"
            ]
            return alerts if alerts and alerts[0]["occurrences"] == 4 else None

        found: Any = await wait_until(complete, message="alert with every event's facts")
        [alert] = found
        await kafka.wait_for(lambda e: e.subject == str(cid) and e.type == "obligation.created")
        obligations = await tracker.obligations(cid, kind="root_cause_report")

    raised = [e for e in kafka.events if e.type == "alert.raised" and e.subject == str(cid)]
    assert len(raised) == 1 and raised[0].data["source_event_type"] == "sla.breached"
    assert alert["dedup_key"] == f"sla_failure:{cid}:AVAIL-CORE:2026-03"
    assert alert["event_types"] == [
        "sla.breached",
        "sla.period_closed",
        "billing.credit_calculated",
    ]
    assert alert["details"]["best_possible_attainment"] == "99.4609"
    assert alert["details"]["attainment"] == "99.4609"
    assert alert["details"]["credit_amount"] == "4414.08"
    [root_cause] = [o for o in obligations if o["kind"] == "root_cause_report"]
    # Closed Friday 3 April; ten business days, skipping Good Friday: Monday 20 April.
    assert root_cause["due_date"] == date(2026, 4, 20).isoformat()
    assert root_cause["evidence_required"] is True
    assert root_cause["period_label"] == "2026-03"


async def test_invoice_discrepancies_gather_on_one_dispute_and_one_alert(
    tracker: Any, make_terms: Any, kafka_bootstrap: str
) -> None:
    cid = uuid.uuid4()
    await tracker.activate(make_terms(cid))
    invoice_id = uuid.uuid4()

    def discrepancy(cls: str, amount: str, item: str) -> DiscrepancyFound:
        return DiscrepancyFound(
            discrepancy_id=uuid.uuid4(),
            invoice_id=invoice_id,
            invoice_number="INV-2026-03-001",
            contract_id=cid,
            period_label="2026-03",
            currency="USD",
            discrepancy_class=cls,
            direction="over_billed",
            amount=Decimal(amount),
            item_code=item,
            explanation="…",
            found_at=datetime(2026, 12, 8, 2, tzinfo=UTC),  # 7 December in New York
        )

    async with EventCollector(kafka_bootstrap, ["obligations.v1", "alerts.v1"]) as kafka:
        await tracker.publish(
            "reconciliation.discrepancy_found",
            discrepancy("consumption_error", "280.00", "SRV-WIN"),
        )
        await tracker.publish(
            "reconciliation.discrepancy_found",
            discrepancy("unapplied_credit", "4414.08", "AVAIL-CORE"),
        )

        async def gathered() -> list[dict[str, Any]] | None:
            rows = await tracker.obligations(cid, kind="dispute_resolution")
            return rows if rows and len(rows[0]["details"]["discrepancies"]) == 2 else None

        found: Any = await wait_until(gathered, message="one dispute, two discrepancies")
        [dispute] = found
        alerts = (await tracker.client.get("/alerts", params={"contract_id": str(cid)})).json()[
            "items"
        ]
        await kafka.wait_for(
            lambda e: e.type == "obligation.created" and e.data["kind"] == "dispute_resolution"
        )
    assert dispute["title"] == "Resolve the differences on invoice INV-2026-03-001 (2026-03)"
    assert dispute["details"]["discrepancies"] == [
        "consumption_error over_billed 280.00 USD on SRV-WIN",
        "unapplied_credit over_billed 4414.08 USD on AVAIL-CORE",
    ]
    # Found on Monday 7 December (local); ten business days later: Monday 21 December.
    assert dispute["due_date"] == "2026-12-21"
    assert (dispute["owner_role"], dispute["severity"]) == ("commercial_manager", "high")
    assert len(alerts) == 1 and len(alerts[0]["details"]["discrepancies"]) == 2
    created = [
        e
        for e in kafka.events
        if e.type == "obligation.created" and e.data["kind"] == "dispute_resolution"
    ]
    assert [e.data["obligation_id"] for e in created] == [dispute["id"]]


async def test_volume_outside_its_band_opens_one_renegotiation_per_unit(
    tracker: Any, make_terms: Any
) -> None:
    cid = uuid.uuid4()
    await tracker.activate(make_terms(cid))

    def exceeded(period: str, actual: str) -> VolumeBandExceeded:
        return VolumeBandExceeded(
            contract_id=cid,
            period_label=period,
            resource_unit="SRV-WIN",
            actual=Decimal(actual),
            baseline=Decimal(200),
            floor_pct=Decimal(80),
            ceiling_pct=Decimal(120),
            direction="above",
            detected_at=datetime(2026, 12, 8, 15, tzinfo=UTC),
        )

    await tracker.publish("billing.volume_band_exceeded", exceeded("2026-10", "250"))
    await tracker.publish("billing.volume_band_exceeded", exceeded("2026-11", "260"))

    async def both_periods() -> list[dict[str, Any]] | None:
        rows = await tracker.obligations(cid, kind="renegotiation")
        return rows if rows and len(rows[0]["details"]["periods"]) == 2 else None

    found: Any = await wait_until(both_periods, message="one renegotiation")
    [renegotiation] = found
    assert renegotiation["title"] == "Renegotiate SRV-WIN: volume above its band"
    assert renegotiation["owner_role"] == "account_executive"
    # Detected Tuesday 8 December; twenty business days, skipping Christmas and New Year's
    # Day: Thursday 7 January 2027.
    assert renegotiation["due_date"] == "2027-01-07"


async def test_the_governance_review_gets_the_health_snapshot_on_its_day(
    tracker: Any, make_terms: Any
) -> None:
    cid = uuid.uuid4()
    tracker.clock.set(datetime(2026, 12, 8, 15, tzinfo=UTC))
    await tracker.activate(make_terms(cid, obligation_definitions=[], governance={}))
    [review] = await tracker.obligations(cid)
    assert (review["kind"], review["occurrence_date"], review["due_date"]) == (
        "governance_review",
        "2027-01-01",
        "2027-01-04",  # New Year's Day, then a weekend
    )
    assert review["owner_role"] == "account_executive"
    await tracker.publish("sla.period_closed", examples.period_closed(cid))
    await tracker.publish("billing.credit_calculated", examples.credit_calculated(cid))

    async def alerted() -> bool:
        alerts = (await tracker.client.get("/alerts", params={"contract_id": str(cid)})).json()[
            "items"
        ]
        return bool(alerts) and "credit_amount" in alerts[0]["details"]

    await wait_until(alerted, message="breach recorded")

    # Before the review's day: no snapshot yet.
    await tracker.run(CHECK_JOB, check_obligations)
    assert (
        "health_snapshot"
        not in (await tracker.client.get(f"/obligations/{review['id']}")).json()["details"]
    )
    tracker.clock.set(datetime(2027, 1, 1, 14, tzinfo=UTC))
    await tracker.run(CHECK_JOB, check_obligations)
    snapshot = (await tracker.client.get(f"/obligations/{review['id']}")).json()["details"][
        "health_snapshot"
    ]
    assert snapshot["window"] == {"from": "2026-10-01", "to": "2027-01-02"}
    assert snapshot["sla_periods"] == {"met": 0, "below_expected": 0, "failed": 1, "no_data": 0}
    assert snapshot["missed_periods"] == [
        {
            "sla_code": "AVAIL-CORE",
            "period": "2026-03",
            "outcome": "failed",
            "attainment": "99.4609",
            "credit": "4414.08 USD",
        }
    ]
    assert snapshot["credits"] == {"USD": "4414.08"}
    # The root cause (due in April) went overdue and up all three escalation levels at the
    # first check; the review itself is the open one.
    assert snapshot["obligations"]["open"] == 1
    assert snapshot["obligations"]["overdue"] == 1
    assert snapshot["alerts_raised"] == 4  # the breach and three escalations
    history = (await tracker.client.get(f"/obligations/{review['id']}/history")).json()["items"]
    assert [h["action"] for h in history] == ["created", "due_soon", "snapshot_attached"]
