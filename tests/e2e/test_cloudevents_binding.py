"""Our Kafka messages, read the way an integrator reads them: with the CNCF CloudEvents
SDK's Kafka binding, which picks the content mode from the headers.

The worked example runs through the four processes; an ERP posts consumption to Kafka as a
structured CloudEvent and a monitoring system posts telemetry as a binary one (both made by
the SDK). Then every message of every topic (and DLQ) that belongs to the test's contract
is read from the start: each parses with `from_kafka_event`, in structured mode (the
`content-type` header, no `ce_` headers), with the Kafka key as the subject, and its
`dataschema` is a URI that resolves to the JSON Schema its data satisfies.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jsonschema_rs
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent

from crm_events.kafka import make_producer
from crm_events.topics import all_topics, physical
from crm_testing import examples
from crm_testing.auth import ADMIN_HEADERS
from crm_testing.chain import activate_contract
from crm_testing.kafka import EventCollector, wait_until
from crm_testing.stack import Stack

WANTED = {
    "contracts.v1": "contract.activated",
    "consumption.v1": "consumption.recorded",
    "telemetry.v1": "telemetry.recorded",
    "sla.v1": "sla.period_closed",
    "billing.v1": "billing.credit_calculated",
    "obligations.v1": "obligation.created",
    "alerts.v1": "alert.raised",
}


async def _produce(bootstrap: str, topic: str, message: ce_kafka.KafkaMessage) -> None:
    producer = make_producer(bootstrap, client_id="integrator")
    await producer.start()
    try:
        key = message.key.encode() if isinstance(message.key, str) else message.key
        await producer.send_and_wait(
            physical(topic), message.value, key=key, headers=list(message.headers.items())
        )
    finally:
        await producer.stop()


def _sdk_event(event_type: str, subject: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent(
        attributes={
            "id": str(uuid.uuid4()),
            "source": "urn:integrator:test",
            "type": event_type,
            "subject": subject,
            "dataschema": f"{event_type}@1",
            "datacontenttype": "application/json",
            "tenant": "acme-bank",
            "correlationid": f"integrator-{subject}",
            "partitionkey": subject,
        },
        data=data,
    )


async def _read_everything(bootstrap: str, keys: set[bytes]) -> list[Any]:
    """Every record of every topic and DLQ whose key is one of `keys`, from the start."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(all_topics())
    finally:
        await admin.close()
    tps = [
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if not t["error_code"]
        for p in t["partitions"]
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        found = []
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                found += [r for r in records if r.offset < end[tp] and r.key in keys]
                if records and records[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        return found
    finally:
        await consumer.stop()


async def test_every_message_parses_with_the_cloudevents_sdk_kafka_binding(
    stack: Stack, kafka_bootstrap: str
) -> None:
    sla, billing = stack.url("sla-monitor"), stack.url("billing-reconciler")
    doc = examples.contract_document()
    key = doc["sla_definitions"][0]["service_key"]
    async with (
        httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http,
        EventCollector(kafka_bootstrap, ["billing.v1", "alerts.v1", "obligations.v1"]) as events,
    ):
        cid = await activate_contract(http, stack, doc)
        consumption = _sdk_event(
            "consumption.recorded",
            cid,
            {"items": examples.consumption_items(cid)},
        )
        await _produce(kafka_bootstrap, "consumption.v1", ce_kafka.to_structured_event(consumption))
        telemetry = _sdk_event(
            "telemetry.recorded", key, {"items": [{"service_key": key, **examples.OUTAGE}]}
        )
        await _produce(kafka_bootstrap, "telemetry.v1", ce_kafka.to_binary_event(telemetry))

        async def outage_stored() -> bool:
            live = await http.get(f"{sla}/contracts/{cid}/slas/AVAIL-CORE/periods/2026-03")
            return live.json().get("figures", {}).get("downtime_minutes") == "240"

        await wait_until(outage_stored, timeout=60, message="the binary-mode telemetry stored")
        closed = await http.post(f"{sla}/contracts/{cid}/slas/AVAIL-CORE/periods/2026-03/close")
        assert closed.status_code == 200, closed.text
        # The structured-mode consumption reached billing: the credit is the worked example's.
        [credit] = await events.wait_for(
            lambda e: e.type == "billing.credit_calculated" and e.subject == cid, timeout=60
        )
        assert credit.data["credit_amount"] == "4414.08"
        await events.wait_for(lambda e: e.type == "alert.raised" and e.subject == cid)
        await events.wait_for(lambda e: e.type == "obligation.created" and e.subject == cid)
        credits = await http.get(f"{billing}/contracts/{cid}/credits")
        assert credits.json()["items"][0]["credit_amount"] == "4414.08"

        records = await _read_everything(kafka_bootstrap, {cid.encode(), key.encode()})
        by_type: dict[str, int] = {}
        schemas: dict[str, Any] = {}
        for record in records:
            headers = {k: v for k, v in (record.headers or [])}
            message = ce_kafka.KafkaMessage(headers=headers, key=record.key, value=record.value)
            event = ce_kafka.from_kafka_event(message)  # auto-detects the content mode
            by_type[event.get_type()] = by_type.get(event.get_type(), 0) + 1
            if event.get_source() == "urn:integrator:test":
                continue  # the two messages the integrator produced, in either mode
            assert not [h for h in headers if h.lower().startswith("ce_")], headers
            assert headers["content-type"].startswith(b"application/cloudevents+json")
            assert event.get_extension("partitionkey") == event.get_subject()
            uri = event.get_dataschema()
            assert uri is not None and uri.startswith("http://"), uri
            if uri not in schemas:
                fetched = await http.get(uri)
                assert fetched.status_code == 200, (uri, fetched.text)
                schemas[uri] = jsonschema_rs.validator_for(fetched.json())
            assert [e.message for e in schemas[uri].iter_errors(event.get_data())] == []
        for topic, event_type in WANTED.items():
            assert by_type.get(event_type, 0) >= 1, (topic, event_type, by_type)
        envelope = await http.get(f"{sla}/schemas/events/envelope.json")
        assert envelope.status_code == 200
        assert {"specversion", "dataschema", "data"} <= set(envelope.json()["properties"])
