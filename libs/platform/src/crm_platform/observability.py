"""Health, readiness and Prometheus metrics, plus the request middleware.

/healthz  the process answers (liveness);
/readyz   the database answers, the broker answers, the relay and consumers run;
/metrics  Prometheus text format.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from opentelemetry.trace import Span, SpanKind, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_events.tracing import W3C_FIELDS, context_from, tracer
from crm_platform.errors import error_body
from crm_platform.ratelimit import RESPONSE_HEADERS

log = structlog.get_logger(__name__)

HTTP_REQUESTS = Counter("crm_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_SECONDS = Histogram("crm_http_request_seconds", "HTTP request duration", ["method", "route"])

router = APIRouter(tags=["operations"])


class Readiness(BaseModel):
    status: str = Field(description="ready or not_ready")
    checks: dict[str, str] = Field(
        description="Each dependency: ok (or disabled), else what is wrong with it."
    )


NOT_READY = {
    "status": "not_ready",
    "checks": {"database": "ok", "kafka": "error: KafkaConnectionError", "outbox_relay": "ok"},
}


@router.get("/healthz", summary="Liveness: the process is up", operation_id="getLiveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="getReadiness",
    summary="Readiness: database, broker, relay and consumers",
    response_model=Readiness,
    responses={
        503: {
            "model": Readiness,
            "description": "A dependency is not ready",
            "content": {"application/json": {"example": NOT_READY}},
        }
    },
)
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    checks: dict[str, Any] = {}
    try:
        async with state.session_factory() as session:
            await asyncio.wait_for(session.execute(sa.text("SELECT 1")), 2.0)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    producer = getattr(state, "producer", None)
    if producer is None:
        checks["kafka"] = "disabled"
    else:
        try:
            await asyncio.wait_for(producer.client.fetch_all_metadata(), 3.0)
            checks["kafka"] = "ok"
        except Exception as exc:
            checks["kafka"] = f"error: {exc.__class__.__name__}"
    relay = getattr(state, "relay", None)
    if relay is not None:
        checks["outbox_relay"] = "ok" if relay.running else "stopped"
    for runner in getattr(state, "consumers", []):
        checks[f"consumer:{runner.group_id}"] = "ok" if runner.running else "stopped"
    ready = all(v in ("ok", "disabled") for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    operation_id="getMetrics",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def route_template(scope: Scope) -> str:
    """The path template of the route that answered, as the API documents it
    (`/contracts/{contract_id}`, no `:uuid` converter), for metric labels, the request line
    and the span name.

    FastAPI routes name themselves in the scope; plain Starlette routes (/docs, /openapi.json)
    and mounts do not, so they are matched again here (a mount counts as its prefix).
    "unmatched" only when no route matches (a 404 for an unknown path)."""
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path_format", getattr(route, "path", "unmatched")))
    app = scope.get("app")
    for candidate in getattr(getattr(app, "router", None), "routes", ()):
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            path = getattr(candidate, "path_format", getattr(candidate, "path", "unmatched"))
            return str(path) or "/"
    return "unmatched"


class RequestContextMiddleware:
    """Correlation id, the server span, request metrics, one log line per request and the
    request body size limit (pure ASGI).

    The request line (`http.request`) names the method, the route template (not the raw
    path, which may hold ids or query strings), the status, the duration, the caller's tenant
    and key id (never the key), the correlation id the error bodies carry and, inside a
    trace, the trace id. It replaces uvicorn's access log."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        correlation_id = headers.get(b"x-correlation-id", b"").decode()[:100] or str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        # An inbound W3C `traceparent` makes this request's span its child.
        parent = context_from(
            {k: headers.get(k.encode(), b"").decode(errors="replace") for k in W3C_FIELDS}
        )
        status = _Status()
        # The span is ended by `_finish` (after the request line, which names its trace).
        with tracer.start_as_current_span(
            scope["method"],
            context=parent,
            kind=SpanKind.SERVER,
            end_on_exit=False,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                await self._serve(scope, receive, send, correlation_id, headers, status)
            except BaseException:
                status.failed = True
                raise
            finally:
                self._finish(scope, span, status)
                structlog.contextvars.unbind_contextvars("correlation_id")

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        correlation_id: str,
        headers: dict[bytes, bytes],
        status: _Status,
    ) -> None:
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send, correlation_id)
            status.code = 413
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge(self.max_body_bytes)
            return message

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.code = message["status"]
                message.setdefault("headers", [])
                # Headers the request's dependencies asked for (the rate limit's).
                extra = scope.get(RESPONSE_HEADERS) or {}
                message["headers"] = [
                    *message["headers"],
                    (b"x-correlation-id", correlation_id.encode()),
                    *((k.lower().encode(), v.encode()) for k, v in extra.items()),
                ]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except _BodyTooLarge:
            await self._too_large(scope, receive, send, correlation_id)
            status.code = 413

    @staticmethod
    def _finish(scope: Scope, span: Span, status: _Status) -> None:
        method = scope["method"]
        route = route_template(scope)
        code = 500 if status.failed else status.code
        seconds = time.perf_counter() - status.started
        HTTP_REQUESTS.labels(method, route, str(code)).inc()
        HTTP_SECONDS.labels(method, route).observe(seconds)
        principal = scope.get("state", {}).get("principal")
        span.update_name(f"{method} {route}")
        span.set_attributes(
            {"http.request.method": method, "http.route": route, "http.response.status_code": code}
        )
        if code >= 500:
            span.set_status(StatusCode.ERROR)
        log.info(
            "http.request",
            method=method,
            route=route,
            status=code,
            duration_ms=round(seconds * 1000, 1),
            tenant=getattr(principal, "tenant_id", None),
            key_id=getattr(principal, "key_id", None),
        )
        span.end()

    async def _too_large(
        self, scope: Scope, receive: Receive, send: Send, correlation_id: str
    ) -> None:
        from starlette.requests import Request as StarletteRequest

        request = StarletteRequest(scope, receive)
        response = JSONResponse(
            error_body(
                request,
                "payload_too_large",
                f"request body is larger than {self.max_body_bytes} bytes; "
                "split it into smaller batches",
            ),
            status_code=413,
            headers={"x-correlation-id": correlation_id},
        )
        await response(scope, receive, send)


class _Status:
    """What the request line needs to know about the answer."""

    def __init__(self) -> None:
        self.code = 500
        self.failed = False
        self.started = time.perf_counter()


class _BodyTooLarge(HTTPException):
    # An HTTPException so FastAPI's body reader passes it through instead of turning it
    # into a generic 400, and the error handler renders it like every other error.
    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"request body is larger than {limit} bytes; split it into smaller batches"
        )
