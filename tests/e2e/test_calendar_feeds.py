"""Calendar feeds across the running services: a feed token issued over HTTP, the feed
fetched by its URL alone (no header, as a calendar client does) and read with the
`icalendar` package; the token refused everywhere else, an API key refused in any URL, and
a revoked feed refused."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from icalendar import Calendar

from crm_testing import examples
from crm_testing.auth import ADMIN_HEADERS, ADMIN_KEY, bearer
from crm_testing.chain import activate_contract
from crm_testing.kafka import wait_until
from crm_testing.stack import SERVICES, Stack

ROLE = "service_delivery_manager"
REPORT = {
    "code": "SVC-REPORT",
    "title": "Monthly service report",
    "clause": "Schedule 5, 3",
    "owner_role": ROLE,
    "rrule": "FREQ=MONTHLY;BYMONTHDAY=1",
    "due_offset_business_days": 4,
}


async def _open_obligations(http: httpx.AsyncClient, tracker: str, cid: str) -> list[Any]:
    async def listed() -> list[Any] | None:
        page = await http.get(
            f"{tracker}/obligations",
            params={"contract_id": cid, "status": ["open", "overdue", "escalated"]},
        )
        items: list[Any] = page.json()["items"]
        return items if len(items) >= 3 else None

    rows = await wait_until(listed, timeout=60, message="the contract's obligations")
    assert rows is not None
    return rows


def _events(ics: bytes) -> dict[str, Any]:
    return {str(e["X-CRM-OBLIGATION-ID"]): e for e in Calendar.from_ical(ics).walk("VEVENT")}


async def test_a_calendar_subscribes_with_a_feed_token_and_nothing_else_does(
    stack: Stack,
) -> None:
    tracker = stack.url("obligation-tracker")
    tenant = f"feeds-{uuid.uuid4().hex[:8]}"
    owner = f"j.doe@{tenant}.example"
    doc = examples.contract_document(tenant_id=tenant)
    doc["obligation_definitions"] = [REPORT]
    async with (
        httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http,
        httpx.AsyncClient(timeout=30) as calendar_client,  # sends no header at all
    ):
        cid = await activate_contract(http, stack, doc, known_at=["obligation-tracker"])
        rows = await _open_obligations(http, tracker, cid)
        mine = rows[:2]
        for row in mine:
            assigned = await http.patch(f"{tracker}/obligations/{row['id']}", json={"owner": owner})
            assert assigned.status_code == 200, assigned.text

        body = {"name": "J. Doe's obligations", "owner": owner, "tenant_id": tenant}
        issued = await http.post(f"{tracker}/calendar-feeds", json=body)
        assert issued.status_code == 201, issued.text
        feed = issued.json()
        assert feed["feed_url"].startswith(f"{tracker}/calendar-feeds/{feed['feed_id']}/")
        assert feed["feed_url"].endswith(f"calendar.ics?token={feed['token']}")

        # The calendar client: a plain GET of the URL, parsed as RFC 5545.
        fetched = await calendar_client.get(feed["feed_url"])
        assert fetched.status_code == 200, fetched.text
        assert fetched.headers["content-type"].startswith("text/calendar")
        calendar = Calendar.from_ical(fetched.content)
        assert str(calendar["X-WR-CALNAME"]) == "J. Doe's obligations"
        events = _events(fetched.content)
        assert set(events) == {row["id"] for row in mine}
        for row in mine:
            event = events[row["id"]]
            assert event.decoded("DTSTART").isoformat() == row["due_date"]
            assert "Monthly service report" in str(event["SUMMARY"])
            assert str(event["UID"]) == f"obligation-{row['id']}@obligation-tracker"
            assert list(event.walk("VALARM")), "a reminder the day before"

        # A role's feed: every open obligation of the role, assigned or not.
        team = await http.post(
            f"{tracker}/calendar-feeds", json={"roles": [ROLE], "tenant_id": tenant}
        )
        team_feed = await calendar_client.get(team.json()["feed_url"])
        assert set(_events(team_feed.content)) == {row["id"] for row in rows}

        await _token_opens_nothing_else(calendar_client, stack, feed, cid)
        await _no_api_key_in_a_url(calendar_client, stack, feed)

        # Revoked: the same URL is refused, saying so.
        revoked = await http.post(
            f"{tracker}/calendar-feeds/{feed['feed_id']}/revoke", json={"reason": "left"}
        )
        assert revoked.status_code == 200 and revoked.json()["revoked_at"], revoked.text
        refused = await calendar_client.get(feed["feed_url"])
        assert refused.status_code == 401
        assert "revoked (left)" in refused.json()["error"]["message"]
        listed = await http.get(f"{tracker}/calendar-feeds", params={"owner": owner})
        assert [f["revoked_reason"] for f in listed.json()["items"]] == ["left"]
        assert feed["token"] not in listed.text


async def _token_opens_nothing_else(
    client: httpx.AsyncClient, stack: Stack, feed: dict[str, Any], cid: str
) -> None:
    token = feed["token"]
    for service in SERVICES:
        paths = [f"/contracts/{cid}" + ("" if service == "contract-registry" else "/terms")]
        paths += ["/obligations"] if service == "obligation-tracker" else []
        for path in paths:
            url = stack.url(service) + path
            as_key = await client.get(url, headers=bearer(token))
            assert as_key.status_code == 401, (service, path, as_key.text)
            in_url = await client.get(url, params={"token": token})
            assert in_url.status_code == 401, (service, path, in_url.text)
    fulfil = await client.post(
        f"{stack.url('obligation-tracker')}/calendar-feeds",
        json={"owner": "x"},
        headers=bearer(token),
    )
    assert fulfil.status_code == 401
    assert "opens its feed URL only" in fulfil.json()["error"]["message"]


async def _no_api_key_in_a_url(
    client: httpx.AsyncClient, stack: Stack, feed: dict[str, Any]
) -> None:
    tracker = stack.url("obligation-tracker")
    owner_calendar = f"{tracker}/owners/{feed['owner']}/calendar.ics"
    for url in (owner_calendar, feed["feed_url"], f"{stack.url('contract-registry')}/contracts"):
        refused = await client.get(url, params={"api_key": ADMIN_KEY})
        assert refused.status_code == 401, (url, refused.text)
        message = refused.json()["error"]["message"]
        assert "never accepted in a URL" in message and "feed token" in message
    # In a header, the owner calendar stays open to an API key.
    by_header = await client.get(owner_calendar, headers=ADMIN_HEADERS)
    assert by_header.status_code == 200
    assert len(Calendar.from_ical(by_header.content).walk("VEVENT")) == 2
