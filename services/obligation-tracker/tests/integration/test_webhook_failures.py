"""How a failed webhook attempt ends: a receiver that answers 410 Gone is unsubscribed at
once; a delivery whose attempts are spent fails while its subscription stays enabled."""

import uuid
from typing import Any

import pytest

from crm_testing.kafka import wait_until
from crm_testing.webhooks import WebhookReceiver
from obligation_tracker.settings import Settings

KICKOFF = {"code": "KICKOFF", "title": "Kick-off meeting", "owner_role": "account_executive"}


@pytest.fixture
def tracker_settings(tracker_settings: Settings) -> Settings:
    # Two attempts per delivery, and far fewer than the failures that disable a subscription.
    return tracker_settings.model_copy(update={"webhook_max_attempts": 2})


async def _one_delivery(tracker: Any, make_terms: Any, receiver: WebhookReceiver) -> str:
    """A subscription to obligation.created and a contract that opens one obligation."""
    cid, tenant = uuid.uuid4(), f"tenant-{uuid.uuid4().hex[:8]}"
    body = {"url": receiver.url, "tenant_id": tenant, "event_types": ["obligation.created"]}
    hook: dict[str, Any] = (await tracker.client.post("/webhooks", json=body)).json()
    terms = make_terms(
        cid, tenant_id=tenant, start_date="2026-12-07", obligation_definitions=[KICKOFF]
    )
    await tracker.activate(terms)
    return str(hook["id"])


async def _settled(tracker: Any, hook_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The subscription and its one delivery, once the subscription is disabled or the
    delivery is no longer pending."""

    async def read() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        hook = (await tracker.client.get(f"/webhooks/{hook_id}")).json()
        log = (await tracker.client.get(f"/webhooks/{hook_id}/deliveries")).json()["items"]
        return hook, log

    async def settled() -> bool:
        hook, log = await read()
        return bool(log) and (not hook["enabled"] or log[0]["status"] != "pending")

    await wait_until(settled, message="the delivery settled")
    # Read both again: the two reads that saw it settle may straddle its commit. Nothing
    # changes after it (neither a disabled subscription nor a failed delivery is attempted).
    hook, log = await read()
    return hook, log[0]


async def test_a_receiver_answering_410_gone_is_unsubscribed_at_its_first_attempt(
    tracker: Any, make_terms: Any
) -> None:
    async with WebhookReceiver(default_status=410) as receiver:
        hook, delivery = await _settled(tracker, await _one_delivery(tracker, make_terms, receiver))
    assert (hook["enabled"], hook["disabled_reason"], hook["consecutive_failures"]) == (
        False,
        "the receiver answered 410 Gone",
        1,
    )
    assert hook["disabled_at"] is not None
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "pending",
        1,
        410,
    )
    assert delivery["last_error"] == "HTTP 410: receiver says no"
    assert [(a["attempt"], a["status_code"]) for a in delivery["attempt_log"]] == [(1, 410)]
    assert len(receiver.requests) == 1


async def test_a_delivery_whose_attempts_are_spent_fails_and_the_subscription_stays(
    tracker: Any, make_terms: Any
) -> None:
    async with WebhookReceiver(default_status=500) as receiver:
        hook, delivery = await _settled(tracker, await _one_delivery(tracker, make_terms, receiver))
    assert (hook["enabled"], hook["disabled_reason"], hook["consecutive_failures"]) == (
        True,
        None,
        2,
    )
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "failed",
        2,
        500,
    )
    assert delivery["last_error"] == "HTTP 500: receiver says no"
    assert delivery["delivered_at"] is None
    assert [(a["attempt"], a["status_code"], a["error"]) for a in delivery["attempt_log"]] == [
        (1, 500, "HTTP 500: receiver says no"),
        (2, 500, "HTTP 500: receiver says no"),
    ]
    assert len(receiver.requests) == 2
