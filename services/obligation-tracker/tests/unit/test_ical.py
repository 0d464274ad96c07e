import uuid
from datetime import UTC, date, datetime

from icalendar import Calendar

from obligation_tracker.obligations.ical import calendar_feed
from obligation_tracker.obligations.schemas import ObligationRead


def obligation(title: str, due: date, status: str = "open") -> ObligationRead:
    now = datetime(2026, 11, 26, tzinfo=UTC)
    return ObligationRead(
        id=uuid.uuid4(),
        contract_id=uuid.uuid4(),
        kind="contractual",
        title=title,
        clause="Schedule 5 §3",
        owner_role="service_delivery_manager",
        owner="j.doe@globex.example",
        severity="high",
        status=status,
        due_date=due,
        timezone="America/New_York",
        definition_code="SVC-REPORT",
        occurrence_date=due,
        contract_version=1,
        period_label=None,
        evidence_required=True,
        evidence=None,
        resolved_at=None,
        resolved_by=None,
        reason=None,
        overdue_at=None,
        escalation_level=0,
        escalated_to=None,
        escalated_at=None,
        source_event_id=None,
        details={},
        created_at=now,
        updated_at=now,
    )


def test_the_feed_parses_and_holds_one_all_day_event_per_obligation() -> None:
    items = [
        obligation("Monthly service report", date(2027, 1, 8)),
        obligation("Root-cause report", date(2026, 11, 20), status="overdue"),
    ]
    raw = calendar_feed(items, name="Obligations: j.doe", now=datetime(2026, 11, 26, tzinfo=UTC))
    cal = Calendar.from_ical(raw)
    events = list(cal.walk("VEVENT"))
    assert str(cal["X-WR-CALNAME"]) == "Obligations: j.doe"
    assert [str(e["SUMMARY"]) for e in events] == [
        "Due: Monthly service report",
        "OVERDUE: Root-cause report",
    ]
    assert events[0].decoded("DTSTART") == date(2027, 1, 8)
    assert events[0].decoded("DTEND") == date(2027, 1, 9)
    assert str(events[0]["UID"]) == f"obligation-{items[0].id}@obligation-tracker"
    assert "Evidence required" in str(events[0]["DESCRIPTION"])
    assert len(list(events[0].walk("VALARM"))) == 1
