"""Every route of every service but health, readiness, metrics and the docs refuses a
request without an API key (401), before it validates anything or touches a database."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from billing_reconciler.main import create_app as billing_app
from contract_registry.main import create_app as registry_app
from obligation_tracker.main import create_app as obligations_app
from sla_monitor.main import create_app as sla_app

OPEN = {"/healthz", "/readyz", "/metrics"}
APPS: dict[str, Callable[[], FastAPI]] = {
    "contract-registry": registry_app,
    "obligation-tracker": obligations_app,
    "sla-monitor": sla_app,
    "billing-reconciler": billing_app,
}


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every operation the service documents (its OpenAPI paths)."""
    out = []
    for template, operations in app.openapi()["paths"].items():
        if template in OPEN:
            continue
        path = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", template)
        out += [(method.upper(), path) for method in operations]
    return out


@pytest.mark.parametrize("service", sorted(APPS))
async def test_every_business_route_needs_a_key(service: str) -> None:
    app = APPS[service]()
    routes = _routes(app)
    assert len(routes) >= 3
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        for method, path in routes:
            resp = await http.request(method, path, json={})
            assert resp.status_code == 401, (service, method, path, resp.status_code)
            assert resp.json()["error"]["code"] == "unauthorized"
        for path in OPEN:
            assert (await http.get(path)).status_code != 401
