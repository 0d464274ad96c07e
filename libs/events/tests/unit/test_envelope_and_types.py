from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from crm_events.envelope import Envelope, EnvelopeError
from crm_events.registry import InvalidPayload, UnknownEventType, parse_payload, spec_for
from crm_events.types import Amount, round_money


class _Money(BaseModel):
    amount: Amount


def test_envelope_round_trips_through_bytes() -> None:
    env = Envelope(
        source="t",
        type="x.y",
        subject="c1",
        tenant="acme",
        dataschema="x.y@1",
        correlationid="corr",
        data={"a": "1"},
    )
    back = Envelope.from_bytes(env.to_bytes())
    assert back == env
    assert back.key == b"c1"


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
