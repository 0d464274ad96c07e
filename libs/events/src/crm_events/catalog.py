"""The event catalog as Markdown (docs/events.md is generated from the registry)."""

from __future__ import annotations

from typing import Any

from crm_events.registry import REGISTRY
from crm_events.topics import Topic

_PRODUCERS = {
    Topic.CONTRACTS: "contract-registry",
    Topic.TELEMETRY: "monitoring systems (directly, or through sla-monitor's HTTP API)",
    Topic.CONSUMPTION: "ERP integrations (directly, or through billing-reconciler's HTTP API)",
    Topic.SLA: "sla-monitor",
    Topic.BILLING: "billing-reconciler",
    Topic.OBLIGATIONS: "obligation-tracker",
    Topic.ALERTS: "obligation-tracker",
    Topic.ACCESS: "contract-registry (the API key administration)",
    Topic.AUDIT: "every service (its audit log of operator actions)",
}

_CONSUMERS = {
    Topic.CONTRACTS: "sla-monitor, billing-reconciler, obligation-tracker",
    Topic.TELEMETRY: "sla-monitor",
    Topic.CONSUMPTION: "billing-reconciler",
    Topic.SLA: "billing-reconciler, obligation-tracker, contract-registry",
    Topic.BILLING: "obligation-tracker, contract-registry, ERP integrations",
    Topic.OBLIGATIONS: "contract-registry",
    Topic.ALERTS: "paging and chat integrations",
    Topic.ACCESS: "every service (the keys it accepts)",
    Topic.AUDIT: "audit archives and security tooling (no service)",
}


def _fields(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type") or ("object" if "$ref" in prop or "allOf" in prop else "")
        if "anyOf" in prop:
            kind = " or ".join(p.get("type", "object") for p in prop["anyOf"])
        desc = prop.get("description", "").replace("\n", " ")
        rows.append(f"| `{name}` | {kind} | {'yes' if name in required else 'no'} | {desc} |")
    return rows


def render_markdown() -> str:
    lines = [
        "# Event catalog",
        "",
        "Generated from `libs/events` (`uv run crm-events catalog > docs/events.md`); a test "
        "fails when this file is out of date. JSON Schemas of every payload: "
        "`libs/events/schemas/<type>@<version>.json`.",
        "",
        "The same catalog as an AsyncAPI 3.0 document: [asyncapi.json](asyncapi.json) "
        "(every service also serves its own channels at `/asyncapi.json`; "
        "`uv run crm-events asyncapi > docs/asyncapi.json` regenerates it).",
        "",
        "Every event is a CloudEvents 1.0 JSON envelope in the Kafka protocol binding's "
        "**structured content mode**: the message value is the whole event, the "
        "`content-type` header is `application/cloudevents+json; charset=UTF-8` (no `ce_` "
        "headers), and the message key is the `subject`. Any CloudEvents SDK reads it (the "
        "Python SDK: `cloudevents.core.bindings.kafka.from_kafka_event`). Producers of "
        "`telemetry.v1` and `consumption.v1` may also use binary mode (`ce_` headers, JSON "
        "data in the value).",
        "",
        "| attribute | meaning |",
        "|---|---|",
        "| `specversion` | `1.0` |",
        "| `id` | UUID of the event; consumers deduplicate on it |",
        "| `source` | the emitting service |",
        "| `type` | e.g. `sla.period_closed` |",
        "| `subject` | the contract id (the service key for telemetry); also the Kafka key |",
        "| `time` | UTC instant of emission |",
        "| `dataschema` | URI of the payload's JSON Schema: "
        "`<CRM_EVENT_SCHEMA_BASE_URL>/<type>@<version>.json`, served by every service at "
        "`/schemas/events/` (the envelope's own schema at `/schemas/events/envelope.json`) |",
        "| `tenant` | the customer account the contract belongs to |",
        "| `correlationid` | the id of the request or event that started the story |",
        "| `causationid` | the id of the event that directly caused this one |",
        "| `traceparent`, `tracestate` | CloudEvents distributed tracing: the W3C trace "
        "context the event was created in (absent outside a trace); also sent as the Kafka "
        "headers of the same names |",
        "| `data` | the payload below; money and percentages are decimal strings |",
        "",
        "Each topic has a dead-letter topic `<topic>.dlq`; a dead letter keeps the original "
        "key, value and headers and adds `dlq.reason`, `dlq.error.class`, "
        "`dlq.error.message`, `dlq.error.trace`, `dlq.consumer`, `dlq.original.topic`, "
        "`dlq.original.partition`, `dlq.original.offset`, `dlq.attempts`, `dlq.failed_at`.",
        "",
    ]
    for topic in Topic:
        lines += [
            f"## `{topic.value}`",
            "",
            f"Produced by {_PRODUCERS[topic]}; consumed by {_CONSUMERS[topic]}.",
            "",
        ]
        for spec in REGISTRY.values():
            if spec.topic is not topic:
                continue
            schema = spec.model.model_json_schema(mode="serialization")
            lines += [
                f"### `{spec.type}` (`{spec.schema_name}`)",
                "",
                spec.description,
                "",
                "| field | type | required | description |",
                "|---|---|---|---|",
                *_fields(schema),
                "",
            ]
    return "\n".join(lines)
