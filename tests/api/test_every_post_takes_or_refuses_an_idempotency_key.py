"""Every POST of every service either honours `Idempotency-Key` (a retry gets the first
response) or refuses it (400): none ignores it, and each documents the header.

Each service runs in-process on its own fresh database. For every POST its OpenAPI lists,
the test stores a response under a key (as the first request would have) and sends the
retry: a route that honours the key answers the stored response, marked replayed, before it
looks at the body or any business state; a route that refuses it answers 400."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from billing_reconciler.main import create_app as billing_app
from billing_reconciler.settings import Settings as BillingSettings
from contract_registry.main import create_app as registry_app
from contract_registry.settings import Settings as RegistrySettings
from crm_platform.auth import Principal
from crm_platform.idempotency import fingerprint, idempotency_table, key_scope
from crm_testing.apps import running_app, settings_for
from obligation_tracker.main import create_app as obligations_app
from obligation_tracker.settings import Settings as ObligationSettings
from sla_monitor.main import create_app as sla_app
from sla_monitor.settings import Settings as SlaSettings

SERVICES: dict[str, tuple[Callable[..., FastAPI], type[Any], dict[str, Any]]] = {
    "contract-registry": (registry_app, RegistrySettings, {}),
    "obligation-tracker": (
        obligations_app,
        ObligationSettings,
        {"jobs_enabled": False, "webhooks_enabled": False},
    ),
    "sla-monitor": (sla_app, SlaSettings, {}),
    "billing-reconciler": (billing_app, BillingSettings, {}),
}
TENANT = "walk-tenant"
# Path parameters that must take a form to reach the route; any other is a UUID.
PATH_VALUES = {
    "period": "2026-03",
    "version": "1",
    "key_id": "0123456789ab",
    "feed_id": "0123456789ab",
    "sla_code": "X",
}
REFUSED = "Not accepted here"


def _posts(app: FastAPI) -> list[tuple[str, dict[str, Any], str]]:
    """(concrete path, the Idempotency-Key parameter it documents, the Content-Type its body
    takes) for every POST; a route that refuses the key documents its 400."""
    out = []
    for template, operations in app.openapi()["paths"].items():
        if "post" not in operations:
            continue
        path = re.sub(r"\{([^}]+)\}", lambda m: PATH_VALUES.get(m[1], str(uuid.uuid4())), template)
        documented = [
            p
            for p in operations["post"].get("parameters", [])
            if p["in"] == "header" and p["name"].lower() == "idempotency-key"
        ]
        assert len(documented) == 1, f"POST {template} does not document Idempotency-Key"
        assert documented[0].get("description"), f"POST {template}: the header says nothing"
        refuses = documented[0]["description"].startswith(REFUSED)
        assert ("400" in operations["post"]["responses"]) == refuses, f"POST {template}: 400"
        content = operations["post"].get("requestBody", {}).get("content", {})
        out.append((path, documented[0], next(iter(content), "application/json")))
    return out


async def _seed(app: FastAPI, path: str, key: str, body: bytes) -> dict[str, Any]:
    """What the first request with `key` stored: under the tenant's scope and under the
    calling key's (routes whose response holds a secret use the latter)."""
    stored = {"replayed_for": path}
    caller = Principal(tenant_id=TENANT, key_id="bootstrap")
    async with app.state.session_factory() as session, session.begin():
        for per_caller in (False, True):
            await session.execute(
                idempotency_table.insert().values(
                    scope=key_scope(caller, per_caller=per_caller),
                    key=key,
                    fingerprint=fingerprint("POST", path, body),
                    status_code=200,
                    response=stored,
                )
            )
    return stored


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_every_post_replays_or_refuses_the_idempotency_key(
    service: str, database_url: str, kafka_bootstrap: str
) -> None:
    create, settings_cls, overrides = SERVICES[service]
    settings = settings_for(
        settings_cls,
        database_url=database_url,
        bootstrap=kafka_bootstrap,
        consumers_enabled=False,
        relay_enabled=False,
        kafka_create_topics=False,
        **overrides,
    )
    body = b"{}"
    replayed, refused = [], []
    async with running_app(create(settings)) as (app, client):
        posts = _posts(app)
        for path, header, content_type in posts:
            key = f"walk-{uuid.uuid4()}"
            stored = await _seed(app, path, key, body)
            resp = await client.post(
                path,
                content=body,
                headers={
                    "Idempotency-Key": key,
                    "X-Tenant-Id": TENANT,
                    "content-type": content_type,
                },
            )
            if header["description"].startswith(REFUSED):
                assert resp.status_code == 400, (path, resp.status_code, resp.text)
                error = resp.json()["error"]
                assert error["code"] == "idempotency_key_not_supported", (path, error)
                assert error["details"] == [
                    {"loc": "header.Idempotency-Key", "message": "not supported here"}
                ]
                refused.append(path)
            else:
                assert (resp.status_code, resp.json()) == (200, stored), (path, resp.text)
                assert resp.headers["idempotent-replayed"] == "true", path
                replayed.append(path)
    assert len(posts) >= 2 and replayed, (replayed, refused)
