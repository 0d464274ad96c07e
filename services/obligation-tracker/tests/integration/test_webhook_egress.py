"""Webhooks cannot be pointed inside (SSRF): refused at registration with a 422 on `url`, and
on every delivery attempt, where the connection goes only to an address the guard checked
(DNS rebinding reaches nothing) and redirects are not followed.

Every test here runs under `outside` (tests/conftest.py): names resolve through a stub, and
a connection to any address but loopback is refused before a packet leaves and fails the
test. Real traffic goes to receivers on 127.0.0.1 only."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from crm_testing.apps import running_app
from crm_testing.kafka import wait_until
from crm_testing.webhooks import WebhookReceiver
from obligation_tracker.main import create_app
from obligation_tracker.settings import Settings

KICKOFF = {"code": "KICKOFF", "title": "Kick-off meeting", "owner_role": "account_executive"}
PUBLIC = "93.184.215.14"  # a public address no test connects to (the guard lets it through)


@pytest.fixture
def tracker_settings(tracker_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The tracker's settings, changed by the test's indirect parameter."""
    return tracker_settings.model_copy(update=getattr(request, "param", {}))


def changed(**changes: Any) -> Any:
    """The tracker of the test with these settings changed."""
    return pytest.mark.parametrize("tracker_settings", [changes], indirect=True, ids=[""])


@asynccontextmanager
async def tracker_app(
    settings: Settings, clock: Any, **changes: Any
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app(settings.model_copy(update=changes), clock=clock)) as (
        _,
        client,
    ):
        yield client


async def subscribe(client: httpx.AsyncClient, url: str, tenant: str) -> dict[str, Any]:
    body = {"url": url, "tenant_id": tenant, "event_types": ["obligation.created"]}
    resp = await client.post("/webhooks", json=body)
    assert resp.status_code == 201, resp.text
    hook: dict[str, Any] = resp.json()
    return hook


async def one_obligation(tracker: Any, make_terms: Any, tenant: str) -> None:
    """A contract that opens one obligation: one obligation.created for the tenant."""
    terms = make_terms(
        uuid.uuid4(), tenant_id=tenant, start_date="2026-12-07", obligation_definitions=[KICKOFF]
    )
    await tracker.activate(terms)


async def failed_delivery(client: httpx.AsyncClient, hook_id: str) -> dict[str, Any]:
    """The subscription's one delivery, once settled: it must have failed (its attempts
    spent), not been delivered."""

    async def settled() -> dict[str, Any] | None:
        log = (await client.get(f"/webhooks/{hook_id}/deliveries")).json()["items"]
        return log[0] if log and log[0]["status"] != "pending" else None

    found: dict[str, Any] = await wait_until(settled, message="the delivery settled")
    assert found["status"] == "failed", found
    return found


def new_tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:8]}"


async def test_internal_urls_are_refused_at_registration_naming_the_field(
    outside: Any, tracker_settings: Settings, clock: Any
) -> None:
    outside.resolve("hooks.internal.test", ["10.1.2.3"])
    outside.resolve("erp.public.test", [PUBLIC])
    refused = {
        "http://127.0.0.1:9/h": "127.0.0.1 is a loopback address",
        "http://localhost:9/h": "localhost resolves to",
        "http://[::ffff:127.0.0.1]:9/h": "loopback (as ::ffff:7f00:1)",
        "http://169.254.169.254/latest/meta-data/": "link-local (cloud metadata)",
        "http://[fd00:ec2::254]/latest/meta-data/": "fd00:ec2::254 is a private address",
        "https://hooks.internal.test/h": "hooks.internal.test resolves to 10.1.2.3, which is a "
        "private address",
        "http://0.0.0.0:8080/h": "unspecified",
    }
    tenant = new_tenant()
    # No allow-list at all: not even the tests' loopback receivers.
    async with tracker_app(
        tracker_settings, clock, webhook_allowed_networks=[], webhooks_enabled=False
    ) as client:
        for url, reason in refused.items():
            resp = await client.post("/webhooks", json={"url": url, "tenant_id": tenant})
            assert resp.status_code == 422, (url, resp.text)
            [detail] = resp.json()["error"]["details"]
            assert detail["loc"] == "body.url" and reason in detail["message"], (url, detail)
            assert "public addresses only" in detail["message"]
        # A public name is taken, and so is one that does not resolve yet (every attempt
        # checks again); a change of URL is checked like a new one.
        hook = await subscribe(client, "https://erp.public.test/hooks/crm", tenant)
        await subscribe(client, "https://not-yet.test/hooks/crm", tenant)
        moved = await client.patch(
            f"/webhooks/{hook['id']}", json={"url": "http://169.254.169.254/latest/meta-data/"}
        )
        assert moved.status_code == 422
        assert moved.json()["error"]["details"][0]["loc"] == "body.url"
        listed = (await client.get("/webhooks", params={"limit": 100})).json()["items"]
    assert sorted(h["url"] for h in listed if h["tenant_id"] == tenant) == [
        "https://erp.public.test/hooks/crm",
        "https://not-yet.test/hooks/crm",
    ]
    assert outside.refused == []


@changed(webhook_max_attempts=2)
async def test_a_name_that_turns_private_is_refused_on_every_attempt_and_logged(
    outside: Any, tracker: Any, make_terms: Any
) -> None:
    # Public when registered, 10.0.0.7 ever after.
    outside.resolve("erp.rebind.test", [PUBLIC], ["10.0.0.7"])
    tenant = new_tenant()
    hook = await subscribe(tracker.client, "https://erp.rebind.test/hooks/crm", tenant)
    await one_obligation(tracker, make_terms, tenant)
    delivery = await failed_delivery(tracker.client, hook["id"])
    expected = "refused: erp.rebind.test resolves to 10.0.0.7, which is a private address"
    assert [a["attempt"] for a in delivery["attempt_log"]] == [1, 2]
    for attempt in delivery["attempt_log"]:
        assert attempt["status_code"] is None and attempt["error"].startswith(expected)
    assert delivery["last_error"].startswith(expected)
    assert outside.lookups.count("erp.rebind.test") >= 3  # registration and each attempt
    assert outside.refused == []


@changed(webhook_allowed_networks=[], webhook_max_attempts=2)
async def test_dns_rebinding_between_the_check_and_the_connection_reaches_nothing(
    outside: Any, tracker: Any, make_terms: Any
) -> None:
    """The name answers a public address to the registration and to the attempt's check,
    then 127.0.0.1, where a receiver listens: a client that resolved again to connect would
    reach it. The guarded connection resolves once and connects to what it checked."""
    tenant = new_tenant()
    async with WebhookReceiver() as receiver:
        outside.resolve("rebind.test", [PUBLIC], [PUBLIC], ["127.0.0.1"])
        hook = await subscribe(tracker.client, f"http://rebind.test:{receiver.port}/h", tenant)
        await one_obligation(tracker, make_terms, tenant)
        delivery = await failed_delivery(tracker.client, hook["id"])
    assert receiver.requests == []
    first, second = delivery["attempt_log"]
    assert first["error"].startswith(
        "refused: rebind.test resolves to 127.0.0.1, which is a loopback address"
    )
    assert second["error"] == first["error"]
    assert outside.refused == []


@changed(webhook_max_attempts=1)
async def test_redirects_are_not_followed(outside: Any, tracker: Any, make_terms: Any) -> None:
    """Receivers on 127.0.0.1 (allowed here) answer 302 to another local port and 307 to
    the metadata address: neither is followed; each attempt fails with the Location."""
    tenant = new_tenant()
    async with (
        WebhookReceiver() as target,
        WebhookReceiver(
            default_status=302, reply_headers={"Location": f"http://127.0.0.1:{target.port}/x"}
        ) as local,
        WebhookReceiver(
            default_status=307,
            reply_headers={"Location": "http://169.254.169.254/latest/meta-data/"},
        ) as metadata,
    ):
        hooks = [await subscribe(tracker.client, r.url, tenant) for r in (local, metadata)]
        await one_obligation(tracker, make_terms, tenant)
        to_local, to_metadata = [await failed_delivery(tracker.client, h["id"]) for h in hooks]
        assert len(local.requests) == len(metadata.requests) == 1
        port = target.port
    assert target.requests == []
    [attempt] = to_local["attempt_log"]
    assert attempt["status_code"] == 302
    assert attempt["error"] == (
        f"HTTP 302: redirects are not followed (to http://127.0.0.1:{port}/x)"
    )
    assert to_metadata["attempt_log"][0]["error"] == (
        "HTTP 307: redirects are not followed (to http://169.254.169.254/latest/meta-data/)"
    )
    assert outside.refused == []
