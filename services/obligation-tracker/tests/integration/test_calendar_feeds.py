"""Calendar feed tokens: issued for an owner or roles, shown once, kept as a hash, listed
without the secret, revocable; a token opens its own feed with nothing but the URL, and
nothing else; an API key is never accepted in a URL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from icalendar import Calendar

from crm_platform.apikeys import sha256_hex
from obligation_tracker.models import CalendarFeed

OWNER = "j.doe@globex.example"
ROLE = "service_delivery_manager"


@pytest.fixture
async def anonymous(tracker: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends no header at all, as a calendar client."""
    transport = httpx.ASGITransport(app=tracker.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _ids(ics: bytes) -> set[str]:
    return {str(e["X-CRM-OBLIGATION-ID"]) for e in Calendar.from_ical(ics).walk("VEVENT")}


async def _four_obligations(tracker: Any, make_terms: Any) -> list[dict[str, Any]]:
    """Four monthly reports: two assigned to OWNER, one to someone else, one unassigned."""
    cid = uuid.uuid4()
    await tracker.activate(make_terms(cid))
    rows: list[dict[str, Any]] = await tracker.obligations(cid)
    dec, jan, feb, _mar = rows
    for o, who in ((dec, OWNER), (jan, OWNER), (feb, "k.lee@globex.example")):
        resp = await tracker.client.patch(f"/obligations/{o['id']}", json={"owner": who})
        assert resp.status_code == 200, resp.text
    return rows


async def _issue(tracker: Any, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    resp = await tracker.client.post("/calendar-feeds", json=body, **kwargs)
    assert resp.status_code == 201, resp.text
    issued: dict[str, Any] = resp.json()
    return issued


async def test_a_feed_token_opens_its_feed_from_the_url_alone(
    tracker: Any, make_terms: Any, anonymous: httpx.AsyncClient
) -> None:
    dec, jan, feb, mar = await _four_obligations(tracker, make_terms)
    body = {"name": "J. Doe", "owner": OWNER, "roles": [ROLE], "tenant_id": "acme-bank"}
    issued = await _issue(tracker, body)
    feed_id, token = issued["feed_id"], issued["token"]
    assert token.startswith(f"crmfeed_{feed_id}_")
    assert issued["feed_url"] == (
        f"http://test/calendar-feeds/{feed_id}/calendar.ics?token={token}"
    )
    assert (issued["owner"], issued["roles"], issued["tenant_id"]) == (OWNER, [ROLE], "acme-bank")

    feed = await anonymous.get(issued["feed_url"])
    assert feed.status_code == 200, feed.text
    assert feed.headers["content-type"].startswith("text/calendar")
    # The owner's two, and the role's unassigned one; not k.lee's.
    assert _ids(feed.content) == {dec["id"], jan["id"], mar["id"]}
    assert Calendar.from_ical(feed.content)["X-WR-CALNAME"] == "J. Doe"

    # A role's feed: every open obligation of the role, whoever owns it.
    team = await _issue(tracker, {"roles": [ROLE], "tenant_id": "acme-bank"})
    everyone = await anonymous.get(team["feed_url"])
    assert _ids(everyone.content) == {dec["id"], jan["id"], feb["id"], mar["id"]}

    # Only the secret's hash is stored; lists and reads never show the token.
    async with tracker.app.state.session_factory() as session:
        row = await session.get(CalendarFeed, feed_id)
    assert row is not None and row.secret_sha256 == sha256_hex(token.split("_", 2)[2])
    listed = (await tracker.client.get("/calendar-feeds", params={"owner": OWNER})).json()
    assert [f["feed_id"] for f in listed["items"]] == [feed_id]
    one = (await tracker.client.get(f"/calendar-feeds/{feed_id}")).json()
    for shown in (listed["items"][0], one):
        assert "token" not in shown and "feed_url" not in shown
        assert token not in str(shown)


async def test_a_revoked_feed_is_refused_saying_so(
    tracker: Any, make_terms: Any, anonymous: httpx.AsyncClient
) -> None:
    await _four_obligations(tracker, make_terms)
    issued = await _issue(tracker, {"owner": OWNER, "tenant_id": "acme-bank"})
    assert (await anonymous.get(issued["feed_url"])).status_code == 200
    revoke = f"/calendar-feeds/{issued['feed_id']}/revoke"
    revoked = await tracker.client.post(revoke, json={"reason": "left the account"})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_reason"] == "left the account"

    refused = await anonymous.get(issued["feed_url"])
    assert refused.status_code == 401
    error = refused.json()["error"]
    assert error["code"] == "unauthorized"
    assert "revoked (left the account)" in error["message"]
    # Revoking again changes nothing; an Idempotency-Key is refused (revoking is idempotent).
    again = await tracker.client.post(revoke, json={"reason": "other"})
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert again.json()["revoked_reason"] == "left the account"
    keyed = await tracker.client.post(revoke, json={}, headers={"Idempotency-Key": "k1"})
    assert keyed.status_code == 400
    assert keyed.json()["error"]["code"] == "idempotency_key_not_supported"


async def test_a_feed_token_opens_nothing_else(
    tracker: Any, make_terms: Any, anonymous: httpx.AsyncClient
) -> None:
    dec, *_ = await _four_obligations(tracker, make_terms)
    mine = await _issue(tracker, {"owner": OWNER, "tenant_id": "acme-bank"})
    other = await _issue(tracker, {"owner": "k.lee@globex.example", "tenant_id": "acme-bank"})
    token = mine["token"]
    for path in ("/obligations", f"/obligations/{dec['id']}", "/calendar-feeds"):
        as_bearer = await anonymous.get(path, headers={"Authorization": f"Bearer {token}"})
        assert as_bearer.status_code == 401, (path, as_bearer.text)
        assert "opens its feed URL only" in as_bearer.json()["error"]["message"]
        in_query = await anonymous.get(path, params={"token": token})
        assert in_query.status_code == 401, (path, in_query.text)
    # Nor may it be written with, nor open another feed.
    fulfil = await anonymous.post(
        f"/obligations/{dec['id']}/fulfil",
        json={"by": OWNER},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert fulfil.status_code == 401
    wrong = await anonymous.get(
        f"/calendar-feeds/{other['feed_id']}/calendar.ics", params={"token": token}
    )
    assert wrong.status_code == 401
    assert "another feed" in wrong.json()["error"]["message"]
    forged = await anonymous.get(mine["feed_url"][:-4] + "AAAA")
    assert forged.status_code == 401
    missing = await anonymous.get(f"/calendar-feeds/{mine['feed_id']}/calendar.ics")
    assert missing.status_code == 401
    assert "?token=" in missing.json()["error"]["message"]


async def test_an_api_key_is_never_accepted_in_a_url(
    tracker: Any, make_terms: Any, anonymous: httpx.AsyncClient
) -> None:
    await _four_obligations(tracker, make_terms)
    mine = await _issue(tracker, {"owner": OWNER, "tenant_id": "acme-bank"})
    admin_key = tracker.client.headers["Authorization"].removeprefix("Bearer ")
    for path in (f"/owners/{OWNER}/calendar.ics", "/obligations", mine["feed_url"]):
        refused = await anonymous.get(path, params={"api_key": admin_key})
        assert refused.status_code == 401, (path, refused.text)
        error = refused.json()["error"]
        assert "never accepted in a URL" in error["message"]
        assert "feed token" in error["message"]
        assert error["details"][0]["loc"] == "query.api_key"
        # Refused even alongside a valid key in the header.
        both = await tracker.client.get(path, params={"api_key": admin_key})
        assert both.status_code == 401, (path, both.text)
    # An API key where the feed token goes: refused, saying what to use.
    as_token = await anonymous.get(
        f"/calendar-feeds/{mine['feed_id']}/calendar.ics",
        params={"token": f"crm_0123456789ab_{'s' * 43}"},
    )
    assert as_token.status_code == 401
    assert "API key is never accepted in a URL" in as_token.json()["error"]["message"]
    # The feed route takes no API key in a header either: only its token.
    by_header = await tracker.client.get(f"/calendar-feeds/{mine['feed_id']}/calendar.ics")
    assert by_header.status_code == 401
    # The header-authenticated owner calendar stays.
    assert (await tracker.client.get(f"/owners/{OWNER}/calendar.ics")).status_code == 200


async def test_feeds_are_a_tenants_own_and_the_token_is_shown_once(tracker: Any) -> None:
    tenant_less = await tracker.client.post("/calendar-feeds", json={"owner": OWNER})
    assert tenant_less.status_code == 422
    assert tenant_less.json()["error"]["details"][0]["loc"] == "body.tenant_id"
    nobody = await tracker.client.post("/calendar-feeds", json={"tenant_id": "acme-bank"})
    assert nobody.status_code == 422
    assert "owner, or at least one role" in nobody.text
    empty_role = await tracker.client.post(
        "/calendar-feeds", json={"roles": [""], "tenant_id": "acme-bank"}
    )
    assert empty_role.status_code == 422
    assert empty_role.json()["error"]["details"][0]["loc"] == "body.roles[0]"

    body = {"owner": OWNER, "tenant_id": "acme-bank"}
    first = await _issue(tracker, body, headers={"Idempotency-Key": "feed-1"})
    replay = await tracker.client.post(
        "/calendar-feeds", json=body, headers={"Idempotency-Key": "feed-1"}
    )
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["feed_id"] == first["feed_id"]
    assert (replay.json()["token"], replay.json()["feed_url"]) == (None, None)

    globex = {"X-Tenant-Id": "globex"}
    assert (
        await tracker.client.get(f"/calendar-feeds/{first['feed_id']}", headers=globex)
    ).status_code == 404
    revoke = await tracker.client.post(
        f"/calendar-feeds/{first['feed_id']}/revoke", json={}, headers=globex
    )
    assert revoke.status_code == 404
    theirs = await tracker.client.get("/calendar-feeds", headers=globex)
    assert first["feed_id"] not in {f["feed_id"] for f in theirs.json()["items"]}
    own = await _issue(tracker, {"owner": OWNER}, headers=globex)
    assert own["tenant_id"] == "globex"
    async with tracker.app.state.session_factory() as session:
        tenants = await session.scalars(
            sa.select(CalendarFeed.tenant_id).where(
                CalendarFeed.feed_id.in_([first["feed_id"], own["feed_id"]])
            )
        )
        assert sorted(tenants) == ["acme-bank", "globex"]
