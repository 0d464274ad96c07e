"""Spans recorded in memory by the real OpenTelemetry SDK, for tests in this process.

A process has one global tracer provider: the first test that asks installs an SDK
provider (the services' own `configure_tracing` then keeps it) and every test gets the
same exporter, emptied."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_exporter: InMemorySpanExporter | None = None


def span_exporter() -> InMemorySpanExporter:
    """The in-memory exporter of this process's SDK provider, emptied."""
    global _exporter
    if _exporter is None:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            provider = TracerProvider()
            trace.set_tracer_provider(provider)
        _exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
    _exporter.clear()
    return _exporter


def spans_named(
    spans: tuple[ReadableSpan, ...] | list[ReadableSpan], prefix: str
) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]
