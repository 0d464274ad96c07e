"""Which span exporters the OTEL_* variables name: none unless told, a clear error for a
name or protocol we do not ship."""

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from crm_platform.tracing import _exporters


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_nothing_is_exported_unless_an_exporter_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _exporters() == []
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert _exporters() == []


def test_otlp_and_console_exporters_are_named_by_the_standard_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp, console")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector.example:4318")
    otlp, console = _exporters()
    assert isinstance(otlp, OTLPSpanExporter) and isinstance(console, ConsoleSpanExporter)
    assert otlp._endpoint == "http://collector.example:4318/v1/traces"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OTEL_TRACES_EXPORTER", "jaeger", "OTEL_TRACES_EXPORTER='jaeger'"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "only http/protobuf"),
    ],
)
def test_an_exporter_we_do_not_ship_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=message):
        _exporters()
