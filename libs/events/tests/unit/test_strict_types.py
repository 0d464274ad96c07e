"""The strict value types: what each accepts, what it refuses, and what the refusal says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from crm_events.schemas.access import ApiKeyIssued
from crm_events.schemas.consumption import ConsumptionItem
from crm_events.schemas.contracts import SlaDefinition
from crm_events.types import Amount, Date, Instant, Percent, Quantity, json_decimal, json_instant


class Doc(BaseModel):
    quantity: Quantity | None = None
    amount: Amount | None = None
    percent: Percent | None = None
    day: Date | None = None
    at: Instant | None = None


def refusal(**values: Any) -> dict[str, Any]:
    with pytest.raises(ValidationError) as caught:
        Doc(**values)
    [error] = caught.value.errors()
    return dict(error)


@pytest.mark.parametrize(
    "text",
    ["1e3", "1E3", "1_000", " 5 ", "5 ", "+5", "NaN", "Infinity", "-Infinity", "5.", ".5",
     "1,5", "0x10", "", "-", "٣", "5\n"],
)  # fmt: skip
@pytest.mark.parametrize("field", ["quantity", "amount", "percent"])
def test_decimal_strings_outside_the_documented_pattern_are_refused(field: str, text: str) -> None:
    error = refusal(**{field: text})
    assert error["type"] == "decimal_format"
    assert error["msg"] == (
        f"{field}: expected a decimal number as a string matching ^-?\\d+(\\.\\d+)?$, for "
        'example "214" or "-12.50" (no exponent, spaces, underscores, plus sign, NaN or '
        "Infinity)"
    )


@pytest.mark.parametrize(
    "value, expected",
    [
        ("214", Decimal("214")),
        ("-12.50", Decimal("-12.50")),
        ("0.000001", Decimal("0.000001")),
        ("007", Decimal(7)),
        (214, Decimal(214)),  # a JSON integer is exact
        (-3, Decimal(-3)),
        (Decimal("4414.08"), Decimal("4414.08")),
    ],
)
def test_decimals_in_the_documented_form_or_as_integers_are_read_exactly(
    value: Any, expected: Decimal
) -> None:
    parsed = Doc(quantity=value).quantity
    assert parsed == expected and str(parsed) == str(expected)


@pytest.mark.parametrize("value", [1.5, 214.0, True, False, [1], {"v": 1}])
def test_floats_booleans_and_containers_are_not_decimals(value: Any) -> None:
    assert refusal(amount=value)["type"] in {"decimal_type", "decimal_format"}
    if isinstance(value, float):
        assert "not floats" in refusal(amount=value)["msg"]


def test_decimals_serialise_as_exact_strings() -> None:
    doc = Doc(amount="11035.20", quantity=214)
    assert doc.model_dump(mode="json", exclude_none=True) == {
        "amount": "11035.20",
        "quantity": "214",
    }


@pytest.mark.parametrize(
    "value",
    [0, "0", 1700000000, "1700000000", 20260301, "20260301", 1.5, "2026-3-1", "2026-03-1",
     "2026-03-01T00:00:00", "2026-03-01T00:00:00Z", " 2026-03-01", "01/03/2026",
     datetime(2026, 3, 1, tzinfo=UTC), True],
)  # fmt: skip
def test_a_date_is_only_an_iso_calendar_date(value: Any) -> None:
    error = refusal(day=value)
    assert error["type"] == "date_format"
    assert error["msg"] == "day: expected an ISO 8601 date YYYY-MM-DD, for example 2026-03-01"


def test_an_iso_date_must_exist_in_the_calendar() -> None:
    assert "day" in refusal(day="2026-02-30")["msg"]
    assert Doc(day="2028-02-29").day == date(2028, 2, 29)
    assert Doc(day=date(2026, 3, 1)).day == date(2026, 3, 1)


@pytest.mark.parametrize(
    "value",
    [0, "0", 1773457200, "1773457200", 1.7e9, "2026-03-14", "20260314T030000Z",
     "2026-03-14 03:00:00Z", "2026-03-14T03:00:00 Z", "14/03/2026 03:00", True],
)  # fmt: skip
def test_an_instant_is_never_a_number_or_a_date(value: Any) -> None:
    error = refusal(at=value)
    assert error["type"] == "datetime_format"
    assert "at: expected an ISO 8601 date-time with a UTC offset" in error["msg"]


@pytest.mark.parametrize(
    "value", ["2026-03-14T03:00:00", "2026-03-14T03:00", datetime(2026, 3, 14)]
)
def test_an_instant_needs_a_utc_offset(value: Any) -> None:
    error = refusal(at=value)
    assert error["type"] == "datetime_offset"
    assert error["msg"].startswith("at: needs a UTC offset (Z or ±hh:mm)")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-03-14T03:00:00Z", datetime(2026, 3, 14, 3, tzinfo=UTC)),
        ("2026-03-14t03:00:00z", datetime(2026, 3, 14, 3, tzinfo=UTC)),
        ("2026-03-14T03:00Z", datetime(2026, 3, 14, 3, tzinfo=UTC)),
        ("2026-03-13T22:00:00-05:00", datetime(2026, 3, 14, 3, tzinfo=UTC)),
        ("2026-03-14T08:30:00+0530", datetime(2026, 3, 14, 3, tzinfo=UTC)),
        ("2026-03-14T03:00:00.250000+00:00", datetime(2026, 3, 14, 3, 0, 0, 250000, tzinfo=UTC)),
        # RFC 3339 allows any number of fraction digits; microseconds are kept.
        ("2026-03-14T03:00:00.123456789012Z", datetime(2026, 3, 14, 3, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_iso_instants_with_an_offset_are_read(text: str, expected: datetime) -> None:
    assert Doc(at=text).at == expected
    aware = datetime(2026, 3, 14, 3, tzinfo=timezone(timedelta(hours=1)))
    assert Doc(at=aware).at == aware


def test_event_fields_refuse_the_issues_lax_examples() -> None:
    """`"expires_at": 0` was 1970, `"quantity": "1e3"` was a thousand, `"3"` was 3."""
    with pytest.raises(ValidationError, match="expires_at"):
        ApiKeyIssued.model_validate(
            {
                "key_id": "0123456789ab",
                "name": "erp",
                "tenant_id": None,
                "scopes": ["billing:read"],
                "secret_sha256": "ab" * 32,
                "issued_at": "2026-03-01T00:00:00Z",
                "expires_at": 0,
            }
        )
    item = {
        "record_id": "r1",
        "contract_id": "7b0c6f2e-8f7d-4a59-9d0e-2a1c3e5b6d7f",
        "resource_unit": "SRV-WIN",
        "period_label": "2026-03",
        "quantity": "214",
    }
    assert ConsumptionItem.model_validate(item).quantity == Decimal(214)
    for field, lax in [("quantity", "1e3"), ("quantity", "1_000"), ("quantity", " 5 "),
                       ("correction", "true"), ("correction", 1)]:  # fmt: skip
        with pytest.raises(ValidationError) as caught:
            ConsumptionItem.model_validate({**item, field: lax})
        assert [e["loc"] for e in caught.value.errors()] == [(field,)]
    sla = {
        "code": "AVAIL-CORE",
        "metric_kind": "availability",
        "service_key": "core-banking",
        "expected_level": "99.9",
        "minimum_level": "99.5",
        "allocation_pct": "40",
    }
    for lax_int in ["3", 3.0, True]:
        with pytest.raises(ValidationError, match="earn_back_periods"):
            SlaDefinition.model_validate({**sla, "earn_back_periods": lax_int})
    assert SlaDefinition.model_validate({**sla, "earn_back_periods": 3}).earn_back_periods == 3


@settings(max_examples=500, deadline=None)
@given(
    amount=st.decimals(allow_nan=False, allow_infinity=False)
    | st.builds(Decimal, st.sampled_from(["1E+2", "0E-8", "-0.00", "1e-7", "100E-2"])),
    at=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    minutes=st.sampled_from([0, 0, 1, -60, 330, -720]),
)
def test_values_written_out_are_what_the_models_dump(
    amount: Decimal, at: datetime, minutes: int
) -> None:
    # `json_decimal` and `json_instant` write documents out without a model (`Dumped`):
    # they must give what pydantic's dump of the same value gives.
    at = at.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    dumped = Doc(amount=amount, at=at).model_dump(mode="json")
    assert json_decimal(amount) == dumped["amount"]
    assert json_instant(at) == dumped["at"]
