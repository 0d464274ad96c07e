"""Calendar feed tokens: issued, listed and revoked through the API (tenant-scoped like
everything else), and the one thing a token does: open its own feed, read-only.

A token reads `crmfeed_<feed id>_<secret>` (`crm_platform.apikeys.new_key` under the feed
prefix); only the SHA-256 of the secret is kept, and the token is shown once, when it is
issued. It is checked against this service's own table, so a revoked token is refused from
the next request on.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from crm_platform.apikeys import FEED_TOKEN_PREFIX, KEY_PREFIX, new_key, parse_key, sha256_hex
from crm_platform.auth import Principal, Unauthorized
from crm_platform.errors import NotFound
from crm_platform.pagination import Keyset, PageRequest, SortKey, fetch_page
from obligation_tracker.calendars.schemas import (
    CalendarFeedCreate,
    CalendarFeedIssued,
    CalendarFeedPage,
    CalendarFeedRead,
)
from obligation_tracker.models import CalendarFeed

FEEDS = Keyset("calendar-feeds", SortKey(CalendarFeed.issued_at), SortKey(CalendarFeed.feed_id))
# What a token may do: read obligations of its tenant, through its feed's route only.
FEED_SCOPES = frozenset({"obligations:read"})


async def issue(
    *,
    session: AsyncSession,
    principal: Principal,
    body: CalendarFeedCreate,
    now: datetime,
    url_for: Callable[[str], str],
) -> CalendarFeedIssued:
    """A new feed and its token; `url_for(feed_id)` is the feed's URL without the token."""
    feed_id, secret, token = new_key(FEED_TOKEN_PREFIX)
    feed = CalendarFeed(
        feed_id=feed_id,
        tenant_id=principal.resolve_tenant(body.tenant_id),
        name=body.name,
        owner=body.owner,
        roles=body.roles,
        secret_sha256=sha256_hex(secret),
        issued_at=now,
        issued_by=principal.key_id,
    )
    session.add(feed)
    await session.flush()
    read = CalendarFeedRead.model_validate(feed)
    return CalendarFeedIssued(
        **read.model_dump(), token=token, feed_url=f"{url_for(feed_id)}?token={token}"
    )


async def list_feeds(
    *, session: AsyncSession, principal: Principal, owner: str | None, page: PageRequest
) -> CalendarFeedPage:
    query = sa.select(CalendarFeed).where(principal.tenant_filter(CalendarFeed.tenant_id))
    if owner is not None:
        query = query.where(CalendarFeed.owner == owner)
    rows, next_cursor = await fetch_page(session, query, FEEDS, page)
    return CalendarFeedPage(
        items=[CalendarFeedRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


async def _find(session: AsyncSession, principal: Principal, feed_id: str) -> CalendarFeed:
    feed = await session.get(CalendarFeed, feed_id)
    if feed is None:
        raise NotFound(f"calendar feed {feed_id} not found")
    principal.check(feed.tenant_id, f"calendar feed {feed_id}")
    return feed


async def get(*, session: AsyncSession, principal: Principal, feed_id: str) -> CalendarFeedRead:
    return CalendarFeedRead.model_validate(await _find(session, principal, feed_id))


async def revoke(
    *, session: AsyncSession, principal: Principal, feed_id: str, reason: str, now: datetime
) -> CalendarFeedRead:
    """Revoked from the next request on; revoking a revoked feed changes nothing."""
    feed = await _find(session, principal, feed_id)
    if feed.revoked_at is None:
        feed.revoked_at = now
        feed.revoked_reason = reason
        await session.flush()
    return CalendarFeedRead.model_validate(feed)


async def open_feed(*, session: AsyncSession, feed_id: str, token: str) -> CalendarFeed:
    """The feed a token opens (401, saying why, for anything else)."""
    parsed = parse_key(token, FEED_TOKEN_PREFIX)
    if parsed is None:
        why = (
            "that is an API key, and an API key is never accepted in a URL: subscribe with a "
            "feed token (POST /calendar-feeds)"
            if parse_key(token, KEY_PREFIX)
            else "the token is not a feed token (crmfeed_<feed_id>_<secret>)"
        )
        raise Unauthorized(why, details=[{"loc": "query.token", "message": "not a feed token"}])
    token_feed, secret = parsed
    feed = await session.get(CalendarFeed, token_feed)
    if (
        token_feed != feed_id
        or feed is None
        or not hmac.compare_digest(feed.secret_sha256, sha256_hex(secret))
    ):
        raise Unauthorized(
            "the feed token is unknown, or opens another feed",
            details=[{"loc": "query.token", "message": "unknown"}],
        )
    if feed.revoked_at is not None:
        reason = f" ({feed.revoked_reason})" if feed.revoked_reason else ""
        raise Unauthorized(
            f"this calendar feed was revoked{reason}: ask for a new feed URL",
            details=[{"loc": "query.token", "message": "revoked"}],
        )
    return feed


def feed_principal(feed: CalendarFeed) -> Principal:
    """Who reads through a feed: its tenant, read-only, named after the feed in logs."""
    return Principal(tenant_id=feed.tenant_id, scopes=FEED_SCOPES, key_id=f"feed:{feed.feed_id}")
