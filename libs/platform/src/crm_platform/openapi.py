"""What a service's OpenAPI document says about each operation, derived from the route
itself so that the document cannot drift from what the route does:

- `operationId`: the route's name in camelCase (`list_credits` → `listCredits`), or the
  `operation_id` a route sets where its function name reads poorly (`closeSlaPeriod`);
- the scope: read from the dependencies the route checks at request time
  (`crm_platform.auth.required_scopes`), as a security requirement with that scope and a
  line of the description;
- the error responses it can give, each in the error shape with an example: 401, 403, 429
  (with `Retry-After`) and 503 on every operation secured by an API key, 401 (and 503) on
  a feed read with a feed token in its URL (`crm_platform.auth.feed_token`); 404 where the
  path has a parameter (an id that may be unknown, or a segment that matches no route); 413
  and 415 where there is a request body; 422 where there is input; and what a route declares
  itself (409 with its reason, or its own wording of 422);
- 415 itself: `require_content_type` refuses a body whose Content-Type is not one the
  operation documents (the same list the document shows);
- a success example per operation, from the service's recorded examples
  (`openapi_examples.json`, written by `tests/api/test_list_routes.py` from real answers).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts

from crm_platform.auth import ADMIN, FEED_TOKEN_SCHEME, authenticate, feed_token, required_scopes
from crm_platform.errors import ErrorResponse, ServiceError

SCHEME = "ApiKey"
ERROR_REF = "#/components/schemas/ErrorResponse"
CORRELATION_ID = "6f1c2a9e-4b7d-4e0a-9c3f-2d8b5e7a1f04"
EXAMPLE_ID = "7b0c6f2e-8f7d-4a59-9d0e-2a1c3e5b6d7f"


class UnsupportedMediaType(ServiceError):
    status_code = 415
    code = "unsupported_media_type"


def operation_id(route: APIRoute) -> str:
    """`close_period` → `closePeriod`: stable as long as the function keeps its name."""
    head, *rest = route.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def request_media_types(route: APIRoute) -> list[str]:
    """The Content-Types an operation documents for its body (none without a body)."""
    extra = (route.openapi_extra or {}).get("requestBody", {}).get("content")
    if extra:
        return list(extra)
    return ["application/json"] if route.body_field is not None else []


async def require_content_type(request: Request) -> None:
    """415 for a body sent without a Content-Type, or with one the operation does not
    document (parameters such as `charset` are fine)."""
    route = request.scope.get("route")
    accepted = request_media_types(route) if isinstance(route, APIRoute) else []
    headers = request.headers
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    if not accepted or not has_body:
        return
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in accepted:
        raise UnsupportedMediaType(
            f"Content-Type {media or '(empty)'} is not supported here; send "
            + " or ".join(accepted),
            details=[{"loc": "header.content-type", "message": f"expected {accepted[0]}"}],
        )


# --- the document -------------------------------------------------------------------------


def install_openapi(app: FastAPI, *, domain: str, examples_file: Path | None) -> None:
    """Replace `app.openapi` by FastAPI's document with every operation described."""
    examples: dict[str, Any] = {}
    if examples_file is not None and examples_file.exists():
        examples = json.loads(examples_file.read_text())
    described: list[int] = []

    def openapi() -> dict[str, Any]:
        spec = FastAPI.openapi(app)
        if id(spec) not in described:  # once per document FastAPI builds
            describe(spec, app, domain=domain, examples=examples)
            described[:] = [id(spec)]
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def describe(spec: dict[str, Any], app: FastAPI, *, domain: str, examples: dict[str, Any]) -> None:
    """Scopes, error responses and success examples on every operation of `spec` (in place);
    the error shape once, as ErrorResponse, instead of FastAPI's validation error."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    error = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error.pop("$defs", {}))
    schemas["ErrorResponse"] = error
    for route in operations(app):
        for method in route.methods:
            operation = spec["paths"][route.path_format][method.lower()]
            _describe_operation(operation, route, method, domain)
            for recorded in examples.get(operation["operationId"], []):
                _add_example(operation, recorded)
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused not in json.dumps(spec["paths"]):
            schemas.pop(unused, None)


def operations(app: FastAPI) -> list[Any]:
    """Every documented route as mounted (prefixes and the include's dependencies applied:
    FastAPI's route contexts, read like an APIRoute)."""
    return [
        context
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.include_in_schema
    ]


def _describe_operation(operation: dict[str, Any], route: Any, method: str, domain: str) -> None:
    by_token = _calls(route.dependant, feed_token)  # a feed: FastAPI names its scheme
    if not by_token and not _calls(route.dependant, authenticate):
        return  # health, readiness, metrics: open, and described by their routes
    scopes = [] if by_token else required_scopes(route.dependant, domain, method) or []
    if not by_token:
        operation["security"] = [{SCHEME: scopes}]
    if scopes:
        note = scope_note(scopes)
        operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
    success = {k: v for k, v in operation["responses"].items() if int(k) < 400}
    errors = {
        str(status): _error_response(status, description, operation, scopes)
        for status, description in sorted(error_statuses(route, operation).items())
    }
    operation["responses"] = {**success, **errors}


def _by_token(operation: dict[str, Any]) -> bool:
    return any(FEED_TOKEN_SCHEME in requirement for requirement in operation.get("security", []))


def scope_note(scopes: list[str]) -> str:
    named = " and ".join(f"`{s}`" for s in scopes)
    also = {f"`{s.split(':')[0]}:write`" for s in scopes if s.endswith(":read")}
    granted = ", ".join([*sorted(also), f"`{ADMIN}`"]) if ADMIN not in scopes else ""
    return f"**Scope:** {named}" + (f" (also granted by {granted})." if granted else ".")


def _calls(dependant: Any, call: Callable[..., Any]) -> bool:
    return dependant.call is call or any(_calls(d, call) for d in dependant.dependencies)


def error_statuses(route: Any, operation: dict[str, Any]) -> dict[int, str]:
    """The error statuses a secured operation can answer, each with what it means."""
    out = {
        401: "No API key, or an unknown, revoked or expired one, or one sent in the URL "
        "(`?api_key=` is never accepted).",
        403: "The API key lacks the scope this operation needs, or acts for another tenant.",
    }
    out[429] = (
        "The API key is over its rate limit for this operation's scope; nothing was done. "
        "`Retry-After` says in how many seconds to retry."
    )
    if _by_token(operation):  # a feed token grants its feed: no scopes, no tenant header
        out = {401: "No feed token, or an unknown or revoked one, or another feed's."}
    if any(p["in"] == "path" for p in operation.get("parameters", [])):
        out[404] = (
            "Not found: nothing of that id, or another tenant's (never told apart); also a "
            "path segment that matches no route (not a UUID where one is expected, a `/`)."
        )
    if "requestBody" in operation:
        out[413] = "The request body is larger than the service accepts."
        out[415] = "The body's Content-Type is not one this operation takes."
    if operation.get("parameters") or "requestBody" in operation:
        out[422] = "The request is invalid; `details` lists every problem with its location."
    out[503] = "The database is unreachable for the moment; retry."
    for status, response in route.responses.items():
        if str(status).isdigit() and int(status) >= 400:
            out[int(status)] = response.get("description") or out.get(int(status), "")
    return out


def _error_response(
    status: int, description: str, operation: dict[str, Any], scopes: list[str]
) -> dict[str, Any]:
    example = {
        "error": {
            **_error_example(status, description, operation, scopes),
            "correlation_id": CORRELATION_ID,
        }
    }
    content = {"application/json": {"schema": {"$ref": ERROR_REF}, "example": example}}
    if status == 429:
        return {"description": description, "headers": RATE_LIMIT_HEADERS, "content": content}
    return {"description": description, "content": content}


RATE_LIMIT_HEADERS = {
    "Retry-After": {
        "description": "Seconds to wait before retrying (RFC 9110).",
        "schema": {"type": "integer", "minimum": 1},
    },
    "RateLimit-Limit": {
        "description": "Requests this instance lets the key send at once (its bucket).",
        "schema": {"type": "integer"},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in the bucket (0 here).",
        "schema": {"type": "integer"},
    },
    "RateLimit-Reset": {
        "description": "Seconds until the bucket is full again.",
        "schema": {"type": "integer"},
    },
}


def _error_example(
    status: int, description: str, operation: dict[str, Any], scopes: list[str]
) -> dict[str, Any]:
    body = next(iter(operation.get("requestBody", {}).get("content", {})), "application/json")
    details: list[dict[str, str]] = []
    if status == 401 and _by_token(operation):
        code, message = "unauthorized", "a feed token is required in the URL: ?token=<token>"
    elif status == 401:
        code, message = "unauthorized", "an API key is required: Authorization: Bearer <key>"
    elif status == 403:
        code, message = "forbidden", f"this API key lacks the scope {' and '.join(scopes)}"
    elif status == 404:
        code, message = "not_found", _not_found(operation)
    elif status == 409:
        code, message = "conflict", description
    elif status == 413:
        code = "payload_too_large"
        message = "request body is larger than 16777216 bytes; split it into smaller batches"
    elif status == 415:
        code = "unsupported_media_type"
        message = f"Content-Type text/plain is not supported here; send {body}"
        details = [{"loc": "header.content-type", "message": f"expected {body}"}]
    elif status == 429:
        scope = scopes[0] if scopes else ADMIN
        rule = "1000 requests/s with bursts of 2000"
        code = "rate_limited"
        message = f"API key 0a1b2c3d4e5f is over its rate limit for {scope}: {rule}; retry "
        message += "after 1 s"
        details = [{"loc": "header.authorization", "message": f"rate limit {scope}: {rule}"}]
    elif status == 503:
        code, message = "service_unavailable", "the database is not reachable right now; retry"
    elif status != 422:  # another status a route declares: its reason is the message
        code, message = ("bad_request" if status == 400 else "error"), description
    else:
        detail = _invalid_input(operation)
        code, details = "validation_failed", [detail]
        message = f"request is invalid: {detail['loc']}: {detail['message']}"
    return {"code": code, "message": message, "details": details}


def _not_found(operation: dict[str, Any]) -> str:
    path = [p for p in operation["parameters"] if p["in"] == "path"]
    name = path[0]["name"]
    return f"{name.removesuffix('_id').replace('_', ' ')} {EXAMPLE_ID} not found"


def _invalid_input(operation: dict[str, Any]) -> dict[str, str]:
    """A validation failure this operation could really report, naming one of its inputs:
    a query parameter (`limit` first), else the body, else a path or header parameter. (A
    path segment that is not a UUID matches no route at all: a 404, never a 422.)"""
    params = [p for p in operation.get("parameters", []) if _can_fail(p)]
    where = {"query": 0, "path": 2, "header": 3}
    ranked = sorted(params, key=lambda p: (where.get(p["in"], 4), p["name"] != "limit"))
    if ranked and (ranked[0]["in"] == "query" or "requestBody" not in operation):
        return _invalid_param(ranked[0])
    return {"loc": "body", "message": "Field required", "type": "missing"}


_CONSTRAINTS = {"format", "pattern", "maximum", "minimum", "maxLength", "minLength", "$ref"}


def _can_fail(param: dict[str, Any]) -> bool:
    found = _form(param["schema"])
    if param["in"] == "path" and found.get("format") == "uuid":
        return False  # a route's UUID segment: anything else matches no route (404)
    return bool(_CONSTRAINTS & set(found)) or found.get("type") in ("integer", "boolean")


def _form(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema with its `anyOf` branches (optional ones) merged."""
    return {key: form[key] for form in [schema, *schema.get("anyOf", [])] for key in form}


_FORMATS = {
    "uuid": "Input should be a valid UUID",
    "date": "expected an ISO 8601 date YYYY-MM-DD, for example 2026-03-01",
    "date-time": "expected an ISO 8601 date-time with a UTC offset, for example "
    "2026-03-14T03:00:00Z or 2026-03-14T03:00:00-05:00",
}


def _invalid_param(param: dict[str, Any]) -> dict[str, str]:
    found = _form(param["schema"])
    if found.get("format") in _FORMATS:
        message = _FORMATS[found["format"]]
    elif "maximum" in found:
        message = f"Input should be less than or equal to {found['maximum']}"
    elif "minimum" in found:
        message = f"Input should be greater than or equal to {found['minimum']}"
    elif "pattern" in found:
        message = f"String should match pattern '{found['pattern']}'"
    elif "maxLength" in found:
        message = f"String should have at most {found['maxLength']} characters"
    elif "enum" in found:
        message = "Input should be " + " or ".join(repr(v) for v in found["enum"])
    elif found.get("type") == "integer":
        message = "expected an integer written with digits only, for example 25"
    else:
        message = "Input should be one of the documented values"
    return {"loc": f"{param['in']}.{param['name']}", "message": message, "type": "value_error"}


def _add_example(operation: dict[str, Any], recorded: dict[str, Any]) -> None:
    """A recorded answer, where the operation documents its status and content type."""
    response = operation["responses"].get(str(recorded["status"]), {})
    media = response.get("content", {}).get(recorded["content_type"])
    if media is not None:
        media["example"] = recorded["example"]
