"""The four OpenAPI documents are ones an integrator can generate a client from and trust:
readable unique operation ids, the scope of every secured operation, only the errors an
operation can give (each with an example in the error shape; a 429 with `Retry-After` on
every one taking an API key), a success example per operation that matches its schema, and
a 415 for a body of any other Content-Type."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi import FastAPI

from billing_reconciler.main import create_app as billing_app
from contract_registry.main import create_app as registry_app
from crm_platform.apikeys import SCOPES
from crm_testing.auth import ADMIN_HEADERS, ADMIN_KEY
from obligation_tracker.main import create_app as obligations_app
from sla_monitor.main import create_app as sla_app

APPS: dict[str, Callable[[], FastAPI]] = {
    "contract-registry": registry_app,
    "obligation-tracker": obligations_app,
    "sla-monitor": sla_app,
    "billing-reconciler": billing_app,
}
OPEN = {"/healthz", "/readyz", "/metrics"}
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "service_unavailable",
}
ANY_UUID = "7b0c6f2e-8f7d-4a59-9d0e-2a1c3e5b6d7f"


@pytest.fixture(scope="module")
def specs() -> dict[str, dict[str, Any]]:
    return {name: create().openapi() for name, create in APPS.items()}


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def _by_token(op: dict[str, Any]) -> bool:
    return any("FeedToken" in requirement for requirement in op.get("security", []))


def _secured(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation that takes an API key (all but the open ones and the feeds)."""
    return [(m, p, op) for m, p, op in _operations(spec) if p not in OPEN and not _by_token(op)]


def test_a_feed_takes_its_token_in_the_url_and_says_only_what_it_can_answer(
    specs: dict[str, dict[str, Any]],
) -> None:
    feeds = {
        (service, m, p): op
        for service, spec in specs.items()
        for m, p, op in _operations(spec)
        if _by_token(op)
    }
    assert list(feeds) == [("obligation-tracker", "GET", "/calendar-feeds/{feed_id}/calendar.ics")]
    [op] = feeds.values()
    spec = specs["obligation-tracker"]
    scheme = spec["components"]["securitySchemes"]["FeedToken"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "query", "token")
    assert op["security"] == [{"FeedToken": []}]
    assert {int(s) for s in op["responses"] if int(s) >= 400} == {401, 404, 422, 503}
    example = op["responses"]["401"]["content"]["application/json"]["example"]["error"]
    assert "?token=" in example["message"] and "API key" not in example["message"]
    assert "text/calendar" in op["responses"]["200"]["content"]
    # Nowhere is an API key documented as a query parameter any more.
    for service, spec_ in specs.items():
        for m, p, operation in _operations(spec_):
            names = {q["name"] for q in operation.get("parameters", []) if q["in"] == "query"}
            assert "api_key" not in names, (service, m, p)


@pytest.mark.parametrize("service", sorted(APPS))
def test_operation_ids_are_readable_and_unique(
    service: str, specs: dict[str, dict[str, Any]]
) -> None:
    ids = [op["operationId"] for _, _, op in _operations(specs[service])]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for operation_id in ids:
        assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", operation_id), operation_id
    expected = {"listCredits", "getReconciliation", "postInvoice", "listContracts"}
    assert service != "billing-reconciler" or expected - {"listContracts"} <= set(ids)
    assert service != "sla-monitor" or "closeSlaPeriod" in ids


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_secured_operation_names_its_scope(
    service: str, specs: dict[str, dict[str, Any]]
) -> None:
    secured = _secured(specs[service])
    assert len(secured) >= 10
    for method, path, op in secured:
        [requirement] = op["security"]
        [scope] = requirement["ApiKey"]
        assert scope in SCOPES, (method, path, scope)
        assert f"**Scope:** `{scope}`" in op["description"], (method, path)
        if scope.endswith(":read"):
            assert method == "GET", (method, path, scope)
    for path in OPEN:
        assert "security" not in specs[service]["paths"][path]["get"]


@pytest.mark.parametrize("service", sorted(APPS))
def test_only_the_errors_an_operation_can_give_each_with_an_example(
    service: str, specs: dict[str, dict[str, Any]]
) -> None:
    spec = specs[service]
    validator = _validator(spec, "#/components/schemas/ErrorResponse")
    for method, path, op in _secured(spec):
        statuses = {int(s) for s in op["responses"] if int(s) >= 400}
        body = "requestBody" in op
        assert {401, 403, 429, 503} <= statuses, (method, path)
        assert "Retry-After" in op["responses"]["429"]["headers"], (method, path)
        assert (413 in statuses, 415 in statuses) == (body, body), (method, path)
        if method == "GET":
            assert not statuses & {409, 413, 415}, (method, path, statuses)
        assert (404 in statuses) == ("{" in path), (method, path)
        assert statuses <= set(CODES), (method, path, statuses)
        for status in statuses:
            media = op["responses"][str(status)]["content"]["application/json"]
            assert media["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
            example = media["example"]
            validator.validate(example)
            assert example["error"]["code"] == CODES[status], (method, path, status)
        forbidden = op["responses"]["403"]["content"]["application/json"]["example"]
        assert op["security"][0]["ApiKey"][0] in forbidden["error"]["message"]
        unauthorized = op["responses"]["401"]["content"]["application/json"]["example"]
        assert (
            "API key" in unauthorized["error"]["message"] and not unauthorized["error"]["details"]
        )


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_success_has_an_example_that_matches_its_schema(
    service: str, specs: dict[str, dict[str, Any]]
) -> None:
    spec = specs[service]
    missing = []
    for method, path, op in _operations(spec):
        for status, response in op["responses"].items():
            if int(status) >= 400:
                continue
            for media_type, media in response.get("content", {}).items():
                if "example" not in media:
                    missing.append(f"{method} {path} {status} {media_type}")
                elif media_type == "application/json" and "schema" in media:
                    _validator(spec, media["schema"]).validate(media["example"])
    assert not missing, "no example (record them: see tests/api/test_list_routes.py):\n" + (
        "\n".join(missing)
    )


@pytest.mark.parametrize("service", sorted(APPS))
async def test_a_body_of_another_content_type_is_a_415_in_the_error_shape(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_ADMIN_API_KEY", ADMIN_KEY)
    app = APPS[service]()
    with_body = [(m, p, op) for m, p, op in _secured(app.openapi()) if "requestBody" in op]
    assert with_body
    # Past the 415 check the routes need a database this test does not start: a 500 there.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        for method, template, op in with_body:
            path = re.sub(r"\{[^}]+\}", ANY_UUID, template)
            expected = next(iter(op["requestBody"]["content"]))
            for headers in ({"content-type": "text/plain"}, {}):
                resp = await http.request(
                    method, path, content=b"x", headers={**ADMIN_HEADERS, **headers}
                )
                assert resp.status_code == 415, (method, template, headers, resp.text)
                error = resp.json()["error"]
                assert error["code"] == "unsupported_media_type"
                assert expected in error["message"]
            # The documented type, with parameters, is not refused for its Content-Type.
            resp = await http.request(
                method,
                path,
                content=b"x",
                headers={**ADMIN_HEADERS, "content-type": f"{expected}; charset=utf-8"},
            )
            assert resp.status_code != 415, (method, template)


def _validator(spec: dict[str, Any], schema: dict[str, Any] | str) -> Any:
    root = {"$ref": schema} if isinstance(schema, str) else dict(schema)
    root["components"] = spec["components"]
    return jsonschema_rs.Draft202012Validator(root)
