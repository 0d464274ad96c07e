"""The gauges operators alert on move with what the service does, as /metrics shows them:
webhook deliveries that fail, a periodic job's last success, Idempotency-Key hits and
misses, API key lookups and the stored keys, and /docs counted under its own route."""

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from crm_events.schemas.access import ApiKeyIssued
from crm_platform.apikeys import new_key, record_issued, sha256_hex
from crm_testing.auth import bearer
from crm_testing.kafka import wait_until
from crm_testing.webhooks import WebhookReceiver
from obligation_tracker.main import CHECK_JOB
from obligation_tracker.obligations.checks import check_obligations
from obligation_tracker.settings import Settings

KICKOFF = {"code": "KICKOFF", "title": "Kick-off meeting", "owner_role": "account_executive"}


@pytest.fixture
def tracker_settings(tracker_settings: Settings) -> Settings:
    return tracker_settings.model_copy(update={"webhook_max_attempts": 2})


async def scrape(tracker: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Sample the gauges now, then read /metrics as Prometheus would."""
    await tracker.app.state.sample_metrics()
    resp = await tracker.client.get("/metrics")
    assert resp.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_a_delivery_whose_attempts_fail_shows_as_failed_then_is_gone_when_delivered(
    tracker: Any, make_terms: Any
) -> None:
    cid, tenant = uuid.uuid4(), f"tenant-{uuid.uuid4().hex[:8]}"
    async with WebhookReceiver(default_status=500) as receiver:
        body = {"url": receiver.url, "tenant_id": tenant, "event_types": ["obligation.created"]}
        hook = (await tracker.client.post("/webhooks", json=body)).json()
        terms = make_terms(
            cid, tenant_id=tenant, start_date="2026-12-07", obligation_definitions=[KICKOFF]
        )
        await tracker.activate(terms)

        async def failed() -> bool:
            return value(await scrape(tracker), "crm_webhook_deliveries", state="failed") == 1

        await wait_until(failed, message="the delivery failed")
    samples = await scrape(tracker)
    assert value(samples, "crm_webhook_deliveries", state="pending") == 0
    assert value(samples, "crm_webhook_deliveries", state="retrying") == 0
    assert value(samples, "crm_webhook_oldest_pending_age_seconds") == 0
    assert value(samples, "crm_metrics_sampled_timestamp_seconds", sampler="webhooks") > 0

    # A redelivery to a receiver that now answers makes it pending again, then delivered.
    deliveries = (await tracker.client.get(f"/webhooks/{hook['id']}/deliveries")).json()
    async with WebhookReceiver(default_status=204) as healthy:
        patched = await tracker.client.patch(f"/webhooks/{hook['id']}", json={"url": healthy.url})
        assert patched.status_code == 200, patched.text
        delivery_id = deliveries["items"][0]["id"]
        resp = await tracker.client.post(
            f"/webhooks/{hook['id']}/deliveries/{delivery_id}/redeliver"
        )
        assert resp.status_code in (200, 202), resp.text

        async def delivered() -> bool:
            s = await scrape(tracker)
            return (
                sum(
                    value(s, "crm_webhook_deliveries", state=st)
                    for st in ("pending", "retrying", "failed")
                )
                == 0
            )

        await wait_until(delivered, message="the redelivery went through")


async def test_a_job_run_sets_its_last_success(tracker: Any) -> None:
    before = time.time()
    await tracker.run(CHECK_JOB, check_obligations)
    stamp = value(
        await scrape(tracker), "crm_job_last_success_timestamp_seconds", job_name=CHECK_JOB
    )
    assert before <= stamp <= time.time()


async def test_idempotency_hits_misses_and_stored_keys_are_counted(tracker: Any) -> None:
    name = "crm_idempotency_lookups_total"
    start = await scrape(tracker)
    headers = {"Idempotency-Key": "rule-1", "X-Tenant-Id": f"t-{uuid.uuid4().hex[:8]}"}
    body = {"event_type": "billing.credit_calculated", "min_amount": "1000.00"}
    for _ in range(2):
        resp = await tracker.client.post("/alert-rules", json=body, headers=headers)
        assert resp.status_code == 201, resp.text
    other = {**body, "min_amount": "2000.00"}
    resp = await tracker.client.post("/alert-rules", json=other, headers=headers)
    assert resp.status_code == 422
    end = await scrape(tracker)
    moved = {
        r: value(end, name, result=r) - value(start, name, result=r)
        for r in ("hit", "miss", "conflict")
    }
    assert moved == {"hit": 1, "miss": 1, "conflict": 1}
    assert value(end, "crm_idempotency_stored_keys") == 1  # a database of this test's own


async def test_api_key_lookups_and_stored_keys_are_counted(tracker: Any) -> None:
    name = "crm_auth_key_lookups_total"
    key_id, secret, key = new_key()
    issued = ApiKeyIssued(
        key_id=key_id,
        name="metrics test",
        tenant_id="acme-bank",
        scopes=["obligations:read"],
        secret_sha256=sha256_hex(secret),
        issued_at=datetime.now(UTC),
    )
    async with tracker.app.state.session_factory() as session, session.begin():
        await record_issued(session, issued)
    start = await scrape(tracker)
    assert (await tracker.client.get("/alerts", headers=bearer(key))).status_code == 200
    bogus = bearer(f"crm_{key_id}_wrong")
    assert (await tracker.client.get("/alerts", headers=bogus)).status_code == 401
    end = await scrape(tracker)
    assert value(end, name, result="valid") - value(start, name, result="valid") == 1
    assert value(end, name, result="rejected") - value(start, name, result="rejected") == 1
    assert value(end, "crm_api_keys", state="active") == 1
    assert value(end, "crm_api_keys", state="inactive") == 0


async def test_the_docs_page_is_counted_under_its_route_not_as_unmatched(tracker: Any) -> None:
    name = "crm_http_requests_total"
    start = await scrape(tracker)
    assert (await tracker.client.get("/docs")).status_code == 200
    assert (await tracker.client.get("/no-such-page")).status_code == 404
    end = await scrape(tracker)
    docs = {"method": "GET", "route": "/docs", "status": "200"}
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(end, name, **docs) - value(start, name, **docs) == 1
    assert value(end, name, **unmatched) - value(start, name, **unmatched) == 1
