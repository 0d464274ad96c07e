"""One error type per broken rule, one handler, one response shape.

{"error": {"code": "...", "message": "...", "details": [{"loc": "body.items[3].ended_at",
           "message": "..."}], "correlation_id": "..."}}
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_events.infrastructure import is_infrastructure_error, sqlstate

log = structlog.get_logger(__name__)


class ServiceError(Exception):
    status_code = 400
    code = "bad_request"
    headers: dict[str, str] | None = None

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        status_code: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code


class NotFound(ServiceError):
    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    status_code = 409
    code = "conflict"


class Unprocessable(ServiceError):
    status_code = 422
    code = "validation_failed"


class PayloadTooLarge(ServiceError):
    status_code = 413
    code = "payload_too_large"


class ErrorDetail(BaseModel):
    loc: str = Field(examples=["body.items[3].ended_at"])
    message: str
    type: str | None = None


class ErrorContent(BaseModel):
    code: str = Field(examples=["validation_failed"])
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)
    correlation_id: str | None = None


class ErrorResponse(BaseModel):
    """Every error answer has this shape."""

    error: ErrorContent


class EarlyResponse(Exception):
    """Raised by a dependency that already holds the whole answer (an idempotent replay):
    the route does not run and the response goes out as it is."""

    def __init__(self, response: Response) -> None:
        super().__init__("early response")
        self.response = response


def format_loc(loc: tuple[Any, ...] | list[Any]) -> str:
    """('body', 'items', 3, 'ended_at') -> 'body.items[3].ended_at'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def error_body(
    request: Request, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details or [],
            "correlation_id": getattr(request.state, "correlation_id", None),
        }
    }


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    details = []
    for err in errors:
        msg = err.get("msg", "invalid")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        details.append(
            {"loc": format_loc(err.get("loc", ())), "message": msg, "type": err.get("type")}
        )
    return details


def _first_line(exc: BaseException) -> str:
    root: BaseException = exc
    while root.__cause__ is not None:
        root = root.__cause__
    return str(root).splitlines()[0][:200] if str(root) else type(root).__name__


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method documented for a concrete path (from the OpenAPI paths)."""
    patterns = getattr(app.state, "path_patterns", None)
    if patterns is None:
        patterns = [
            (
                re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)) + "$"),
                sorted(m.upper() for m in ops),
            )
            for t, ops in app.openapi()["paths"].items()
        ]
        app.state.path_patterns = patterns
    for pattern, methods in patterns:
        if pattern.match(path):
            return methods
    return []


def install_error_handlers(app: FastAPI) -> None:
    """One error shape for every failure a request can meet (see `error_body`)."""
    for exc_type, handler in _HANDLERS:
        app.add_exception_handler(exc_type, handler)


async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
    return JSONResponse(
        error_body(request, exc.code, exc.message, exc.details),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _early_response(request: Request, exc: EarlyResponse) -> Response:
    return exc.response


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    details = validation_details(exc.errors())
    summary = "; ".join(f"{d['loc']}: {d['message']}" for d in details[:3])
    more = f" (and {len(details) - 3} more)" if len(details) > 3 else ""
    return JSONResponse(
        error_body(request, "validation_failed", f"request is invalid: {summary}{more}", details),
        status_code=422,
    )


_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    401: "unauthorized",
    403: "forbidden",
    413: "payload_too_large",
}


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400 and "parsing the body" in str(exc.detail):
        # FastAPI's answer to a body that is not UTF-8 JSON: one shape for bad input.
        return JSONResponse(
            error_body(
                request,
                "validation_failed",
                "the request body is not valid JSON (UTF-8)",
                [{"loc": "body", "message": "not valid JSON"}],
            ),
            status_code=422,
        )
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names only the first route that matched the path; list them all.
        allowed = _allowed_methods(request.app, request.url.path)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    return JSONResponse(
        error_body(request, _HTTP_CODES.get(exc.status_code, "http_error"), str(exc.detail)),
        status_code=exc.status_code,
        headers=headers or None,
    )


async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
    # A concurrent request created the same thing first (a unique key).
    constraint = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None)
    return JSONResponse(
        error_body(
            request,
            "conflict",
            "the request conflicts with data stored meanwhile; read it and retry",
            [{"loc": "body", "message": f"constraint {constraint}"}] if constraint else [],
        ),
        status_code=409,
    )


async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
    state = sqlstate(exc)
    if state is not None and state.startswith("22"):
        # A data exception: a value PostgreSQL cannot store (a NUL character in text,
        # a number out of range, a date beyond the calendar). The input's fault.
        return JSONResponse(
            error_body(
                request,
                "validation_failed",
                "a value in the request cannot be stored: "
                f"{_first_line(exc)} (text may not contain NUL characters; "
                "numbers and dates must be within range)",
                [{"loc": "body", "message": _first_line(exc)}],
            ),
            status_code=422,
        )
    if is_infrastructure_error(exc):
        log.warning("request.database_unavailable", path=request.url.path, error=repr(exc))
        return JSONResponse(
            error_body(
                request,
                "service_unavailable",
                "the database is not reachable right now; retry the request "
                "(with the same Idempotency-Key)",
            ),
            status_code=503,
            headers={"Retry-After": "1"},
        )
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_infrastructure_error(exc):
        return JSONResponse(
            error_body(
                request,
                "service_unavailable",
                "a backing service is not reachable right now; retry the request",
            ),
            status_code=503,
            headers={"Retry-After": "1"},
        )
    log.exception("request.unhandled_error", path=request.url.path)
    return JSONResponse(
        error_body(
            request,
            "internal_error",
            "unexpected error; quote the correlation id when reporting it",
        ),
        status_code=500,
    )


# Each handler takes its own exception type, which Starlette's signature cannot express.
_HANDLERS: list[tuple[type[Exception], Any]] = [
    (EarlyResponse, _early_response),
    (ServiceError, _service_error),
    (RequestValidationError, _validation_error),
    (StarletteHTTPException, _http_error),
    (IntegrityError, _integrity),
    (DBAPIError, _database),
    (Exception, _unexpected),
]
