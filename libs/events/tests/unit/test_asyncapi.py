"""The AsyncAPI document is generated from the catalog: the committed one is current, every
event type is a message on its topic's channel, and a service's document holds its own
channels only."""

import json
from pathlib import Path

from crm_events import asyncapi
from crm_events.registry import REGISTRY
from crm_events.topics import Topic

COMMITTED = Path(__file__).resolve().parents[4] / "docs" / "asyncapi.json"


def test_the_committed_document_is_current() -> None:
    assert COMMITTED.read_text() == asyncapi.render(), (
        "docs/asyncapi.json is stale: uv run crm-events asyncapi > docs/asyncapi.json"
    )


def test_every_event_type_is_a_message_of_its_topics_channel_and_dlq() -> None:
    doc = asyncapi.document()
    for spec in REGISTRY.values():
        message = doc["components"]["messages"][spec.type.replace(".", "_")]
        assert message["name"] == spec.type
        channel = doc["channels"][spec.topic.value.replace(".", "_")]
        assert spec.type.replace(".", "_") in channel["messages"]
        assert channel["bindings"]["kafka"]["topic"] == spec.topic.value
        data = message["payload"]["allOf"][1]["properties"]["data"]["$ref"]
        assert data.removeprefix("#/components/schemas/") in doc["components"]["schemas"]
    consumed = {t for topics in asyncapi.CONSUMED_BY.values() for t in topics}
    assert {c["address"] for c in doc["channels"].values()} == {t.value for t in Topic} | {
        t.dlq for t in consumed
    }
    assert "$defs" not in json.dumps(doc)  # every reference resolves from the document root


def test_a_services_document_holds_its_own_channels() -> None:
    doc = asyncapi.document("billing-reconciler")
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {
        "billing.v1",
        "audit.v1",
        "contracts.v1",
        "contracts.v1.dlq",
        "consumption.v1",
        "consumption.v1.dlq",
        "sla.v1",
        "sla.v1.dlq",
        "access.v1",
        "access.v1.dlq",
    }
    assert doc["operations"]["send_billing_v1"]["action"] == "send"
    assert doc["operations"]["send_audit_v1"]["action"] == "send"
    assert doc["operations"]["receive_sla_v1"]["action"] == "receive"
    assert "obligation_created" not in doc["components"]["messages"]
