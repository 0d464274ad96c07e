"""Telemetry of every kind over HTTP (JSON and NDJSON) and Kafka: validated whole, stored
once, reflected in attainment."""

import asyncio
import uuid
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from sla_harness import Harness

from crm_events.envelope import Envelope
from crm_events.registry import spec_for
from crm_events.schemas.telemetry import TelemetryRecorded
from crm_events.topics import physical
from crm_testing.kafka import make_event, publish_envelope, wait_until

OUTAGE = {"started_at": "2026-03-14T03:00:00Z", "ended_at": "2026-03-14T08:00:00Z"}


async def test_every_kind_is_stored_once_and_duplicates_change_nothing(harness: Harness) -> None:
    items: list[dict[str, Any]] = [
        OUTAGE,
        {"kind": "sample", "observed_at": "2026-03-20T10:00:00Z", "status": "down"},
        {"kind": "sample", "observed_at": "2026-03-20T10:30:00Z", "status": "up"},
        {
            "kind": "incident",
            "ticket_id": "INC1",
            "revision": 1,
            "priority": "P1",
            "opened_at": "2026-03-03T10:00:00Z",
            "resolved_at": "2026-03-03T13:00:00Z",
        },
        {
            "kind": "measurement",
            "measured_at": "2026-03-03T10:00:00Z",
            "value": "250",
            "unit": "ms",
        },
    ]
    first = await harness.post(*items)
    assert first.status_code == 202, first.text
    assert first.json()["accepted"] == 5
    assert first.json()["by_kind"]["sample"] == {"accepted": 2, "duplicates": 0}
    again = await harness.post(*items)
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 5)

    avail = (await harness.client.get(harness.url("AVAIL-CORE"))).json()
    # 240 minutes outside the maintenance window + 30 minutes of down samples.
    assert avail["figures"]["downtime_minutes"] == "270"
    assert avail["attainment"] == "99.3935"  # (44,520 − 270) / 44,520
    card = (await harness.client.get(f"/contracts/{harness.contract_id}/scorecard/2026-03")).json()
    by_code = {line["sla_code"]: line for line in card["slas"]}
    assert by_code["P1-RES"]["attainment"] == "100.0000"
    assert by_code["LAT-P95"]["attainment"] == "250.0000"
    assert card["summary"]["failed"] == 1


async def test_an_invalid_batch_is_rejected_whole_listing_every_item(harness: Harness) -> None:
    bad = await harness.post(
        OUTAGE,
        {"started_at": "2026-03-14T08:00:00Z", "ended_at": "2026-03-14T07:00:00Z"},
        {"kind": "sample", "observed_at": "2026-03-14T08:00:00", "status": "up"},
        {"kind": "measurement", "measured_at": "2026-03-14T08:00:00Z", "value": 1.5, "unit": "ms"},
        {"kind": "teleport"},
    )
    assert bad.status_code == 422
    locs = [d["loc"] for d in bad.json()["error"]["details"]]
    assert locs == [
        "body.items[1].ended_at",
        "body.items[2].observed_at",
        "body.items[3].value",
        "body.items[4]",
    ]
    avail = (await harness.client.get(harness.url("AVAIL-CORE"))).json()
    assert avail["outcome"] == "no_data"  # the valid outage was not stored either


async def test_too_many_items_and_bad_json_are_clear_422s(harness: Harness) -> None:
    many = await harness.post(*[OUTAGE] * 10_001)
    assert many.status_code == 422
    assert many.json()["error"]["details"][0]["loc"] == "body.items"
    broken = await harness.client.post(
        "/telemetry", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert (broken.status_code, broken.json()["error"]["details"][0]["loc"]) == (422, "body")


async def test_ndjson_stream_is_stored_whole_or_rejected_with_line_numbers(
    harness: Harness,
) -> None:
    key = harness.service_key
    lines = [
        {
            "kind": "sample",
            "service_key": key,
            "observed_at": f"2026-03-05T10:{m:02d}:00Z",
            "status": "down" if m < 10 else "up",
        }
        for m in range(0, 20)
    ]
    body = b"\n".join(orjson.dumps(line) for line in lines) + b"\n\n"
    url = "/telemetry/ndjson?tenant_id=acme-bank"
    headers = {"content-type": "application/x-ndjson", "Idempotency-Key": "nd-1"}
    ok = await harness.client.post(url, content=body, headers=headers)
    assert ok.status_code == 202, ok.text
    assert ok.json()["accepted"] == 20
    replay = await harness.client.post(url, content=body, headers=headers)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == ok.json()
    reused = await harness.client.post(url, content=body + b"\n", headers=headers)
    assert reused.status_code == 422

    avail = (await harness.client.get(harness.url("AVAIL-CORE"))).json()
    assert avail["figures"]["downtime_minutes"] == "10"

    broken = body + b'{"kind": "sample"}\nnot json\n'
    rejected = await harness.client.post(
        url, content=broken, headers={"content-type": "application/x-ndjson"}
    )
    assert rejected.status_code == 422
    locs = [d["loc"] for d in rejected.json()["error"]["details"]]
    assert locs[0] == "line[23]"  # not JSON (line 21 is blank)
    assert "line[22].service_key" in locs


async def test_telemetry_recorded_on_kafka_takes_the_same_path(
    harness: Harness, kafka_bootstrap: str
) -> None:
    event = make_event(
        "telemetry.recorded",
        subject=harness.service_key,
        data=TelemetryRecorded.model_validate(
            {"items": [{"service_key": harness.service_key, **OUTAGE}]}
        ),
    )
    await publish_envelope(kafka_bootstrap, event)
    await publish_envelope(kafka_bootstrap, event)  # redelivered: the inbox drops it

    async def reflected() -> bool:
        body = (await harness.client.get(harness.url("AVAIL-CORE"))).json()
        return body["attainment"] == "99.4609"

    await wait_until(reflected, message="outage from telemetry.v1 reflected")
    await asyncio.sleep(0.5)
    assert (await harness.client.get(harness.url("AVAIL-CORE"))).json()["figures"][
        "downtime_minutes"
    ] == "240"


async def publish_together(bootstrap: str, envelopes: list[Envelope]) -> None:
    """Send the envelopes with one producer and wait once, so the consumer can fetch them
    as one chunk (publish_envelope starts a producer per event)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for e in envelopes:
            topic = physical(spec_for(e.type).topic.value)
            await producer.send(topic, e.to_bytes(), key=e.key, headers=e.kafka_headers())
        await producer.flush()
    finally:
        await producer.stop()


async def test_a_run_of_telemetry_messages_is_ingested_whole_per_tenant(
    harness: Harness, kafka_bootstrap: str
) -> None:
    """Messages fetched together go through one ingest per tenant: every outage of the run
    counts once for its own tenant, a redelivered one not again, another tenant's items
    under the same service key not at all."""

    def message(second: int, tenant: str = "acme-bank") -> Any:
        start = f"2026-03-14T03:00:{second:02d}Z"
        end = f"2026-03-14T03:00:{second + 1:02d}Z"
        return make_event(
            "telemetry.recorded",
            subject=harness.service_key,
            data=TelemetryRecorded.model_validate(
                {
                    "items": [
                        {"service_key": harness.service_key, "started_at": start, "ended_at": end}
                    ]
                }
            ),
            tenant=tenant,
        )

    run = [message(2 * n) for n in range(12)]
    run.insert(5, message(40, tenant="globex"))  # not acme's: another tenant's service key
    run.append(run[3])  # the same event again in the run
    await publish_together(kafka_bootstrap, run)

    async def reflected() -> bool:
        body = (await harness.client.get(harness.url("AVAIL-CORE"))).json()
        return body["figures"]["downtime_minutes"] == "0.2000"  # 12 seconds

    await wait_until(reflected, message="a run of telemetry.v1 messages reflected")
    await asyncio.sleep(0.5)
    body = (await harness.client.get(harness.url("AVAIL-CORE"))).json()
    assert body["figures"]["downtime_minutes"] == "0.2000"
    assert len(body["counted_downtime"]) == 12


async def test_another_tenant_cannot_post_for_or_read_the_contract(harness: Harness) -> None:
    other = await harness.client.post(
        "/telemetry",
        json={"tenant_id": "acme-bank", "items": [{"service_key": "x", **OUTAGE}]},
        headers={"X-Tenant-Id": "globex"},
    )
    assert other.status_code == 422
    hidden = await harness.client.get(harness.url("AVAIL-CORE"), headers={"X-Tenant-Id": "x"})
    assert hidden.status_code == 404
    assert uuid.UUID(str(harness.contract_id))
