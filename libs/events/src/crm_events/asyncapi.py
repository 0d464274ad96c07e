"""The AsyncAPI 3.0 document of the event catalog: topics and their dead-letter topics as
channels, each event type as a message (the CloudEvents envelope with its payload schema,
the Kafka key and headers), and who sends and receives what.

`docs/asyncapi.json` is the whole system's (committed; a test regenerates it and the
official parser validates it); every service serves its own channels at `/asyncapi.json`.
Generated from the registry, so it cannot drift from what the services publish.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from crm_events.envelope import STRUCTURED_CONTENT_TYPE, Envelope
from crm_events.registry import REGISTRY, EventSpec
from crm_events.topics import DLQ_SUFFIX, Topic

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING = "0.5.0"
REF = "#/components/schemas/{model}"

# Who produces and who consumes each topic, by service. The services' own consumer
# definitions must agree (tests/api/test_asyncapi.py checks it).
PRODUCED_BY: dict[str, list[Topic]] = {
    "contract-registry": [Topic.CONTRACTS, Topic.ACCESS, Topic.AUDIT],
    "obligation-tracker": [Topic.OBLIGATIONS, Topic.ALERTS, Topic.AUDIT],
    "sla-monitor": [Topic.SLA, Topic.AUDIT],
    "billing-reconciler": [Topic.BILLING, Topic.AUDIT],
}
CONSUMED_BY: dict[str, list[Topic]] = {
    "contract-registry": [Topic.SLA, Topic.BILLING, Topic.OBLIGATIONS, Topic.ACCESS],
    "obligation-tracker": [Topic.CONTRACTS, Topic.SLA, Topic.BILLING, Topic.ACCESS],
    "sla-monitor": [Topic.CONTRACTS, Topic.TELEMETRY, Topic.ACCESS],
    "billing-reconciler": [Topic.CONTRACTS, Topic.CONSUMPTION, Topic.SLA, Topic.ACCESS],
}
EXTERNAL_PRODUCERS = {
    Topic.TELEMETRY: "monitoring and ITSM systems",
    Topic.CONSUMPTION: "ERP integrations",
}

DLQ_HEADERS = {
    "dlq.reason": "why: undecodable, unknown_type, invalid_payload or handler_rejected",
    "dlq.error.class": "the error's class",
    "dlq.error.message": "the error's message",
    "dlq.error.trace": "the end of the traceback",
    "dlq.consumer": "the consumer group that gave up",
    "dlq.original.topic": "where the message was",
    "dlq.original.partition": "its partition there",
    "dlq.original.offset": "its offset there",
    "dlq.attempts": "how many times it was tried",
    "dlq.failed_at": "when it was dead-lettered (ISO 8601)",
}


def document(service: str | None = None) -> dict[str, Any]:
    """The whole system's document, or one service's (its channels only)."""
    produced, consumed = _topics(service)
    specs = [s for s in REGISTRY.values() if s.topic in produced | consumed]
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in Topic:
        of_topic = [s for s in specs if s.topic is topic]
        if topic in produced or topic in consumed:
            channels[_id(topic.value)] = _channel(topic.value, of_topic, dead_letters=False)
        if topic in consumed:
            channels[_id(topic.dlq)] = _channel(topic.dlq, of_topic, dead_letters=True)
        if topic in produced:
            operations[_op("send", topic.value)] = _operation("send", topic.value, of_topic)
        if topic in consumed:
            operations[_op("receive", topic.value)] = _operation("receive", topic.value, of_topic)
            operations[_op("send", topic.dlq)] = _operation("send", topic.dlq, of_topic)
    messages = {_id(s.type): _message(s) for s in specs}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": _info(service),
        "defaultContentType": STRUCTURED_CONTENT_TYPE.split(";")[0],
        "servers": {
            "local": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "The local broker of `make up` (set CRM_TOPIC_NAMESPACE to "
                "prefix every topic: `<ns>.sla.v1`).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": _schemas(specs)},
    }


def render(service: str | None = None) -> str:
    return json.dumps(document(service), indent=2, sort_keys=False) + "\n"


def _topics(service: str | None) -> tuple[set[Topic], set[Topic]]:
    if service is None:
        produced = {t for topics in PRODUCED_BY.values() for t in topics}
        consumed = {t for topics in CONSUMED_BY.values() for t in topics}
        return produced, consumed
    if service not in PRODUCED_BY:
        raise ValueError(f"unknown service {service!r}; one of {sorted(PRODUCED_BY)}")
    return set(PRODUCED_BY[service]), set(CONSUMED_BY[service])


def _info(service: str | None) -> dict[str, Any]:
    whose = f"{service}'s channels" if service else "every topic of the system"
    return {
        "title": f"Contract relationship management events ({service or 'all services'})",
        "version": "1.0.0",
        "description": (
            f"The Kafka events of {whose}. Every message is a CloudEvents 1.0 event in the "
            "Kafka protocol binding's structured content mode: the value is the whole event "
            f"(JSON), the `content-type` header is `{STRUCTURED_CONTENT_TYPE}`, and the key "
            "is the event's `subject` (the contract id; the service key for telemetry), so "
            "one contract's events keep their order. `dataschema` is the URI of the payload's "
            "JSON Schema, served by every service at `/schemas/events/<type>@<version>.json`. "
            "Every topic has a dead-letter topic `<topic>.dlq` that keeps the original key, "
            "value and headers and adds `dlq.*` headers. Consumers deduplicate on `id`."
        ),
    }


def _id(name: str) -> str:
    """AsyncAPI component and channel keys may not contain dots."""
    return name.replace(".", "_")


def _op(action: str, topic: str) -> str:
    return f"{action}_{_id(topic)}"


def _channel(address: str, specs: list[EventSpec], *, dead_letters: bool) -> dict[str, Any]:
    topic = address.removesuffix(DLQ_SUFFIX)
    what = (
        f"Dead letters of `{topic}`: messages its consumers could not handle."
        if dead_letters
        else f"Events of `{topic}`, keyed by subject."
    )
    external = EXTERNAL_PRODUCERS.get(Topic(topic))
    if external and not dead_letters:
        what += f" Produced by {external} (directly, or through the service's HTTP API)."
    return {
        "address": address,
        "title": address,
        "description": what,
        "messages": {_id(s.type): {"$ref": f"#/components/messages/{_id(s.type)}"} for s in specs},
        "bindings": {"kafka": {"topic": address, "bindingVersion": KAFKA_BINDING}},
    }


def _operation(action: str, address: str, specs: list[EventSpec]) -> dict[str, Any]:
    channel = _id(address)
    topic = address.removesuffix(DLQ_SUFFIX)
    if address.endswith(DLQ_SUFFIX):
        summary = f"A consumer of `{topic}` dead-letters what it cannot handle."
    elif action == "send":
        summary = f"Publish to `{topic}`."
    else:
        summary = f"Consume `{topic}` (each service in a consumer group of its own)."
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{channel}/messages/{_id(s.type)}"} for s in specs],
    }


def _message(spec: EventSpec) -> dict[str, Any]:
    payload_ref = REF.format(model=spec.model.__name__)
    return {
        "name": spec.type,
        "title": spec.type,
        "summary": spec.description,
        "contentType": STRUCTURED_CONTENT_TYPE.split(";")[0],
        "headers": {
            "type": "object",
            "properties": {
                "content-type": {"type": "string", "const": STRUCTURED_CONTENT_TYPE},
            },
            "required": ["content-type"],
        },
        "payload": {
            "allOf": [
                {"$ref": REF.format(model=Envelope.__name__)},
                {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string", "const": spec.type},
                        "dataschema": {
                            "type": "string",
                            "format": "uri",
                            "description": f"…/schemas/events/{spec.schema_name}.json",
                        },
                        "data": {"$ref": payload_ref},
                    },
                },
            ]
        },
        "correlationId": {
            "description": "The request or event that started the story.",
            "location": "$message.payload#/correlationid",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The event's subject."},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _schemas(specs: Iterable[EventSpec]) -> dict[str, Any]:
    """Every payload model and the envelope, their nested models hoisted beside them."""
    unique = {s.model.__name__: s.model for s in specs}
    models: list[type[BaseModel]] = [Envelope, *(unique[k] for k in sorted(unique))]
    _, top = models_json_schema([(m, "serialization") for m in models], ref_template=REF)
    return {name: _asyncapi_schema(schema) for name, schema in sorted(top["$defs"].items())}


def _asyncapi_schema(node: Any) -> Any:
    """JSON Schema → AsyncAPI Schema Object: `discriminator` is the property's name."""
    if isinstance(node, dict):
        out = {k: _asyncapi_schema(v) for k, v in node.items()}
        if isinstance(out.get("discriminator"), dict):
            out["discriminator"] = out["discriminator"]["propertyName"]
        return out
    if isinstance(node, list):
        return [_asyncapi_schema(v) for v in node]
    return node
