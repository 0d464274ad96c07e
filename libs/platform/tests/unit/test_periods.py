from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_platform import periods
from crm_platform.periods import InvalidPeriod, PeriodKind


def test_labels_of_each_kind_parse_and_print_back() -> None:
    for label, kind in (("2026-03", "month"), ("2026-Q1", "quarter"), ("2026", "year")):
        p = periods.parse(label)
        assert p.kind == kind
        assert p.label == label


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "26-03", "2026-Q5", "2026-3", "", "0000"])
def test_a_malformed_label_is_refused_with_the_forms_it_may_take(bad: str) -> None:
    with pytest.raises(InvalidPeriod) as err:
        periods.parse(bad)
    assert repr(bad) in str(err.value)


def test_a_label_of_another_kind_is_refused_when_a_kind_is_asked_for() -> None:
    with pytest.raises(InvalidPeriod, match="not a month"):
        periods.parse("2026-Q1", PeriodKind.MONTH)


def test_shift_moves_by_periods_of_the_labels_own_kind() -> None:
    assert periods.shift("2026-03", -3) == "2025-12"
    assert periods.shift("2026-12", 1) == "2027-01"
    assert periods.shift("2026-Q4", 1) == "2027-Q1"
    assert periods.shift("2026-Q1", -1) == "2025-Q4"
    assert periods.shift("2026", 2) == "2028"


def test_months_of_a_quarter_and_a_year() -> None:
    assert periods.months_of("2026-Q2") == ["2026-04", "2026-05", "2026-06"]
    assert periods.months_of("2026")[0] == "2026-01"
    assert periods.months_of("2026")[-1] == "2026-12"
    assert periods.last_month("2026-Q4") == "2026-12"
    assert periods.containing("2026-05", PeriodKind.QUARTER) == "2026-Q2"
    assert periods.containing("2026-05", PeriodKind.YEAR) == "2026"


def test_bounds_are_local_midnights_dst_exact() -> None:
    start, end = periods.bounds("2026-03", "America/New_York")
    assert start == datetime(2026, 3, 1, 5, tzinfo=UTC)
    assert end == datetime(2026, 4, 1, 4, tzinfo=UTC)
    assert (end - start).total_seconds() == 743 * 3600
    q_start, q_end = periods.bounds("2026-Q1", "America/New_York")
    assert (q_end - q_start).total_seconds() == (31 + 28 + 31) * 24 * 3600 - 3600
    y_start, y_end = periods.bounds("2026", "Europe/Berlin")
    assert (y_end - y_start).total_seconds() == 365 * 24 * 3600


@pytest.mark.parametrize(
    ("label", "zone"), [("9999-12", "UTC"), ("9999", "UTC"), ("0001-01", "Asia/Tokyo")]
)
def test_bounds_outside_the_dates_python_holds_are_an_invalid_period(label: str, zone: str) -> None:
    with pytest.raises(InvalidPeriod, match=repr(label)):
        periods.bounds(label, zone)


def test_label_at_reads_the_instant_in_the_contracts_zone() -> None:
    instant = datetime(2026, 4, 1, 2, tzinfo=UTC)  # 22:00 on 31 March in New York
    assert periods.label_at(instant, "America/New_York") == "2026-03"
    assert periods.label_at(instant, "America/New_York", PeriodKind.QUARTER) == "2026-Q1"
    assert periods.label_at(instant, "Europe/Berlin", PeriodKind.QUARTER) == "2026-Q2"


def test_between_and_touching() -> None:
    assert periods.between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert periods.between("2026-03", "2026-02") == []
    with pytest.raises(InvalidPeriod):
        periods.between("2026-01", "2026-Q1")
    found = periods.touching(
        datetime(2026, 3, 30, tzinfo=UTC),
        datetime(2026, 7, 2, tzinfo=UTC),
        "UTC",
        PeriodKind.QUARTER,
    )
    assert found == ["2026-Q1", "2026-Q2", "2026-Q3"]


def test_contract_year_runs_twelve_months_from_the_month_of_its_start() -> None:
    assert periods.contract_year("2026-03", date(2025, 7, 15)) == ("2025-07", "2026-06")
    assert periods.contract_year("2026-07", date(2025, 7, 15)) == ("2026-07", "2027-06")
    assert periods.contract_year("2026-01", date(2024, 1, 1)) == ("2026-01", "2026-12")


@st.composite
def any_label(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(list(PeriodKind)))
    year = draw(st.integers(1900, 2200))
    top = {PeriodKind.MONTH: 12, PeriodKind.QUARTER: 4, PeriodKind.YEAR: 1}[kind]
    return periods.Period(kind, year, draw(st.integers(1, top))).label


@given(any_label(), st.integers(-500, 500), st.integers(-500, 500))
def test_shifts_compose_and_keep_the_kind(label: str, a: int, b: int) -> None:
    assert periods.shift(periods.shift(label, a), b) == periods.shift(label, a + b)
    assert periods.kind_of(periods.shift(label, a)) == periods.kind_of(label)


@given(any_label(), st.integers(1, 40))
def test_labels_of_one_kind_sort_in_time_order(label: str, n: int) -> None:
    later = periods.shift(label, n)
    assert later > label
    assert periods.first_day(later) > periods.first_day(label)
    assert periods.between(label, later)[-1] == later
    assert len(periods.between(label, later)) == n + 1


@given(any_label())
def test_a_period_is_its_months_back_to_back(label: str) -> None:
    months = periods.months_of(label)
    assert periods.first_day(months[0]) == periods.first_day(label)
    assert periods.end_day(months[-1]) == periods.end_day(label)
    for m in months:
        assert periods.containing(m, periods.kind_of(label)) == label
