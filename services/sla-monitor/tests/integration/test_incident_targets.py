"""Incident targets in business hours and business days of the service calendar, and
priorities matched whatever their letter case (docs/sla-monitor.md's worked example)."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sla_harness import Harness, sla_with

SERVICE_HOURS = {
    "weekdays": [0, 1, 2, 3, 4],
    "start": "08:00",
    "end": "18:00",
    "exclude_holidays": True,
}


def _incident(ticket: str, priority: str, opened: str, resolved: str) -> dict[str, Any]:
    return {
        "kind": "incident",
        "ticket_id": ticket,
        "revision": 1,
        "priority": priority,
        "opened_at": opened,
        "resolved_at": resolved,
    }


INCIDENTS = [
    # P1 in 4 business hours (both letter cases, as ITSM feeds send them).
    _incident("BH-1", "P1", "2026-03-06T22:00:00Z", "2026-03-09T14:30:00Z"),  # 60 + 150
    _incident("BH-2", "p1", "2026-03-13T21:00:00Z", "2026-03-17T14:00:00Z"),  # holiday: 180
    _incident("BH-3", "P1", "2026-03-18T13:00:00Z", "2026-03-18T17:30:00Z"),  # 270: missed
    _incident("BH-4", "p1", "2026-03-21T14:00:00Z", "2026-03-23T15:00:00Z"),  # weekend: 180
    # P3 in 3 business days (1,800 business minutes); the SLA says "p3".
    _incident("P3-A", "P3", "2026-03-09T21:00:00Z", "2026-03-12T21:00:00Z"),  # 1,800
    _incident("P3-B", "P3", "2026-03-12T16:00:00Z", "2026-03-18T16:00:00Z"),  # 1,800
    _incident("P3-C", "p3", "2026-03-23T12:00:00Z", "2026-03-26T12:01:00Z"),  # 1,801: missed
    # Another priority counts for neither.
    _incident("P2-X", "P2", "2026-03-18T13:00:00Z", "2026-03-18T23:00:00Z"),
]


async def _contract(harness: Harness, kafka_bootstrap: str) -> tuple[uuid.UUID, str]:
    key = f"itsm-{uuid.uuid4().hex[:6]}"
    p1 = sla_with(
        harness.terms.sla_definitions[1],
        code="P1-BH",
        service_key=key,
        target_clock="business_hours",
        target_minutes=240,
        service_hours=SERVICE_HOURS,
    )
    p3 = sla_with(
        p1,
        code="P3-BD",
        priority="p3",
        target_minutes=None,
        target_business_days=3,
        expected_level="60",
        minimum_level="50",
    )
    wall = sla_with(
        harness.terms.sla_definitions[1], code="P1-WALL", priority="p1", service_key=key
    )
    cid = await harness.activate(
        kafka_bootstrap, sla_definitions=[p1, p3, wall], holidays=["2026-03-16"]
    )
    return cid, key


async def test_business_hour_and_business_day_targets_count_only_service_time(
    harness: Harness, kafka_bootstrap: str
) -> None:
    cid, key = await _contract(harness, kafka_bootstrap)
    harness.clock.set(datetime(2026, 3, 27, tzinfo=UTC))
    batch = {"tenant_id": "acme-bank", "items": [{"service_key": key, **i} for i in INCIDENTS]}
    assert (await harness.client.post("/telemetry", json=batch)).status_code == 202

    url = f"/contracts/{cid}/slas/{{}}/periods/2026-03"
    p1 = (await harness.client.get(url.format("P1-BH"))).json()
    assert (p1["attainment"], p1["outcome"]) == ("75.0000", "failed")
    assert p1["incident_figures"] == {
        "priority": "P1",
        "target_minutes": 240,
        "target_clock": "business_hours",
        "target_business_days": None,
        "incidents": 4,
        "within_target": 3,
        "missed_ticket_ids": ["BH-3"],
        "small_sample_applied": False,
    }
    assert p1["explanation"] == (
        "3 of 4 P1 incidents resolved in 2026-03 were resolved within 240 business minutes "
        "(4 business hours) of 08:00–18:00 Mon–Fri (America/New_York), 1 holiday(s) closed "
        "= 75.0000% against expected 95 and minimum 90 → failed."
    )
    why = (await harness.client.get(url.format("P1-BH") + "/explanation")).json()
    assert why["detail"]["missed_incidents"] == [
        {"ticket_id": "BH-3", "minutes": "270.0000", "unit": "business minutes"}
    ]
    assert why["detail"]["target_clock"] == "business_hours"

    p3 = (await harness.client.get(url.format("P3-BD"))).json()
    assert (p3["attainment"], p3["outcome"]) == ("66.6667", "met")
    figures = p3["incident_figures"]
    assert (figures["target_minutes"], figures["target_business_days"]) == (1800, 3)
    assert (figures["incidents"], figures["missed_ticket_ids"]) == (3, ["P3-C"])

    # The same P1 incidents against 240 wall-clock minutes: all four missed; the SLA's
    # "p1" matches the feed's "P1" and "p1".
    wall = (await harness.client.get(url.format("P1-WALL"))).json()
    assert (wall["incident_figures"]["incidents"], wall["attainment"]) == (4, "0.0000")
    assert wall["incident_figures"]["target_clock"] == "wall_clock"

    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC))
    closed = await harness.client.post(url.format("P1-BH") + "/close")
    assert closed.status_code == 200, closed.text
    [event] = await harness.wait_for("sla.period_closed", contract_id=cid)
    assert event.data["incident_figures"]["target_clock"] == "business_hours"
    assert (event.data["attainment"], event.data["outcome"]) == ("75.0000", "failed")
