from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse

from crm_platform.auth import FeedToken, Unauthorized, refuse_key_in_url
from crm_platform.deps import ClockDep, CurrentPrincipal, SessionDep
from crm_platform.idempotency import Idempotency, idempotent, refuse_idempotency_key
from crm_platform.pagination import PageDep
from obligation_tracker.calendars import service
from obligation_tracker.calendars.schemas import (
    CalendarFeedCreate,
    CalendarFeedIssued,
    CalendarFeedPage,
    CalendarFeedRead,
    CalendarFeedRevoke,
)
from obligation_tracker.obligations.ical import calendar_response
from obligation_tracker.obligations.service import calendar_obligations

router = APIRouter(prefix="/calendar-feeds", tags=["calendars"])
# The feed itself: authenticated by its token in the URL, never by an API key.
feed_router = APIRouter(prefix="/calendar-feeds", tags=["calendars"])

FeedId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="The feed's id.")]
FEED_ROUTE = "read_calendar_feed"


async def _feed_token(request: Request, token: FeedToken) -> str:
    """The token in the URL: checked first, before a session is opened or the path is."""
    refuse_key_in_url(request)
    if not token:
        raise Unauthorized(
            "a feed token is required in the URL: ?token=<token> (POST /calendar-feeds "
            "issues a feed and its URL)",
            details=[{"loc": "query.token", "message": "missing"}],
        )
    return token


REVOKE_IS_IDEMPOTENT = "revoking is idempotent by itself (a revoked feed stays revoked)."


@router.post(
    "",
    operation_id="issueCalendarFeed",
    status_code=201,
    response_model=CalendarFeedIssued,
    summary="Issue a calendar feed: its URL and token, for an owner or roles",
    description="A calendar client subscribes to `feed_url` (it cannot send headers, so the "
    "token rides in the query string). The token opens that feed only, read-only, and "
    "nothing else; `token` and `feed_url` are shown once (only the token's hash is kept). "
    "Revoke the feed to cut it off.",
)
async def issue_calendar_feed(
    body: CalendarFeedCreate,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    idempotency: Annotated[Idempotency, idempotent(shown_once=["token", "feed_url"])],
) -> JSONResponse:
    def url_for(feed_id: str) -> str:
        return str(request.url_for(FEED_ROUTE, feed_id=feed_id))

    work = service.issue(
        session=session, principal=principal, body=body, now=clock.now(), url_for=url_for
    )
    return await idempotency.run(work, status_code=201)


@router.get(
    "",
    operation_id="listCalendarFeeds",
    response_model=CalendarFeedPage,
    summary="List calendar feeds, oldest first (never their tokens)",
    description="Revoked ones included. `owner` narrows to one person's feeds.",
)
async def list_calendar_feeds(
    session: SessionDep, principal: CurrentPrincipal, page: PageDep, owner: str | None = None
) -> CalendarFeedPage:
    return await service.list_feeds(session=session, principal=principal, owner=owner, page=page)


@router.get(
    "/{feed_id}",
    operation_id="getCalendarFeed",
    response_model=CalendarFeedRead,
    summary="One calendar feed (never its token)",
)
async def get_calendar_feed(
    feed_id: FeedId, session: SessionDep, principal: CurrentPrincipal
) -> CalendarFeedRead:
    return await service.get(session=session, principal=principal, feed_id=feed_id)


@router.post(
    "/{feed_id}/revoke",
    operation_id="revokeCalendarFeed",
    response_model=CalendarFeedRead,
    summary="Revoke a calendar feed",
    description="Its URL answers 401 from the next request on (calendar clients show the "
    "feed as failing). Revoking a revoked feed changes nothing.",
)
async def revoke_calendar_feed(
    feed_id: FeedId,
    body: CalendarFeedRevoke,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    _key: Annotated[None, refuse_idempotency_key(REVOKE_IS_IDEMPOTENT)],
) -> CalendarFeedRead:
    return await service.revoke(
        session=session, principal=principal, feed_id=feed_id, reason=body.reason, now=clock.now()
    )


@feed_router.get(
    "/{feed_id}/calendar.ics",
    name=FEED_ROUTE,
    operation_id="readCalendarFeed",
    summary="The calendar feed (subscribe to its URL, token included)",
    description="One all-day VEVENT per open obligation of the feed's owner (and roles) on "
    "its due date, with a reminder the day before (RFC 5545). Authenticated by the feed "
    "token in the query string only: no header is needed, an API key is not accepted (401, "
    "in the URL or in a header alike), and the token opens nothing but this feed.",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {"schema": {"type": "string"}}}}},
)
async def read_calendar_feed(
    feed_id: FeedId,
    request: Request,
    token: Annotated[str, Depends(_feed_token)],
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    feed = await service.open_feed(session=session, feed_id=feed_id, token=token)
    principal = service.feed_principal(feed)
    request.state.principal = principal
    rows = await calendar_obligations(
        session=session, principal=principal, owner=feed.owner, roles=feed.roles
    )
    return calendar_response(rows, name=feed.name, now=clock.now(), request=request)
