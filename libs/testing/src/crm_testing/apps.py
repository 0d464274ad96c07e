"""Running a service app in-process against real PostgreSQL and Kafka."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from crm_testing.auth import ADMIN_HEADERS, ADMIN_KEY
from crm_testing.webhooks import LOOPBACK_NETWORKS, SECRET_KEYS


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Start the app's lifespan (migrations, relay, consumers) and give an HTTP client."""
    async with LifespanManager(app, startup_timeout=120, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=_state_per_request(manager.app))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", timeout=30, headers=ADMIN_HEADERS
        ) as client:
            yield app, client


def _state_per_request(asgi: Any) -> Any:
    """LifespanManager hands every request the same `scope["state"]` dict; uvicorn gives
    each request a shallow copy of the lifespan state. Do as uvicorn does, so per-request
    flags on `request.state` behave in tests as in production."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and "state" in scope:
            scope = {**scope, "state": dict(scope["state"])}
        await asgi(scope, receive, send)

    return app


def settings_for(
    settings_cls: Callable[..., Any], *, database_url: str, bootstrap: str, **overrides: Any
) -> Any:
    overrides.setdefault("admin_api_key", ADMIN_KEY)
    if "webhook_secret_keys" in getattr(settings_cls, "model_fields", {}):
        # obligation-tracker: its secrets' key, and its webhooks may reach the tests'
        # receivers on 127.0.0.1.
        overrides.setdefault("webhook_secret_keys", SECRET_KEYS)
        overrides.setdefault("webhook_allowed_networks", LOOPBACK_NETWORKS)
    # Every app its own consumer groups, starting at the end of the topics: it sees the
    # events its test publishes, never the backlog earlier tests (of any service) left.
    overrides.setdefault("consumer_group_suffix", f".{uuid.uuid4().hex[:8]}")
    overrides.setdefault("consumer_offset_reset", "latest")
    # Hundreds of apps start in one test process: freezing each one's start-up would keep
    # every earlier test's objects for good.
    overrides.setdefault("gc_tuned", False)
    return settings_cls(
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        log_json=False,
        relay_idle_interval_seconds=0.05,
        consumer_backoff_initial_seconds=0.05,
        consumer_backoff_max_seconds=0.5,
        **overrides,
    )


def refusals(response: httpx.Response, *, code: str = "validation_failed") -> dict[str, str]:
    """A 422 in the project's error shape, as {loc: message} of its details."""
    assert response.status_code == 422, (response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"] == code, error
    return {d["loc"]: d["message"] for d in error["details"]}
