"""An iCalendar feed of open obligations, so they appear in people's calendars (RFC 5545).

Each open obligation is an all-day VEVENT on its due date (the contract's local date), with a
reminder the business morning before. The UID is stable, so calendar clients update an
event in place when the obligation moves instead of duplicating it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from fastapi import Request, Response
from icalendar import Alarm, Calendar, Event

from obligation_tracker.obligations.schemas import ObligationRead

PRODID = "-//crm//obligation-tracker//EN"


def calendar_feed(
    obligations: Sequence[ObligationRead], *, name: str, now: datetime, base_url: str = ""
) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    for o in obligations:
        event = Event()
        event.add("uid", f"obligation-{o.id}@obligation-tracker")
        event.add("dtstamp", now)
        event.add("dtstart", o.due_date)
        event.add("dtend", o.due_date + timedelta(days=1))
        prefix = "OVERDUE: " if o.status in ("overdue", "escalated") else "Due: "
        event.add("summary", prefix + o.title)
        lines = [
            f"Contract: {o.contract_id}",
            f"Status: {o.status}"
            + (
                f" (escalated to {o.escalated_to}, level {o.escalation_level})"
                if o.escalation_level
                else ""
            ),
            f"Owner: {o.owner or '-'} ({o.owner_role})",
            f"Severity: {o.severity}",
        ]
        if o.clause:
            lines.append(f"Clause: {o.clause}")
        if o.evidence_required:
            lines.append("Evidence required to fulfil.")
        if base_url:
            lines.append(f"{base_url}/obligations/{o.id}")
        event.add("description", "\n".join(lines))
        event.add("categories", [o.kind])
        event.add("status", "CONFIRMED")
        event.add("transp", "TRANSPARENT")
        event.add("x-crm-obligation-id", str(o.id))
        event.add("x-crm-contract-id", str(o.contract_id))
        if o.updated_at is not None:
            event.add("last-modified", o.updated_at)
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"Due tomorrow: {o.title}")
        alarm.add("trigger", timedelta(hours=-15))  # 09:00 the day before
        event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()


def calendar_response(
    obligations: Sequence[ObligationRead], *, name: str, now: datetime, request: Request
) -> Response:
    """The feed as an HTTP answer, with links back to the service that served it."""
    body = calendar_feed(
        obligations, name=name, now=now, base_url=str(request.base_url).rstrip("/")
    )
    return Response(
        content=body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="obligations.ics"'},
    )
