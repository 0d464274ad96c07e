"""Rate limits per API key and scope class through the real service: a key bursts until
429 with `Retry-After` and the error shape naming its limit, another key is untouched, and
once `Retry-After` has passed (on the injected monotonic timer, then on the real one) the
same request succeeds."""

import asyncio

from contract_registry.main import create_app
from contract_registry.settings import Settings
from crm_platform.clock import ManualTimer
from crm_platform.ratelimit import RateLimiter
from crm_testing.apps import running_app, settings_for
from crm_testing.auth import bearer

READS = {"name": "dashboard", "tenant_id": "rl-acme", "scopes": ["contracts:read"]}


async def test_a_key_over_its_limit_gets_429_until_retry_after_has_passed(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(
        Settings,
        database_url=database_url,
        bootstrap=kafka_bootstrap,
        rate_limit_scopes={"contracts:read": {"per_second": 0.5, "burst": 3}},
    )
    timer = ManualTimer()
    async with running_app(create_app(settings)) as (app, client):
        app.state.rate_limiter = RateLimiter.from_settings(settings, timer=timer)
        issued = await client.post("/admin/api-keys", json=READS)
        assert issued.status_code == 201, issued.text
        key_id, headers = issued.json()["key_id"], bearer(issued.json()["api_key"])

        burst = [await client.get("/contracts", headers=headers) for _ in range(3)]
        refused = await client.get("/contracts", headers=headers)
        # Another key's reads have a bucket of their own (the bootstrap key's).
        others = await client.get("/contracts")
        timer.advance(int(refused.headers["retry-after"]) - 0.01)
        too_soon = await client.get("/contracts", headers=headers)
        timer.advance(0.01)
        again = await client.get("/contracts", headers=headers)

    assert [r.status_code for r in burst] == [200, 200, 200], burst[-1].text
    assert [r.headers["ratelimit-remaining"] for r in burst] == ["2", "1", "0"]
    assert {r.headers["ratelimit-limit"] for r in burst} == {"3"}
    assert refused.status_code == 429, refused.text
    assert refused.headers["retry-after"] == "2"  # one request at 0.5/s
    assert refused.headers["ratelimit-remaining"] == "0"
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert f"API key {key_id}" in error["message"]
    assert "contracts:read: 0.5 requests/s with bursts of 3" in error["message"]
    assert error["details"][0]["loc"] == "header.authorization"
    assert error["correlation_id"] == refused.headers["x-correlation-id"]
    assert others.status_code == 200, others.text
    assert too_soon.status_code == 429, too_soon.text
    assert again.status_code == 200, again.text


async def test_retry_after_holds_on_the_real_monotonic_clock(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(
        Settings,
        database_url=database_url,
        bootstrap=kafka_bootstrap,
        rate_limit_scopes={"contracts:read": {"per_second": 1, "burst": 1}},
    )
    async with running_app(create_app(settings)) as (_, client):
        first = await client.get("/contracts")
        refused = await client.get("/contracts")
        await asyncio.sleep(int(refused.headers["retry-after"]))
        again = await client.get("/contracts")
    assert first.status_code == 200, first.text
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1", refused.text
    assert again.status_code == 200, again.text


async def test_limits_can_be_turned_off(database_url: str, kafka_bootstrap: str) -> None:
    settings = settings_for(
        Settings,
        database_url=database_url,
        bootstrap=kafka_bootstrap,
        rate_limit_enabled=False,
        rate_limit_scopes={"contracts:read": {"per_second": 1, "burst": 1}},
    )
    async with running_app(create_app(settings)) as (_, client):
        answers = [await client.get("/contracts") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "ratelimit-remaining" not in answers[0].headers
