"""One structured log line per HTTP request, from a real ASGI app, read from the log output.

The line names the route template (not the raw path), the status, the duration, the
caller's tenant and key id (never the key), the correlation id the error body carries and,
inside a trace, the trace id; every line (uvicorn's too) names the service."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from opentelemetry.trace import SpanKind

from crm_platform.app import ServiceDefinition, create_service_app
from crm_platform.auth import CurrentPrincipal
from crm_platform.errors import NotFound
from crm_platform.logging import configure_logging, uvicorn_log_config
from crm_platform.settings import ServiceSettings
from crm_testing.auth import ADMIN_KEY
from crm_testing.tracing import span_exporter

SERVICE = "request-line-test"
LogLines = Callable[[], list[dict[str, Any]]]


class _Settings(ServiceSettings):
    service_name: str = SERVICE


@pytest.fixture
def log_output() -> Iterator[tuple[io.StringIO, LogLines]]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging(service=SERVICE)
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    yield buffer, lines
    root.handlers[:], level = saved
    root.setLevel(level)


def _app() -> FastAPI:
    """A service assembled the one way services are (`create_service_app`), no lifespan."""
    router = APIRouter()

    @router.get("/contracts/{contract_id}")
    async def get_contract(contract_id: uuid.UUID, principal: CurrentPrincipal) -> dict[str, str]:
        if contract_id.int == 0:
            raise NotFound(f"contract {contract_id} not found")
        return {"id": str(contract_id)}

    @router.get("/boom")
    async def boom(principal: CurrentPrincipal) -> None:
        raise RuntimeError("a bug")

    definition = ServiceDefinition(
        title="t",
        description="d",
        version="1",
        routers=[router],
        metadata=sa.MetaData(),
        migrations_dir=Path("."),
    )
    settings = _Settings(database_url="postgresql+asyncpg://x@127.0.0.1/x", admin_api_key=ADMIN_KEY)
    return create_service_app(definition, settings)


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://svc")


def _request_lines(lines: LogLines) -> list[dict[str, Any]]:
    return [line for line in lines() if line["event"] == "http.request"]


async def test_a_request_writes_one_line_with_route_template_tenant_and_key_id(
    log_output: tuple[io.StringIO, LogLines],
) -> None:
    buffer, lines = log_output
    contract_id = uuid.uuid4()
    async with _client(_app()) as http:
        response = await http.get(
            f"/contracts/{contract_id}",
            headers={"Authorization": f"Bearer {ADMIN_KEY}", "X-Tenant-Id": "acme"},
        )
    assert response.status_code == 200, response.text
    [line] = _request_lines(lines)
    assert line["method"] == "GET"
    assert line["route"] == "/contracts/{contract_id}"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["tenant"] == "acme"
    assert line["key_id"] == "bootstrap"
    assert line["service"] == SERVICE
    assert line["correlation_id"] == response.headers["x-correlation-id"]
    assert line["level"] == "info"
    assert str(contract_id) not in buffer.getvalue()  # the template, not the path
    assert ADMIN_KEY not in buffer.getvalue()


async def test_an_error_body_and_its_request_line_share_the_correlation_id(
    log_output: tuple[io.StringIO, LogLines],
) -> None:
    _, lines = log_output
    async with _client(_app()) as http:
        missing = await http.get(
            f"/contracts/{uuid.UUID(int=0)}", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        anonymous = await http.get(
            f"/contracts/{uuid.uuid4()}", headers={"X-Correlation-Id": "c-42"}
        )
        crashed = await http.get("/boom", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert (missing.status_code, anonymous.status_code, crashed.status_code) == (404, 401, 500)
    found, refused, failed = _request_lines(lines)
    assert found["correlation_id"] == missing.json()["error"]["correlation_id"]
    assert (found["status"], found["tenant"], found["key_id"]) == (404, None, "bootstrap")
    assert refused["correlation_id"] == "c-42" == anonymous.json()["error"]["correlation_id"]
    assert (refused["status"], refused["key_id"]) == (401, None)
    assert (failed["route"], failed["status"]) == ("/boom", 500)


async def test_an_inbound_traceparent_parents_the_server_span_and_names_the_trace(
    log_output: tuple[io.StringIO, LogLines],
) -> None:
    _, lines = log_output
    exporter = span_exporter()
    trace_id, parent_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    async with _client(_app()) as http:
        response = await http.get(
            f"/contracts/{uuid.uuid4()}",
            headers={
                "Authorization": f"Bearer {ADMIN_KEY}",
                "traceparent": f"00-{trace_id}-{parent_id}-01",
            },
        )
        untraced = await http.get("/nowhere", headers={"traceparent": "00-garbage-01"})
    assert (response.status_code, untraced.status_code) == (200, 404)
    traced_line, unmatched_line = _request_lines(lines)
    assert traced_line["trace_id"] == trace_id
    assert unmatched_line["route"] == "unmatched"
    assert unmatched_line["trace_id"] != trace_id  # a malformed traceparent starts a new trace
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans if s.kind is SpanKind.SERVER] == [
        "GET /contracts/{contract_id}",
        "GET unmatched",
    ]  # one server span a request: FastAPI's own tracing is off
    [server] = [s for s in spans if s.name == "GET /contracts/{contract_id}"]
    assert server.context is not None and server.parent is not None
    assert f"{server.context.trace_id:032x}" == trace_id
    assert f"{server.parent.span_id:016x}" == parent_id
    assert server.attributes is not None and server.attributes["http.response.status_code"] == 200


def test_uvicorn_lines_carry_the_service(log_output: tuple[io.StringIO, LogLines]) -> None:
    _, lines = log_output
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    [line] = lines()
    assert line["event"] == "Started server process [42]"
    assert line["service"] == SERVICE
    assert line["logger"] == "uvicorn.error"


def test_uvicorn_applies_our_log_config_in_each_of_its_processes(
    log_output: tuple[io.StringIO, LogLines],
) -> None:
    """What `python -m <service> serve` gives uvicorn as `log_config`: uvicorn runs it
    through dictConfig in its supervisor and in every worker."""
    logging.config.dictConfig(uvicorn_log_config(service="other-service", level="INFO"))
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.setStream(buffer)
    logging.getLogger("uvicorn.error").info("Uvicorn running on %s", "http://127.0.0.1:8003")
    logging.getLogger("uvicorn.access").info("a line the request line replaces")
    [line] = [json.loads(x) for x in buffer.getvalue().splitlines()]
    assert line["event"] == "Uvicorn running on http://127.0.0.1:8003"
    assert (line["service"], line["logger"]) == ("other-service", "uvicorn.error")


def test_a_python_warning_is_a_log_line_of_the_service() -> None:
    # In a process of its own: pytest records warnings itself while a test runs.
    program = (
        "import warnings\n"
        "from crm_platform.logging import configure_logging\n"
        f"configure_logging(service={SERVICE!r})\n"
        "warnings.warn('pool is nearly exhausted', RuntimeWarning)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stderr == ""
    [line] = [json.loads(x) for x in done.stdout.splitlines()]
    assert "RuntimeWarning: pool is nearly exhausted" in line["event"]
    assert (line["service"], line["logger"], line["level"]) == (SERVICE, "py.warnings", "warning")
