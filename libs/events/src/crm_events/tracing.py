"""W3C trace context (`traceparent`, `tracestate`) across everything an event passes
through: the outbox row, the Kafka message, the consumer, and any store that keeps the
envelope (a webhook delivery, a DLQ message).

Only the OpenTelemetry *API* is used here; `crm_platform.tracing` installs the SDK. With no
SDK the spans are non-recording, but a context that came in is still passed on unchanged,
so a trace id survives services that do not record it.

Where the context travels:
- in the envelope, as the CloudEvents distributed-tracing extension attributes
  `traceparent` / `tracestate` (the context the event was created in; every store that keeps
  the envelope keeps it too);
- in the outbox row's `headers`, and from there as the Kafka headers `traceparent` /
  `tracestate` of the published message (what Kafka tooling and other consumers read).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
W3C_FIELDS = (TRACEPARENT, TRACESTATE)

_propagator = TraceContextTextMapPropagator()
tracer = trace.get_tracer("crm")


def current_carrier() -> dict[str, str]:
    """The current trace context as W3C fields ({} when there is none)."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return {k: v for k, v in carrier.items() if k in W3C_FIELDS and v}


def context_from(carrier: Mapping[str, Any] | None) -> Context | None:
    """The context a carrier (headers, an envelope's attributes) names, or None."""
    if not carrier or not carrier.get(TRACEPARENT):
        return None
    fields = {k: str(carrier[k]) for k in W3C_FIELDS if carrier.get(k)}
    ctx = _propagator.extract(fields)
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def kafka_carrier(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, str]:
    """The W3C fields among a Kafka message's headers."""
    return {
        k.lower(): v.decode(errors="replace")
        for k, v in (headers or [])
        if k.lower() in W3C_FIELDS and v is not None
    }
