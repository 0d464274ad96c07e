"""Recurring obligations from the contract's definitions: activation, amendment, termination."""

import uuid
from datetime import UTC, datetime
from typing import Any

from crm_events.schemas.contracts import ContractTerminated
from crm_testing.kafka import EventCollector, wait_until


async def test_activation_opens_monthly_instances_due_on_the_fifth_business_day_in_local_time(
    tracker: Any, make_terms: Any, kafka_bootstrap: str
) -> None:
    cid = uuid.uuid4()
    async with EventCollector(kafka_bootstrap, ["obligations.v1"]) as kafka:
        # The clock says 03:00 UTC on 8 December: still Monday 7 December in New York, the
        # day December's report is due — so December's instance is still due, not past.
        await tracker.activate(make_terms(cid))
        rows = await tracker.obligations(cid)
        created = await kafka.wait_for(
            lambda e: e.subject == str(cid) and e.type == "obligation.created", count=4
        )

    assert [(r["occurrence_date"], r["due_date"]) for r in rows] == [
        ("2026-12-01", "2026-12-07"),  # across a weekend
        ("2027-01-01", "2027-01-08"),  # across New Year's Day (a holiday) and a weekend
        ("2027-02-01", "2027-02-05"),
        ("2027-03-01", "2027-03-05"),  # the horizon (3 months in this test) ends in March
    ]
    first = rows[0]
    assert first["kind"] == "contractual" and first["definition_code"] == "SVC-REPORT"
    assert (first["owner_role"], first["severity"], first["evidence_required"]) == (
        "service_delivery_manager",
        "high",
        True,
    )
    assert first["timezone"] == "America/New_York" and first["status"] == "open"
    assert sorted(e.data["due_date"] for e in created) == [r["due_date"] for r in rows]
    # Each instance counts in the month it is due (contract-registry's health uses it).
    assert sorted(e.data["period_label"] for e in created) == [
        "2026-12",
        "2027-01",
        "2027-02",
        "2027-03",
    ]


async def test_the_horizon_job_extends_without_duplicating(tracker: Any, make_terms: Any) -> None:
    from obligation_tracker.main import HORIZON_JOB
    from obligation_tracker.obligations.scheduling import extend_horizons

    cid = uuid.uuid4()
    await tracker.activate(make_terms(cid))
    assert len(await tracker.obligations(cid)) == 4
    await tracker.run(HORIZON_JOB, extend_horizons)
    assert len(await tracker.obligations(cid)) == 4
    tracker.clock.set(datetime(2027, 1, 20, 15, tzinfo=UTC))
    await tracker.run(HORIZON_JOB, extend_horizons)
    rows = await tracker.obligations(cid)
    assert [r["due_date"] for r in rows] == [
        "2026-12-07",
        "2027-01-08",
        "2027-02-05",
        "2027-03-05",
        "2027-04-07",  # 1 April is a Thursday: 1, 2, 5, 6, 7
    ]


async def test_an_amendment_regenerates_future_instances_and_leaves_the_past_alone(
    tracker: Any, make_terms: Any, kafka_bootstrap: str
) -> None:
    cid = uuid.uuid4()
    governance = {"owner_role": "account_executive", "review_rrule": "FREQ=MONTHLY;BYMONTHDAY=15"}
    await tracker.activate(make_terms(cid, governance=governance))
    before = {(r["kind"], r["occurrence_date"]): r for r in await tracker.obligations(cid)}
    december = before[("contractual", "2026-12-01")]
    february = before[("contractual", "2027-02-01")]
    review = before[("governance_review", "2027-01-15")]

    done = await tracker.client.post(
        f"/obligations/{december['id']}/fulfil",
        json={"by": "j.doe", "evidence": {"link": "https://docs.example.com/report-2026-12"}},
    )
    assert done.status_code == 200, done.text
    assigned = await tracker.client.patch(
        f"/obligations/{february['id']}", json={"owner": "j.doe@globex.example"}
    )
    assert assigned.status_code == 200 and assigned.json()["owner"] == "j.doe@globex.example"

    # 12 January: January's report (due the 8th) is past; version 2, effective 1 January,
    # gives the report ten business days instead of five and a new title.
    tracker.clock.set(datetime(2027, 1, 12, 15, tzinfo=UTC))
    changed = {**make_terms(cid).obligation_definitions[0].model_dump(mode="json")}
    changed.update({"due_offset_business_days": 9, "title": "Monthly service report (v2)"})
    async with EventCollector(kafka_bootstrap, ["obligations.v1"]) as kafka:
        await tracker.amend(
            make_terms(
                cid,
                version=2,
                effective_from="2027-01-01",
                governance=governance,
                obligation_definitions=[changed],
            )
        )

        async def regenerated() -> list[dict[str, Any]] | None:
            rows = await tracker.obligations(cid)
            return rows if any(r["contract_version"] == 2 for r in rows) else None

        rows: Any = await wait_until(regenerated, message="regenerated instances")
        waived = await kafka.wait_for(
            lambda e: e.subject == str(cid) and e.type == "obligation.waived", count=2
        )

    by_key = {(r["kind"], r["occurrence_date"], r["status"]): r for r in rows}
    # The past stays as it was: December fulfilled, January open under version 1.
    assert by_key[("contractual", "2026-12-01", "fulfilled")]["id"] == december["id"]
    jan = by_key[("contractual", "2027-01-01", "open")]
    assert (jan["due_date"], jan["contract_version"]) == ("2027-01-08", 1)
    # February and March follow version 2; the old ones are waived as superseded.
    old_feb = by_key[("contractual", "2027-02-01", "waived")]
    assert old_feb["id"] == february["id"]
    assert old_feb["reason"] == "superseded by contract version 2"
    new_feb = by_key[("contractual", "2027-02-01", "open")]
    assert (new_feb["due_date"], new_feb["title"]) == ("2027-02-12", "Monthly service report (v2)")
    assert new_feb["owner"] == "j.doe@globex.example"  # the assignment carries over
    assert by_key[("contractual", "2027-03-01", "open")]["due_date"] == "2027-03-12"
    assert by_key[("contractual", "2027-04-01", "open")]["due_date"] == "2027-04-14"
    # The reviews did not change: the same instances stay, now under version 2.
    kept = by_key[("governance_review", "2027-01-15", "open")]
    assert (kept["id"], kept["contract_version"]) == (review["id"], 2)
    assert by_key[("governance_review", "2027-03-15", "open")]["contract_version"] == 2
    assert sorted(e.data["obligation_id"] for e in waived) == sorted(
        r["id"] for r in rows if r["status"] == "waived"
    )


async def test_termination_waives_the_instances_after_it(tracker: Any, make_terms: Any) -> None:
    cid = uuid.uuid4()
    terms = make_terms(cid)
    await tracker.activate(terms)
    tracker.clock.set(datetime(2027, 1, 15, 15, tzinfo=UTC))
    await tracker.publish(
        "contract.terminated",
        ContractTerminated(terms=terms, terminated_at=tracker.clock.now(), reason="exit"),
    )

    async def retired() -> list[dict[str, Any]] | None:
        rows = await tracker.obligations(cid)
        return rows if any(r["status"] == "waived" for r in rows) else None

    rows: Any = await wait_until(retired, message="instances retired")
    assert [(r["occurrence_date"], r["status"]) for r in rows] == [
        ("2026-12-01", "open"),
        ("2027-01-01", "open"),  # occurred before the termination: still owed
        ("2027-02-01", "waived"),
        ("2027-03-01", "waived"),
    ]
