"""The pure parts of partitioning and retention: months, the horizon, which items lie
before it, partition bounds as PostgreSQL prints them, and the retention setting's floor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sla_monitor.settings import Settings
from sla_monitor.telemetry.partitions import (
    Partition,
    add_months,
    month_start,
    months_of,
    parse_partition,
)
from sla_monitor.telemetry.retention import before_horizon, horizon_details, horizon_for
from sla_monitor.telemetry.validation import ITEMS

instants = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@given(instants)
def test_an_instant_lies_in_its_month(at: datetime) -> None:
    first = month_start(at)
    assert first <= at < add_months(first, 1)
    assert first.day == 1 and first.tzinfo is UTC


@given(st.lists(instants, min_size=1, max_size=30))
def test_months_of_is_every_month_an_instant_falls_in(values: list[datetime]) -> None:
    assert months_of(values) == {month_start(v) for v in values}


def test_months_are_utc_months() -> None:
    new_york = timezone(timedelta(hours=-5))
    # 31 January 22:00 in New York is 1 February 03:00 UTC.
    assert month_start(datetime(2026, 1, 31, 22, tzinfo=new_york)) == datetime(
        2026, 2, 1, tzinfo=UTC
    )
    assert add_months(datetime(2026, 11, 1, tzinfo=UTC), 3) == datetime(2027, 2, 1, tzinfo=UTC)


def test_the_horizon_is_the_first_of_a_month_or_none() -> None:
    now = datetime(2026, 12, 4, 18, tzinfo=UTC)
    assert horizon_for(now, 0) is None
    assert horizon_for(now, 400) == datetime(2025, 10, 1, tzinfo=UTC)  # 30 Oct 2025's month


def test_only_items_wholly_before_the_horizon_are_found() -> None:
    horizon = datetime(2026, 1, 1, tzinfo=UTC)
    before, after = "2025-12-31T23:59:59Z", "2026-01-01T00:00:00Z"
    raw: list[dict[str, str]] = [
        {"kind": "sample", "observed_at": before, "status": "up"},
        {"kind": "sample", "observed_at": after, "status": "up"},
        {"kind": "outage", "started_at": "2025-12-01T00:00:00Z", "ended_at": after},
        {"kind": "incident", "ticket_id": "A", "priority": "P1", "opened_at": before},
        {
            "kind": "incident",
            "ticket_id": "B",
            "priority": "P1",
            "opened_at": "2025-12-01T00:00:00Z",
            "resolved_at": before,
        },
    ]
    items = ITEMS.validate_python([{"service_key": "k", **i} for i in raw])
    found = before_horizon(items, horizon)
    assert [(i, name) for i, name, _ in found] == [(0, "observed_at"), (4, "resolved_at")]
    assert before_horizon(items, None) == []
    details = horizon_details(found, horizon, lambda i: f"body.items[{i}]")
    assert [d["loc"] for d in details] == ["body.items[0].observed_at", "body.items[4].resolved_at"]
    assert all(d["type"] == "before_retention_horizon" for d in details)


def test_partition_bounds_are_read_as_postgresql_prints_them() -> None:
    month = parse_partition(
        "samples_y2026m03",
        "FOR VALUES FROM ('2026-03-01 00:00:00+00') TO ('2026-04-01 00:00:00+00')",
    )
    assert month == Partition(
        "samples_y2026m03", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    )
    assert month.covers(datetime(2026, 3, 1, tzinfo=UTC))
    assert not month.covers(datetime(2026, 4, 1, tzinfo=UTC))
    # Another session time zone prints another offset: the same instant.
    shifted = parse_partition(
        "x", "FOR VALUES FROM ('2026-02-28 19:00:00-05') TO ('2026-03-31 20:00:00-04')"
    )
    assert (shifted.lower, shifted.upper) == (month.lower, month.upper)
    legacy = parse_partition(
        "samples_legacy", "FOR VALUES FROM (MINVALUE) TO ('2027-01-01 00:00:00+00')"
    )
    assert legacy.lower is None and legacy.covers(datetime(1970, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="unexpected bound"):
        parse_partition("samples_default", "DEFAULT")


def test_retention_is_forever_or_at_least_400_days() -> None:
    assert Settings(telemetry_retention_days=0).telemetry_retention_days == 0
    assert Settings(telemetry_retention_days=400).telemetry_retention_days == 400
    with pytest.raises(ValidationError, match="at least 400"):
        Settings(telemetry_retention_days=90)
