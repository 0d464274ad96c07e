"""Strict telemetry: a timestamp is an ISO 8601 date-time with a UTC offset (never a number),
a measurement an exact decimal string, a revision an integer; the batch is refused whole
and every refusal names its item and field."""

from __future__ import annotations

import orjson
from sla_harness import Harness

from crm_testing.apps import refusals


async def test_numbers_as_timestamps_and_lax_decimals_are_refused_by_item_and_field(
    harness: Harness,
) -> None:
    found = refusals(
        await harness.post(
            {"started_at": 0, "ended_at": "2026-03-14T08:00:00Z"},
            {"started_at": "1700000000", "ended_at": "2026-03-14T08:00:00Z"},
            {"started_at": "2026-03-14", "ended_at": "2026-03-14T08:00:00+01:00"},
            {
                "kind": "measurement",
                "measured_at": "2026-03-14T08:00:00Z",
                "value": "1e3",
                "unit": "ms",
            },
            {
                "kind": "measurement",
                "measured_at": "2026-03-14T08:00:00Z",
                "value": " 5 ",
                "unit": "ms",
            },
            {
                "kind": "incident",
                "ticket_id": "INC1",
                "revision": "3",
                "priority": "P1",
                "opened_at": "2026-03-03T10:00:00Z",
            },
            {
                "kind": "incident",
                "ticket_id": "INC2",
                "revision": 3.0,
                "priority": "P1",
                "opened_at": "2026-03-03T10:00:00Z",
            },
        )
    )
    assert set(found) == {
        "body.items[0].started_at",
        "body.items[1].started_at",
        "body.items[2].started_at",
        "body.items[3].value",
        "body.items[4].value",
        "body.items[5].revision",
        "body.items[6].revision",
    }, found
    assert "ISO 8601 date-time with a UTC offset" in found["body.items[0].started_at"]
    assert "^-?\\d+(\\.\\d+)?$" in found["body.items[3].value"]
    avail = (await harness.client.get(harness.url("AVAIL-CORE"))).json()
    assert avail["outcome"] == "no_data"  # nothing of the batch was stored


async def test_ndjson_names_the_line_and_field_of_a_lax_value(harness: Harness) -> None:
    lines = [
        {
            "kind": "sample",
            "service_key": harness.service_key,
            "observed_at": 1773482400,
            "status": "up",
        },
        {
            "kind": "measurement",
            "service_key": harness.service_key,
            "measured_at": "2026-03-14T08:00:00Z",
            "value": "1_000",
            "unit": "ms",
        },
    ]
    rejected = await harness.client.post(
        "/telemetry/ndjson?tenant_id=acme-bank",
        content=b"\n".join(orjson.dumps(line) for line in lines),
        headers={"content-type": "application/x-ndjson"},
    )
    found = refusals(rejected)
    assert set(found) == {"line[1].observed_at", "line[2].value"}, found


async def test_a_maintenance_window_and_the_history_length_are_read_strictly(
    harness: Harness,
) -> None:
    base = f"/contracts/{harness.contract_id}"
    found = refusals(
        await harness.client.post(
            f"{base}/maintenance-windows",
            json={
                "start": 0,
                "end": "2026-03-14T08:00:00",
                "reason": "storage firmware",
                "approved_by": "J. Smith",
            },
        )
    )
    assert set(found) == {"body.start", "body.end"}, found
    assert "UTC offset" in found["body.end"]
    for lax in ("12.0", " 12", "1_2"):
        history = await harness.client.get(f"{base}/slas/AVAIL-CORE/periods", params={"last": lax})
        assert set(refusals(history)) == {"query.last"}, lax
    assert (
        await harness.client.get(f"{base}/slas/AVAIL-CORE/periods", params={"last": "2"})
    ).status_code == 200
