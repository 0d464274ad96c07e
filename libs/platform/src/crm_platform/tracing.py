"""The OpenTelemetry SDK, set up once per process, and database spans.

Spans are always made (so logs carry trace ids and an inbound `traceparent` is carried on to
Kafka and to webhooks; database spans only when exported), but nothing leaves the process
unless an exporter is named with the standard variables of the OpenTelemetry specification:

    OTEL_TRACES_EXPORTER=otlp                  otlp (OTLP over HTTP/protobuf), console or none
    OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318     (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
    OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_BSP_* (batching),
    OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default: parentbased_always_on),
    OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED=true (no SDK at all).

Unlike the specification's default (`otlp`), an unset OTEL_TRACES_EXPORTER exports nothing:
a service started on a laptop should not try to reach a collector that is not there.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

import sqlalchemy as sa
import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_events.tracing import tracer

log = structlog.get_logger(__name__)

EXPORTER_ENV = "OTEL_TRACES_EXPORTER"
_PROTOCOL_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")


def _exporters() -> list[SpanExporter]:
    names = [n.strip().lower() for n in os.environ.get(EXPORTER_ENV, "none").split(",")]
    exporters: list[SpanExporter] = []
    for name in names:
        if name in ("", "none"):
            continue
        if name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name == "otlp":
            protocol = next((os.environ[e] for e in _PROTOCOL_ENVS if os.environ.get(e)), "")
            if protocol not in ("", "http/protobuf"):
                raise ValueError(
                    f"{_PROTOCOL_ENVS[1]}={protocol!r}: only http/protobuf is installed"
                )
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())  # reads OTEL_EXPORTER_OTLP_* itself
        else:
            raise ValueError(f"{EXPORTER_ENV}={name!r}: use otlp, console or none")
    return exporters


_exporting: bool | None = None  # what this module's provider does, once installed


def configure_tracing(*, service: str, version: str) -> bool:
    """Install the SDK tracer provider unless one is installed already (a test's, or an
    earlier app's in this process). Returns whether spans leave the process: only then
    are per-statement database spans worth their cost (`trace_database`)."""
    global _exporting
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return True if _exporting is None else _exporting  # None: a provider not ours
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    attributes: dict[str, Any] = {SERVICE_VERSION: version}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes[SERVICE_NAME] = service
    provider = TracerProvider(resource=Resource.create(attributes))
    exporters = _exporters()
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _exporting = bool(exporters)
    log.info("tracing.configured", exporters=os.environ.get(EXPORTER_ENV, "none"))
    return _exporting


def flush_tracing() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush(timeout_millis=5000)


_SPAN_KEY = "crm_otel_spans"
_traced_engines: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


def trace_database(engine: AsyncEngine) -> None:
    """A client span per SQL statement, only inside a trace (a request, a handler, a
    delivery): the relay's and the schedulers' idle polling makes no root spans. The
    statement text is recorded, never its parameters."""
    sync_engine = engine.sync_engine
    if sync_engine in _traced_engines:
        return
    _traced_engines.add(sync_engine)
    database = sync_engine.url.database or ""

    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if not trace.get_current_span().is_recording():
            return
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = tracer.start_span(
            f"{operation} {database}",
            kind=SpanKind.CLIENT,
            attributes={
                "db.system.name": "postgresql",
                "db.namespace": database,
                "db.operation.name": operation,
                "db.query.text": statement[:2000],
            },
        )
        conn.info.setdefault(_SPAN_KEY, []).append(span)

    def after(conn: Any, *_: Any) -> None:
        spans = conn.info.get(_SPAN_KEY)
        if spans:
            spans.pop().end()

    def failed(context: Any) -> None:
        spans = context.connection.info.get(_SPAN_KEY) if context.connection else None
        if spans:
            span = spans.pop()
            span.set_status(StatusCode.ERROR, type(context.original_exception).__name__)
            span.end()

    sa.event.listen(sync_engine, "before_cursor_execute", before)
    sa.event.listen(sync_engine, "after_cursor_execute", after)
    sa.event.listen(sync_engine, "handle_error", failed)
