from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from crm_events.envelope import Envelope, EnvelopeError
from crm_events.registry import InvalidPayload, UnknownEventType, parse_payload, spec_for
from crm_events.types import Amount, round_money


class _Money(BaseModel):
    amount: Amount


def _envelope(**fields: Any) -> Envelope:
    return Envelope(
        source="t",
        type="x.y",
        subject="c1",
        tenant="acme",
        dataschema="x.y@1",
        correlationid="corr",
        **fields,
    )


def test_envelope_round_trips_through_bytes() -> None:
    env = _envelope(data={"a": "1"})
    back = Envelope.from_bytes(env.to_bytes())
    assert back == env
    assert back.key == b"c1"


_TEXT = st.text(max_size=12)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    data=st.dictionaries(_TEXT, _JSON, max_size=5),
    time=st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))])),
    causation=st.none() | _TEXT,
    extension=st.none() | _TEXT,
)
def test_the_bytes_are_what_pydantic_writes(
    data: dict[str, Any], time: datetime, causation: str | None, extension: str | None
) -> None:
    """orjson writes the value; pydantic's own dump is the reference, big integers included
    (which orjson refuses and pydantic then writes)."""
    env = _envelope(causationid=causation, time=time, data=data, myextension=extension)
    assert env.to_bytes() == env.model_dump_json(exclude_none=True).encode()


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (None, "empty"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"specversion": "0.3"}', "specversion"),
        (b'{"specversion": "1.0", "type": "x"}', "invalid envelope"),
    ],
)
def test_unreadable_bytes_are_rejected_with_the_reason(raw: bytes | None, fragment: str) -> None:
    with pytest.raises(EnvelopeError, match=fragment):
        Envelope.from_bytes(raw)


def test_amounts_refuse_floats_and_serialise_as_exact_strings() -> None:
    with pytest.raises(ValidationError, match="not floats"):
        _Money(amount=0.1)  # type: ignore[arg-type]
    assert _Money(amount="11035.20").model_dump(mode="json") == {"amount": "11035.20"}
    assert _Money(amount=3).amount == Decimal(3)


@pytest.mark.parametrize(
    "amount, currency, expected",
    [
        (Decimal("2.345"), "USD", Decimal("2.34")),  # half-even: down to the even cent
        (Decimal("2.355"), "USD", Decimal("2.36")),
        (Decimal("1234.5"), "JPY", Decimal("1234")),  # no minor unit
        (Decimal("1.2345"), "KWD", Decimal("1.234")),  # three decimals
    ],
)
def test_money_rounds_half_even_to_the_currency_minor_unit(
    amount: Decimal, currency: str, expected: Decimal
) -> None:
    assert round_money(amount, currency) == expected


def test_payload_is_validated_against_the_catalog_schema() -> None:
    spec = spec_for("obligation.created")
    env = Envelope(
        source="t",
        type=spec.type,
        subject="c",
        tenant="t",
        dataschema=spec.dataschema,
        correlationid="c",
        data={"kind": "x"},
    )
    with pytest.raises(InvalidPayload, match="obligation_id"):
        parse_payload(env)


def test_unknown_types_and_foreign_schemas_are_refused() -> None:
    with pytest.raises(UnknownEventType):
        spec_for("nobody.knows")
    spec = spec_for("obligation.created")
    env = Envelope(
        source="t",
        type=spec.type,
        subject="c",
        tenant="t",
        dataschema="obligation.created@7",
        correlationid="c",
        data={},
    )
    with pytest.raises(InvalidPayload, match="dataschema"):
        parse_payload(env)


def test_envelope_factory_refuses_the_wrong_payload_model() -> None:
    spec = spec_for("alert.raised")
    with pytest.raises(TypeError, match="AlertRaised, not _Money"):
        spec.envelope(
            source="s",
            subject="c",
            tenant="t",
            correlation_id="c",
            data=_Money(amount=Decimal(1)),
        )


def _event() -> Envelope:
    spec = spec_for("alert.raised")
    return Envelope(
        source="obligation-tracker",
        type=spec.type,
        subject="c1",
        tenant="acme",
        dataschema=spec.dataschema,
        correlationid="corr",
        data={"a": "1"},
    )


def test_we_publish_structured_mode_with_a_content_type_and_no_ce_headers() -> None:
    env = _event()
    assert env.kafka_headers() == [("content-type", b"application/cloudevents+json; charset=UTF-8")]
    assert Envelope.from_kafka(env.to_bytes(), env.kafka_headers()) == env
    assert env.dataschema.endswith("/schemas/events/alert.raised@1.json")


def test_binary_mode_and_header_less_messages_are_read_too() -> None:
    env = _event()
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", env.id.encode()),
        ("ce_source", b"obligation-tracker"),
        ("ce_type", b"alert.raised"),
        ("ce_subject", b"c1"),
        ("ce_time", env.time.isoformat().encode()),
        ("ce_dataschema", env.dataschema.encode()),
        ("ce_tenant", b"acme"),
        ("ce_correlationid", b"corr"),
        ("content-type", b"application/json"),
    ]
    assert Envelope.from_kafka(b'{"a": "1"}', headers) == env
    assert Envelope.from_kafka(env.to_bytes(), None) == env  # published before the header
    with pytest.raises(EnvelopeError, match="must be JSON"):
        Envelope.from_kafka(b"<a/>", [*headers[:-1], ("content-type", b"application/xml")])
    with pytest.raises(EnvelopeError, match="not JSON"):
        Envelope.from_kafka(b"{oops", headers)


def test_a_dataschema_names_the_schema_wherever_it_is_served() -> None:
    env = _event()
    for dataschema in (
        "alert.raised@1",
        "https://crm.example.com/schemas/events/alert.raised@1.json",
    ):
        moved = env.model_copy(update={"dataschema": dataschema})
        with pytest.raises(InvalidPayload, match=r"alert_id|validation|field"):
            parse_payload(moved)  # the schema is accepted; the toy data is not
    with pytest.raises(InvalidPayload, match="does not name"):
        parse_payload(env.model_copy(update={"dataschema": "https://x/alert.raised@2.json"}))
