"""Strict input on obligation-tracker's routes: dates only as YYYY-MM-DD, integers only as
digits, booleans only true/false, amounts only as exact decimal strings."""

from __future__ import annotations

import uuid
from typing import Any

from crm_testing.apps import refusals


async def test_lax_values_in_query_and_bodies_are_refused_with_their_loc(tracker: Any) -> None:
    cid = uuid.uuid4()
    for path, loc in [
        ("/obligations?due_from=0", "query.due_from"),
        ("/obligations?due_to=20261231", "query.due_to"),
        ("/obligations?limit=10.0", "query.limit"),
        ("/obligations?limit=1_0", "query.limit"),
        ("/obligations?limit=1001", "query.limit"),
        ("/obligations?cursor=bm90LWEtY3Vyc29y", "query.cursor"),
        ("/obligations/due?within_days=%207", "query.within_days"),
        (f"/contracts/{cid}/obligations?limit=1e2", "query.limit"),
        ("/alerts?limit=true", "query.limit"),
        (f"/webhooks/{cid}/deliveries?limit=5.5", "query.limit"),
    ]:
        found = refusals(await tracker.client.get(path))
        assert loc in found, (path, found)
    assert (
        "digits only"
        in refusals(await tracker.client.get("/obligations?limit=10.0"))["query.limit"]
    )

    rule = await tracker.client.post(
        "/alert-rules",
        json={"event_type": "sla.breached", "enabled": "false", "min_amount": "1_000"},
    )
    found = refusals(rule)
    assert "valid boolean" in found["body.enabled"]
    assert "min_amount: expected a decimal number as a string" in found["body.min_amount"]
    update = await tracker.client.patch(f"/alert-rules/{cid}", json={"enabled": 0})
    assert "body.enabled" in refusals(update)
    # null where a rule cannot hold one: a 422 naming it (it was a 409 from the database)
    nulls = await tracker.client.patch(
        f"/alert-rules/{cid}", json={"enabled": None, "min_severity": None, "min_amount": None}
    )
    found = refusals(nulls)
    assert "may not be null" in found["body.enabled"] and "body.min_severity" in found
    assert "body.min_amount" not in found  # null there means "any amount"
    webhook = await tracker.client.patch(f"/webhooks/{cid}", json={"enabled": "yes"})
    assert "body.enabled" in refusals(webhook)
