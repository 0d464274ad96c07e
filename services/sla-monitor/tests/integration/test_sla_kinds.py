"""Service hours, small samples and measurement statistics through the API, and the early
warnings of incident and measurement SLAs."""

import uuid
from typing import Any

import httpx
from sla_harness import Harness, sla_with


async def _get(client: httpx.AsyncClient, cid: uuid.UUID, sla: str) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get(f"/contracts/{cid}/slas/{sla}/periods/2026-03")).json()
    return body


async def test_service_hours_and_holidays_shape_the_measured_period(
    harness: Harness, kafka_bootstrap: str
) -> None:
    avail = sla_with(
        harness.terms.sla_definitions[0],
        service_key=f"weekday-{uuid.uuid4().hex[:6]}",
        maintenance_windows={"weekly": [], "fixed": []},
        service_hours={
            "weekdays": [0, 1, 2, 3, 4],
            "start": "08:00",
            "end": "18:00",
            "exclude_holidays": True,
        },
    )
    cid = await harness.activate(kafka_bootstrap, sla_definitions=[avail], holidays=["2026-03-16"])
    # 17:00-20:00 New York on Tuesday 10 March (EDT): one hour inside service hours.
    await harness.client.post(
        "/telemetry",
        json={
            "tenant_id": "acme-bank",
            "items": [
                {
                    "service_key": avail.service_key,
                    "started_at": "2026-03-10T21:00:00Z",
                    "ended_at": "2026-03-11T00:00:00Z",
                }
            ],
        },
    )
    body = await _get(harness.client, cid, "AVAIL-CORE")
    assert body["figures"] == {
        "period_minutes": "44580",
        "excluded_minutes": "31980",  # 44,580 − 21 weekdays × 600 minutes
        "downtime_minutes": "60",
    }
    assert body["attainment"] == "99.5238"
    explanation = (
        await harness.client.get(f"/contracts/{cid}/slas/AVAIL-CORE/periods/2026-03/explanation")
    ).json()
    assert explanation["detail"]["outside_service_hours_minutes"] == "31980"
    assert explanation["detail"]["reported_downtime_minutes"] == "180"


async def test_small_sample_rule_and_mean_measurements(
    harness: Harness, kafka_bootstrap: str
) -> None:
    key = f"small-{uuid.uuid4().hex[:6]}"
    base = harness.terms.sla_definitions
    p1 = sla_with(
        base[1], service_key=key, small_sample={"minimum_sample": 20, "allowed_misses": 1}
    )
    mean = sla_with(base[2], service_key=key, statistic="mean", percentile=None)
    avail = sla_with(base[0], service_key=key)
    cid = await harness.activate(kafka_bootstrap, sla_definitions=[avail, p1, mean])
    items = (
        [
            {
                "kind": "incident",
                "service_key": key,
                "ticket_id": f"T{i}",
                "priority": "P1",
                "opened_at": "2026-03-05T10:00:00Z",
                "resolved_at": "2026-03-05T13:00:00Z" if i else "2026-03-05T15:00:01Z",
            }
            for i in range(3)
        ]
        + [
            {
                "kind": "measurement",
                "service_key": key,
                "measured_at": f"2026-03-05T10:0{i}:00Z",
                "value": v,
                "unit": "ms",
            }
            for i, v in enumerate(["100", "200", "350.5"])
        ]
        + [
            {
                "kind": "measurement",
                "service_key": key,
                "measured_at": "2026-03-05T10:09:00Z",
                "value": "9999",
                "unit": "s",
            }  # another unit: not this SLA's
        ]
    )
    r = await harness.client.post("/telemetry", json={"tenant_id": "acme-bank", "items": items})
    assert r.status_code == 202, r.text
    p1_body = await _get(harness.client, cid, "P1-RES")
    # 2 of 3 within 4 h = 66.6667%, but 3 < 20 incidents: 1 miss ≤ 1 allowed → met.
    assert (p1_body["attainment"], p1_body["outcome"]) == ("66.6667", "met")
    assert p1_body["incident_figures"]["small_sample_applied"] is True
    assert p1_body["incident_figures"]["missed_ticket_ids"] == ["T0"]
    lat = await _get(harness.client, cid, "LAT-P95")
    # (100 + 200 + 350.5) / 3 = 216.8333… ms, expected ≤ 300 → met.
    assert (lat["attainment"], lat["outcome"]) == ("216.8333", "met")
    assert lat["measurement_figures"]["values"] == 3


async def test_incident_and_measurement_slas_warn_once_when_the_figures_would_miss(
    harness: Harness,
) -> None:
    misses = [
        {
            "kind": "incident",
            "ticket_id": f"LATE{i}",
            "priority": "P1",
            "opened_at": "2026-03-01T10:00:00Z",
            "resolved_at": "2026-03-01T18:00:00Z",
        }
        for i in range(2)
    ]
    slow = [
        {"kind": "measurement", "measured_at": "2026-03-01T10:00:00Z", "value": "800", "unit": "ms"}
    ]
    await harness.post(*misses, *slow)
    await harness.post({**misses[0], "ticket_id": "LATE9"})
    warnings = await harness.wait_for("sla.at_risk", count=2)
    assert sorted(w.data["sla_code"] for w in warnings) == ["LAT-P95", "P1-RES"]
    assert not harness.events("sla.breached")
    assert len(harness.events("sla.at_risk")) == 2
