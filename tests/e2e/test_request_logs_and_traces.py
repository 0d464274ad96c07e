"""What an operator reads during an incident, from the four real processes.

- Logs: every line a service writes to stdout is JSON naming the service, uvicorn's own
  start-up lines included; each request writes one `http.request` line whose correlation id
  is the one its error body carries, and no line holds the API key.
- Traces: a telemetry POST that carries a chosen W3C `traceparent` breaches an SLA in
  sla-monitor; the breach travels through the outbox and Kafka into obligation-tracker,
  which raises an alert and delivers a signed webhook. The webhook request carries a
  `traceparent` of the same trace id (and so does the CloudEvent in its body).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from standardwebhooks import Webhook

from crm_testing import examples
from crm_testing.auth import ADMIN_HEADERS, ADMIN_KEY
from crm_testing.chain import activate_contract
from crm_testing.kafka import wait_until
from crm_testing.stack import SERVICES, Stack
from crm_testing.tracing import ExportedSpan, exported_spans
from crm_testing.webhooks import WebhookReceiver

SERVER, CLIENT, PRODUCER, CONSUMER = (
    Span.SpanKind.SPAN_KIND_SERVER,
    Span.SpanKind.SPAN_KIND_CLIENT,
    Span.SpanKind.SPAN_KIND_PRODUCER,
    Span.SpanKind.SPAN_KIND_CONSUMER,
)

# What uvicorn itself says while a service starts (logger uvicorn.error).
UVICORN_START = ("Started server process", "Waiting for application startup", "Uvicorn running")


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _log_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a service's stdout, parsed (the harness's own `=====` markers aside)."""
    lines = []
    for raw in path.read_text().splitlines():
        if not raw.strip() or raw.startswith("===== start #"):
            continue
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError as exc:
            raise AssertionError(f"{path.name}: not a JSON line: {raw!r}") from exc
    return lines


async def test_every_line_names_its_service_and_a_request_line_carries_the_error_correlation_id(
    stack: Stack,
) -> None:
    registry = stack.url("contract-registry")
    async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http:
        missing = await http.get(f"{registry}/contracts/{uuid.uuid4()}")
    assert missing.status_code == 404, missing.text
    correlation_id = missing.json()["error"]["correlation_id"]
    path = stack.services["contract-registry"].log_path

    async def request_line() -> dict[str, Any] | None:
        found = [
            line
            for line in _log_lines(path)
            if line.get("event") == "http.request" and line.get("correlation_id") == correlation_id
        ]
        return found[0] if found else None

    line: Any = await wait_until(request_line, timeout=10, message="the request line")
    assert line["route"] == "/contracts/{contract_id}"
    assert (line["method"], line["status"], line["key_id"]) == ("GET", 404, "bootstrap")
    assert line["service"] == "contract-registry" and line["duration_ms"] >= 0
    for name in SERVICES:
        service_log = stack.services[name].log_path
        lines = _log_lines(service_log)
        assert [x for x in lines if x.get("service") != name] == [], name
        uvicorn_said = [x["event"] for x in lines if x.get("logger") == "uvicorn.error"]
        for opening in UVICORN_START:
            assert any(e.startswith(opening) for e in uvicorn_said), (name, opening)
        assert any(x.get("event") == "http.request" for x in lines), name
        assert ADMIN_KEY not in service_log.read_text(), name


async def test_the_trace_of_a_telemetry_post_reaches_the_signed_webhook_it_causes(
    stack: Stack, span_receiver: WebhookReceiver
) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    sla = stack.url("sla-monitor")
    trace_id, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    async with (
        httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http,
        WebhookReceiver() as receiver,
    ):
        hook = await http.post(
            f"{stack.url('obligation-tracker')}/webhooks",
            json={"url": receiver.url, "event_types": ["alert.raised"]},
            headers={"X-Tenant-Id": tenant},
        )
        assert hook.status_code == 201, hook.text
        doc = examples.contract_document(tenant_id=tenant)
        cid = await activate_contract(
            http, stack, doc, known_at=("sla-monitor", "obligation-tracker")
        )
        service_key = doc["sla_definitions"][0]["service_key"]
        # A day down until a minute ago: the running period can no longer meet its minimum
        # (99.5%), so sla-monitor says `sla.breached` at once (early warnings are for the
        # running period; an old one would publish its outcome only when closed).
        now = datetime.now(UTC).replace(microsecond=0)
        outage = {
            "started_at": _iso(now - timedelta(hours=24)),
            "ended_at": _iso(now - timedelta(minutes=1)),
        }
        posted = await http.post(
            f"{sla}/telemetry",
            json={"tenant_id": tenant, "items": [{"service_key": service_key, **outage}]},
            headers={"traceparent": f"00-{trace_id}-{caller_span}-01"},
        )
        assert posted.status_code == 202, posted.text
        [hit] = await receiver.wait_for(lambda r: r.json["subject"] == cid, timeout=60)

    assert hit.json["type"] == "alert.raised"
    assert hit.json["data"]["source_event_type"] == "sla.breached", hit.json
    assert Webhook(hook.json()["secret"]).verify(hit.body, hit.headers) == hit.json
    version, webhook_trace, webhook_span, flags = hit.headers["traceparent"].split("-")
    assert (version, webhook_trace) == ("00", trace_id)
    assert webhook_span != caller_span and int(flags, 16) & 1  # the delivery's own span
    assert hit.json["traceparent"].split("-")[1] == trace_id  # the CloudEvents extension
    # The request lines of the telemetry POST name the same trace.
    sla_lines = _log_lines(stack.services["sla-monitor"].log_path)
    [post_line] = [
        x for x in sla_lines if x.get("event") == "http.request" and x.get("trace_id") == trace_id
    ]
    assert (post_line["route"], post_line["status"]) == ("/telemetry", 202)

    # The spans the services exported (OTLP/HTTP, as configured by OTEL_* variables) form
    # one chain across the two processes.
    async def chain_exported() -> list[ExportedSpan] | None:
        spans = [s for s in exported_spans(span_receiver.requests) if s.trace_id == trace_id]
        return spans if any(s.name == "webhook alert.raised" for s in spans) else None

    spans: Any = await wait_until(chain_exported, timeout=30, message="the webhook span exported")
    one = _one_span(spans)
    request = one("sla-monitor", "POST /telemetry", SERVER)
    assert request.parent_span_id == caller_span
    assert request.attributes["http.response.status_code"] == 202
    assert any(
        s.service == "sla-monitor"
        and s.name.startswith("INSERT")
        and s.parent_span_id == request.span_id
        for s in spans
    )  # the database work of the request
    assert one("sla-monitor", "sla.v1 publish", PRODUCER).parent_span_id == request.span_id
    consumed = one("obligation-tracker", "sla.v1 process", CONSUMER)
    assert consumed.parent_span_id == request.span_id
    assert consumed.attributes["cloudevents.event_type"] == "sla.breached"
    assert (
        one("obligation-tracker", "alerts.v1 publish", PRODUCER).parent_span_id == consumed.span_id
    )
    delivery = one("obligation-tracker", "webhook alert.raised", CLIENT)
    assert delivery.parent_span_id == consumed.span_id
    assert delivery.span_id == webhook_span  # the span the request named as its parent
    assert delivery.attributes["http.response.status_code"] == 200


def _one_span(spans: list[ExportedSpan]) -> Any:
    def one(service: str, name_ends: str, kind: int) -> ExportedSpan:
        [found] = [
            s
            for s in spans
            if s.service == service and s.name.endswith(name_ends) and s.kind == kind
        ]
        return found

    return one
