"""An obligation's lifecycle with an injected clock: due soon, overdue, escalated level by
level, fulfilled with evidence or waived; every step an event and a history entry."""

import uuid
from datetime import UTC, datetime
from typing import Any

from icalendar import Calendar

from crm_testing.kafka import EventCollector
from obligation_tracker.main import CHECK_JOB
from obligation_tracker.obligations.checks import check_obligations

ESCALATION = {"delay_business_days": 2, "levels": ["service_delivery_manager", "account_executive"]}


async def test_overdue_then_escalated_level_by_level_with_an_injected_clock(
    tracker: Any, make_terms: Any, kafka_bootstrap: str
) -> None:
    cid = uuid.uuid4()
    tracker.clock.set(datetime(2026, 12, 3, 15, tzinfo=UTC))  # Thursday 3 December
    await tracker.activate(make_terms(cid, escalation=ESCALATION))
    december = (await tracker.obligations(cid))[0]
    assert december["due_date"] == "2026-12-07"

    async def check_at(utc: datetime) -> dict[str, Any]:
        tracker.clock.set(utc)
        await tracker.run(CHECK_JOB, check_obligations)
        resp = await tracker.client.get(f"/obligations/{december['id']}")
        return resp.json()  # type: ignore[no-any-return]

    async with EventCollector(kafka_bootstrap, ["obligations.v1", "alerts.v1"]) as kafka:
        # Friday 4 December: due within three days → announced once.
        assert (await check_at(datetime(2026, 12, 4, 15, tzinfo=UTC)))["status"] == "open"
        await check_at(datetime(2026, 12, 5, 15, tzinfo=UTC))
        # 03:00 UTC on the 8th is still the 7th in New York: due today, not overdue.
        assert (await check_at(datetime(2026, 12, 8, 3, tzinfo=UTC)))["status"] == "open"
        # 05:30 UTC on the 8th is past midnight in New York: overdue.
        row = await check_at(datetime(2026, 12, 8, 5, 30, tzinfo=UTC))
        assert (row["status"], row["escalation_level"]) == ("overdue", 0)
        # Wednesday 9th: two business days late → level 1, the service delivery manager.
        row = await check_at(datetime(2026, 12, 9, 15, tzinfo=UTC))
        assert (row["status"], row["escalation_level"], row["escalated_to"]) == (
            "escalated",
            1,
            "service_delivery_manager",
        )
        await check_at(datetime(2026, 12, 10, 15, tzinfo=UTC))  # three late: nothing new
        # Friday 11th: four business days late → level 2, the account executive.
        row = await check_at(datetime(2026, 12, 11, 15, tzinfo=UTC))
        assert (row["escalation_level"], row["escalated_to"]) == (2, "account_executive")
        # No level beyond the contract's last.
        assert (await check_at(datetime(2026, 12, 31, 15, tzinfo=UTC)))["escalation_level"] == 2

        transitions = await kafka.wait_for(
            lambda e: (
                e.data.get("obligation_id") == december["id"] and e.type != "obligation.created"
            ),
            count=4,
        )
        alerts = await kafka.wait_for(
            lambda e: e.type == "alert.raised" and e.subject == str(cid), count=2
        )

    assert [(e.type, e.data["status"], e.data["escalation_level"]) for e in transitions] == [
        ("obligation.due_soon", "open", 0),
        ("obligation.overdue", "overdue", 0),
        ("obligation.escalated", "escalated", 1),
        ("obligation.escalated", "escalated", 2),
    ]
    assert [e.data["escalated_to"] for e in transitions[2:]] == [
        "service_delivery_manager",
        "account_executive",
    ]
    # One alert per escalation level (obligation.overdue alerts are off by default).
    assert sorted(a.data["source_event_type"] for a in alerts) == ["obligation.escalated"] * 2
    history = (await tracker.client.get(f"/obligations/{december['id']}/history")).json()["items"]
    assert [(h["action"], h["to_status"]) for h in history] == [
        ("created", "open"),
        ("due_soon", "open"),
        ("overdue", "overdue"),
        ("escalated", "escalated"),
        ("escalated", "escalated"),
    ]
    assert [h["event_id"] for h in history[1:]] == [e.id for e in transitions]


async def test_fulfilment_needs_evidence_when_required_and_happens_once(
    tracker: Any, make_terms: Any, kafka_bootstrap: str
) -> None:
    cid = uuid.uuid4()
    await tracker.activate(make_terms(cid))
    december = (await tracker.obligations(cid))[0]
    url = f"/obligations/{december['id']}/fulfil"

    missing = await tracker.client.post(url, json={"by": "j.doe"})
    assert missing.status_code == 422
    assert missing.json()["error"]["details"][0]["loc"] == "body.evidence"
    empty = await tracker.client.post(url, json={"by": "j.doe", "evidence": {}})
    assert empty.status_code == 422
    bad_sum = await tracker.client.post(
        url, json={"by": "j.doe", "evidence": {"document_sha256": "abc"}}
    )
    assert bad_sum.status_code == 422
    assert bad_sum.json()["error"]["details"][0]["loc"] == "body.evidence.document_sha256"

    checksum = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
    body = {
        "by": "j.doe",
        "evidence": {"note": "Sent to the customer", "document_sha256": checksum},
    }
    async with EventCollector(kafka_bootstrap, ["obligations.v1"]) as kafka:
        done = await tracker.client.post(url, json=body, headers={"Idempotency-Key": "f-1"})
        again = await tracker.client.post(url, json=body, headers={"Idempotency-Key": "f-1"})
        [event] = await kafka.wait_for(
            lambda e: e.type == "obligation.fulfilled" and e.data["obligation_id"] == december["id"]
        )
    assert done.status_code == 200, done.text
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    fulfilled = done.json()
    assert fulfilled["status"] == "fulfilled" and fulfilled["resolved_by"] == "j.doe"
    assert fulfilled["evidence"] == {
        "note": "Sent to the customer",
        "document_sha256": checksum.lower(),
    }
    assert event.data["evidence"] == fulfilled["evidence"] and event.data["by"] == "j.doe"
    twice = await tracker.client.post(url, json=body)
    assert twice.status_code == 409
    waive_after = await tracker.client.post(
        f"/obligations/{december['id']}/waive", json={"by": "a.lee", "reason": "too late"}
    )
    assert waive_after.status_code == 409


async def test_a_waiver_records_the_reason_and_who_waived(
    tracker: Any, make_terms: Any, kafka_bootstrap: str
) -> None:
    cid = uuid.uuid4()
    await tracker.activate(make_terms(cid))
    january = (await tracker.obligations(cid))[1]
    url = f"/obligations/{january['id']}/waive"
    assert (await tracker.client.post(url, json={"by": "a.lee"})).json()["error"]["details"][0][
        "loc"
    ] == "body.reason"
    async with EventCollector(kafka_bootstrap, ["obligations.v1"]) as kafka:
        resp = await tracker.client.post(
            url, json={"by": "a.lee@acme.example", "reason": "Agreed at the November review"}
        )
        [event] = await kafka.wait_for(
            lambda e: e.type == "obligation.waived" and e.data["obligation_id"] == january["id"]
        )
    assert resp.status_code == 200, resp.text
    assert (resp.json()["status"], resp.json()["reason"]) == (
        "waived",
        "Agreed at the November review",
    )
    assert (event.data["from_status"], event.data["status"], event.data["by"]) == (
        "open",
        "waived",
        "a.lee@acme.example",
    )
    history = (await tracker.client.get(f"/obligations/{january['id']}/history")).json()["items"]
    assert history[-1]["action"] == "waived" and history[-1]["reason"].startswith("Agreed")


async def test_read_apis_by_owner_due_soon_overdue_and_contract(
    tracker: Any, make_terms: Any
) -> None:
    cid = uuid.uuid4()
    await tracker.activate(make_terms(cid))
    dec, jan, feb, _mar = await tracker.obligations(cid)
    for o in (jan, feb):
        resp = await tracker.client.patch(f"/obligations/{o['id']}", json={"owner": "j.doe"})
        assert resp.status_code == 200

    mine = (await tracker.client.get("/owners/j.doe/obligations")).json()["items"]
    assert [o["id"] for o in mine] == [jan["id"], feb["id"]]
    assert (await tracker.client.get("/obligations", params={"owner": "nobody"})).json()[
        "items"
    ] == []
    # Today is 7 December in New York: December's is due today, January's in 32 days.
    due = (await tracker.client.get("/obligations/due", params={"within_days": 31})).json()["items"]
    assert [o["id"] for o in due if o["contract_id"] == str(cid)] == [dec["id"]]
    due = (await tracker.client.get("/obligations/due", params={"within_days": 32})).json()["items"]
    assert [o["id"] for o in due if o["contract_id"] == str(cid)] == [dec["id"], jan["id"]]
    mine = {"contract_id": str(cid)}
    assert (await tracker.client.get("/obligations/overdue", params=mine)).json()["items"] == []
    # Past due but before any periodic check: still reported overdue.
    tracker.clock.set(datetime(2026, 12, 9, 15, tzinfo=UTC))
    overdue = (await tracker.client.get("/obligations/overdue", params=mine)).json()["items"]
    assert [o["id"] for o in overdue] == [dec["id"]]
    assert (
        await tracker.client.get("/obligations", params={"contract_id": str(cid), "status": "open"})
    ).json()["items"][0]["id"] == dec["id"]
    other_tenant = await tracker.client.get(
        f"/contracts/{cid}/obligations", headers={"X-Tenant-Id": "globex"}
    )
    assert other_tenant.json()["items"] == []
    assert (
        await tracker.client.get(f"/obligations/{dec['id']}", headers={"X-Tenant-Id": "globex"})
    ).status_code == 404


async def test_the_icalendar_feed_holds_the_owners_open_obligations(
    tracker: Any, make_terms: Any
) -> None:
    cid = uuid.uuid4()
    await tracker.activate(make_terms(cid))
    dec, jan, feb, mar = await tracker.obligations(cid)
    for o in (dec, jan, feb):
        await tracker.client.patch(
            f"/obligations/{o['id']}", json={"owner": "j.doe@globex.example"}
        )
    await tracker.client.post(
        f"/obligations/{feb['id']}/waive", json={"by": "a.lee", "reason": "merged into March"}
    )

    resp = await tracker.client.get(
        "/owners/j.doe@globex.example/calendar.ics", headers={"X-Tenant-Id": "acme-bank"}
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/calendar")
    events = list(Calendar.from_ical(resp.content).walk("VEVENT"))
    assert sorted(str(e["X-CRM-OBLIGATION-ID"]) for e in events) == sorted([dec["id"], jan["id"]])
    assert {e.decoded("DTSTART").isoformat() for e in events} == {"2026-12-07", "2027-01-08"}
    assert all("Monthly service report" in str(e["SUMMARY"]) for e in events)

    # With its role, the feed adds the unassigned obligations of that role too.
    with_role = await tracker.client.get(
        "/owners/j.doe@globex.example/calendar.ics",
        params={"role": "service_delivery_manager"},
    )
    ids = {
        str(e["X-CRM-OBLIGATION-ID"]) for e in Calendar.from_ical(with_role.content).walk("VEVENT")
    }
    assert ids == {dec["id"], jan["id"], mar["id"]}
    other = await tracker.client.get(
        "/owners/j.doe@globex.example/calendar.ics", headers={"X-Tenant-Id": "globex"}
    )
    assert list(Calendar.from_ical(other.content).walk("VEVENT")) == []


async def test_the_check_reaches_every_obligation_however_many_are_stuck_at_the_top(
    tracker: Any, make_terms: Any, monkeypatch: Any
) -> None:
    from obligation_tracker.obligations import checks

    monkeypatch.setattr(checks, "BATCH", 1)  # one row per batch: pages through them all
    cid = uuid.uuid4()
    await tracker.activate(make_terms(cid, escalation={"delay_business_days": 1, "levels": ["x"]}))
    tracker.clock.set(datetime(2027, 6, 1, 15, tzinfo=UTC))
    await tracker.run(CHECK_JOB, check_obligations)
    rows = await tracker.obligations(cid)
    assert [(r["status"], r["escalation_level"]) for r in rows] == [("escalated", 1)] * 4
