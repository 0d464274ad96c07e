"""API keys as a replicating service sees them (obligation-tracker, fed by access.v1), with
the in-process key cache: a known key costs no session of its own, a key issued elsewhere
works as soon as its event arrives, a revocation event is refused at once whatever the TTL,
a revocation the consumer never sees is refused within the TTL, and an expired key at its
expiry."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from crm_events.schemas.access import ApiKeyIssued, ApiKeyRevoked
from crm_platform.apikeys import api_keys_table, new_key, sha256_hex
from crm_testing.auth import bearer
from crm_testing.kafka import make_event, publish_envelope, wait_until
from obligation_tracker.settings import Settings

CHEAP_GET = "/alerts"  # obligations:read, one query of its own


@pytest.fixture
def tracker_settings(tracker_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    ttl = getattr(request, "param", 60.0)  # long by default: only an event can refuse a key
    return tracker_settings.model_copy(update={"api_key_cache_ttl_seconds": ttl})


@dataclass
class Usage:
    sessions: int = 0
    key_queries: int = 0


@contextmanager
def counted(app: Any) -> Iterator[Usage]:
    """Sessions the requests open (the factory auth and routes take from app.state; the
    relay and consumers hold their own reference) and the key lookups sent to PostgreSQL."""
    usage = Usage()
    factory = app.state.session_factory

    def counting_factory() -> Any:
        usage.sessions += 1
        return factory()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM api_keys" in statement and "api_keys.key_id =" in statement:
            usage.key_queries += 1

    engine = app.state.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", on_execute)
    app.state.session_factory = counting_factory
    try:
        yield usage
    finally:
        app.state.session_factory = factory
        sa.event.remove(engine, "before_cursor_execute", on_execute)


def issued(tenant: str, expires_at: datetime | None = None) -> tuple[ApiKeyIssued, str]:
    key_id, secret, key = new_key()
    event = ApiKeyIssued(
        key_id=key_id,
        name="cache test",
        tenant_id=tenant,
        scopes=["obligations:read"],
        secret_sha256=sha256_hex(secret),
        issued_at=datetime.now(UTC),
        expires_at=expires_at,
    )
    return event, key


async def on_access_v1(tracker: Any, event_type: str, key_id: str, data: Any) -> None:
    envelope = make_event(event_type, subject=key_id, data=data, tenant="*", source="registry")
    await publish_envelope(tracker.bootstrap, envelope)


async def status(tracker: Any, key: str) -> int:
    code: int = (await tracker.client.get(CHEAP_GET, headers=bearer(key))).status_code
    return code


async def replicated_key(tracker: Any, expires_at: datetime | None = None) -> tuple[str, str]:
    """A key issued elsewhere, accepted once access.v1 brought it: (key id, key)."""
    event, key = issued(f"t-{uuid.uuid4().hex[:8]}", expires_at)
    assert await status(tracker, key) == 401  # not here yet, and not remembered as unknown
    await on_access_v1(tracker, "api_key.issued", event.key_id, event)

    async def accepted() -> bool:
        return await status(tracker, key) == 200

    await wait_until(accepted, timeout=30, message="the issued key is accepted")
    return event.key_id, key


def evictions(reason: str) -> float:
    return REGISTRY.get_sample_value("crm_auth_key_cache_evictions_total", {"reason": reason}) or 0


async def test_a_known_key_costs_no_session_and_no_query(tracker: Any) -> None:
    _, key = await replicated_key(tracker)
    with counted(tracker.app) as usage:
        for _ in range(5):
            assert await status(tracker, key) == 200
    assert usage.key_queries == 0
    assert usage.sessions == 5  # the route's own, none for the key

    tracker.app.state.key_cache.clear()  # what the same requests cost without the cache
    with counted(tracker.app) as usage:
        assert await status(tracker, key) == 200
    assert (usage.sessions, usage.key_queries) == (2, 1)
    # A wrong secret under a known key id is refused from memory as well.
    key_id = key.split("_")[1]
    with counted(tracker.app) as usage:
        assert await status(tracker, f"crm_{key_id}_not-the-secret") == 401
    assert (usage.sessions, usage.key_queries) == (0, 0)


async def test_a_revocation_on_access_v1_is_refused_at_once_whatever_the_ttl(
    tracker: Any,
) -> None:
    key_id, key = await replicated_key(tracker)
    assert await status(tracker, key) == 200  # cached now, for 60 s
    invalidated = evictions("invalidated")
    revoked = ApiKeyRevoked(key_id=key_id, reason="rotated", revoked_at=datetime.now(UTC))
    started = time.monotonic()
    await on_access_v1(tracker, "api_key.revoked", key_id, revoked)

    async def refused() -> bool:
        return await status(tracker, key) == 401

    await wait_until(refused, timeout=30, message="the revoked key is refused")
    assert time.monotonic() - started < 30  # far inside the 60 s TTL: the event did it
    assert evictions("invalidated") - invalidated >= 1
    assert key_id not in tracker.app.state.key_cache._entries
    assert await status(tracker, key) == 401  # and is not cached again


@pytest.mark.parametrize("tracker_settings", [1.0], indirect=True)
async def test_a_revocation_the_consumer_never_sees_is_refused_within_the_ttl(
    tracker: Any,
) -> None:
    key_id, key = await replicated_key(tracker)
    assert await status(tracker, key) == 200
    t = api_keys_table
    async with tracker.app.state.session_factory() as session, session.begin():
        await session.execute(
            sa.update(t).where(t.c.key_id == key_id).values(revoked_at=sa.func.now())
        )
    revoked_at = time.monotonic()
    # Still accepted from memory: the database alone does not reach the cache...
    assert await status(tracker, key) == 200

    async def refused() -> bool:
        return await status(tracker, key) == 401

    await wait_until(refused, timeout=10, interval=0.02, message="refused after the TTL")
    # ...but the TTL does, counted from the read that loaded the entry (before the update).
    assert time.monotonic() - revoked_at <= 1.0 + 0.25


async def test_an_expired_key_is_refused_at_its_expiry_not_at_the_cache_ttl(
    tracker: Any,
) -> None:
    expires_at = tracker.clock.now() + timedelta(minutes=5)
    key_id, key = await replicated_key(tracker, expires_at)
    assert await status(tracker, key) == 200
    tracker.clock.set(expires_at - timedelta(microseconds=1))
    assert await status(tracker, key) == 200
    tracker.clock.set(expires_at)
    assert await status(tracker, key) == 401
    assert key_id in tracker.app.state.key_cache._entries  # refused though still cached
