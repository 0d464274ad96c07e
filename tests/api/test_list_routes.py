"""Every operation of the four services, run by the tour (tour.py) against the services as
processes:

- every list route, found in the OpenAPI documents, pages to the end with a small limit:
  no item missed or repeated, `next_cursor` null at the end; a list route that answers a
  plain array fails unless it is listed below as bounded, with the reason;
- every operation answered a success during the tour: its example. Run with
  `CRM_RECORD_OPENAPI_EXAMPLES=1` to write those answers as the documents' examples
  (services/*/src/*/openapi_examples.json; tests/api/test_openapi.py checks them);
- every secured operation refuses a key without the scope its document names (403), and
  lets a key with just that scope through.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from crm_platform.apikeys import SCOPES
from crm_platform.pagination import MAX_LIMIT
from crm_testing.auth import ADMIN_HEADERS, bearer
from crm_testing.kafka import wait_until
from crm_testing.stack import SERVICES, Stack
from crm_testing.webhooks import WebhookReceiver

from .recorder import Recorder
from .tour import Tour

# Lists bounded by nature stay plain arrays (docs/README: "Lists and pages").
BOUNDED = {
    ("sla-monitor", "listSlaAttainment"): "the last `last` periods of one SLA (1 to 36)",
}
IDENTITY = ("id", "key_id", "feed_id", "record_id", "credit_id")
OPEN = {"/healthz", "/readyz", "/metrics"}


@pytest.fixture(scope="module")
async def toured(stack: Stack) -> AsyncIterator[Recorder]:
    async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as plain:
        recorder = await Recorder.for_stack(stack, plain)
    async with (
        WebhookReceiver() as receiver,
        httpx.AsyncClient(
            timeout=30, headers=ADMIN_HEADERS, event_hooks={"response": [recorder]}
        ) as http,
    ):
        tour = Tour(http, stack, receiver)
        await tour.run()
        yield recorder
        await tour.leave()


async def _spec(http: httpx.AsyncClient, stack: Stack, service: str) -> dict[str, Any]:
    spec: dict[str, Any] = (await http.get(f"{stack.url(service)}/openapi.json")).json()
    return spec


def list_routes(spec: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """operationId → (path, "page" or "array") for each GET whose answer is a list."""
    out = {}
    for path, operations in spec["paths"].items():
        op = operations.get("get")
        media = op and op["responses"]["200"].get("content", {}).get("application/json")
        if not media:
            continue
        schema = media["schema"]
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        if schema.get("type") == "array":
            out[op["operationId"]] = (path, "array")
        elif {"items", "next_cursor"} <= set(schema.get("properties", {})):
            out[op["operationId"]] = (path, "page")
    return out


def _with(url: str, **params: Any) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _identity(item: dict[str, Any]) -> str:
    found = next((k for k in IDENTITY if k in item), None)
    return str(item[found]) if found else json.dumps(item, sort_keys=True)


async def _walk(http: httpx.AsyncClient, url: str) -> tuple[list[str], int]:
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        answer = await http.get(_with(url, **params))
        assert answer.status_code == 200, (url, answer.text)
        page = answer.json()
        seen += [_identity(i) for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, pages
        assert len(page["items"]) == 2, (url, page)  # only the last page is short


async def test_every_list_route_pages_to_the_end(stack: Stack, toured: Recorder) -> None:
    problems = []
    walked = 0
    # A page of two with a next cursor: the list's example.
    hooks: dict[str, list[Callable[..., Any]]] = {"response": [toured]}
    async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS, event_hooks=hooks) as http:
        for service in SERVICES:
            for operation_id, (path, kind) in list_routes(
                await _spec(http, stack, service)
            ).items():
                if kind == "array":
                    if (service, operation_id) not in BOUNDED:
                        problems.append(f"{service} {path}: a plain array; page it or bound it")
                    continue
                url = toured.urls.get(service, {}).get(operation_id)
                if url is None:
                    problems.append(f"{service} {path}: the tour never lists it")
                    continue
                problems += await _check_walk(http, f"{service} {operation_id}", url)
                walked += 1
    assert walked >= 20
    assert not problems, "\n".join(problems)


async def _check_walk(http: httpx.AsyncClient, name: str, url: str) -> list[str]:
    # The whole list first: anything that appears while walking may come on top of it.
    everything = (await http.get(_with(url, limit=MAX_LIMIT))).json()
    whole = [_identity(i) for i in everything["items"]]
    seen, pages = await _walk(http, url)
    problems = []
    if everything["next_cursor"] is not None or len(whole) < 5:
        problems.append(f"{name}: {len(whole)} items for the walk (5 to {MAX_LIMIT} wanted)")
    if len(seen) != len(set(seen)):
        problems.append(f"{name}: an item came twice in {pages} pages")
    if set(whole) - set(seen):
        problems.append(f"{name}: {len(set(whole) - set(seen))} items missed")
    if [k for k in seen if k in set(whole)] != whole:
        problems.append(f"{name}: the pages are not in the list's order")
    for params, loc in (({"cursor": "bm9wZQ"}, "query.cursor"), ({"limit": 1001}, "query.limit")):
        refused = await http.get(_with(url, **params))
        details = refused.json()["error"]["details"] if refused.status_code == 422 else []
        if loc not in [d["loc"] for d in details]:
            problems.append(f"{name}: {params} answered {refused.status_code}, not 422 {loc}")
    return problems


async def test_the_tour_reaches_every_operation(stack: Stack, toured: Recorder) -> None:
    missing = {}
    async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http:
        for service in SERVICES:
            spec = await _spec(http, stack, service)
            ids = {op["operationId"] for ops in spec["paths"].values() for op in ops.values()}
            missing[service] = sorted(ids - toured.reached(service))
    assert not any(missing.values()), missing
    if os.environ.get("CRM_RECORD_OPENAPI_EXAMPLES"):
        toured.write()


PATH_VALUES = {
    "period": "2026-03",
    "version": "1",
    "sla_code": "AVAIL-CORE",
    "key_id": "0123456789ab",
    "feed_id": "0123456789ab",
    "owner": "nobody@acme.example",
}


def _concrete(template: str) -> str:
    return re.sub(
        r"\{([^}]+)\}", lambda m: PATH_VALUES.get(m.group(1), str(uuid.uuid4())), template
    )


async def _issue(http: httpx.AsyncClient, stack: Stack, scopes: list[str]) -> dict[str, str]:
    body = {"name": f"scope check {scopes}", "tenant_id": None, "scopes": scopes}
    issued = await http.post(f"{stack.url('contract-registry')}/admin/api-keys", json=body)
    assert issued.status_code == 201, issued.text
    return bearer(issued.json()["api_key"])


async def test_every_operation_enforces_the_scope_its_document_names(stack: Stack) -> None:
    granted = sorted(set(SCOPES) - {"admin"})
    async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http:
        just = {s: await _issue(http, stack, [s]) for s in granted}
        lacking = {}
        for s in [*granted, "admin"]:
            implied = {s, s.replace(":read", ":write")}
            lacking[s] = await _issue(http, stack, [g for g in granted if g not in implied])
        just["admin"] = ADMIN_HEADERS
        await _known_everywhere(http, stack, [*just.values(), *lacking.values()])
        problems = []
        for service in SERVICES:
            for path, operations in (await _spec(http, stack, service))["paths"].items():
                if path in OPEN:
                    continue
                for method, op in operations.items():
                    if "FeedToken" in op["security"][0]:
                        continue  # its token, not a scope: tests/e2e/test_calendar_feeds.py
                    [scope] = op["security"][0]["ApiKey"]
                    url = stack.url(service) + _concrete(path)
                    refused = await http.request(method, url, headers=lacking[scope])
                    allowed = await http.request(method, url, headers=just[scope])
                    if refused.status_code != 403 or scope not in refused.text:
                        problems.append(f"{method} {path}: without {scope}: {refused.text}")
                    if allowed.status_code in (401, 403):
                        problems.append(f"{method} {path}: with {scope}: {allowed.text}")
    assert not problems, "\n".join(problems)


async def _known_everywhere(
    http: httpx.AsyncClient, stack: Stack, keys: list[dict[str, str]]
) -> None:
    """API keys reach every service on access.v1 within moments."""
    for service in SERVICES:
        terms = "" if service == "contract-registry" else "/terms"  # a route that authenticates
        probe = f"{stack.url(service)}/contracts/{uuid.uuid4()}{terms}"
        for headers in keys:

            async def known(headers: dict[str, str] = headers, probe: str = probe) -> bool:
                return (await http.get(probe, headers=headers)).status_code != 401

            await wait_until(known, timeout=60, message=f"a key known at {service}")
