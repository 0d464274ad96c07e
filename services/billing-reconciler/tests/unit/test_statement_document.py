"""A statement's stored document, written out by `Statement.document()`, is what the charges
API's model dumps (`to_read().model_dump(mode="json")`): the same keys, values and JSON
forms (decimals positional, instants with `Z`), for any lines, figures and explanations."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_reconciler.charges.domain import LineKind, MonthlyCharges
from billing_reconciler.periods.recompute import charges_computed
from billing_reconciler.periods.statement import Statement, StatementLine
from crm_events.schemas.billing import ChargesComputed, Explanation
from crm_testing import examples

TEXT = st.text(min_size=0, max_size=12)  # formulas and clauses carry ×, −, %
DECIMALS = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False
) | st.sampled_from([Decimal("1E+2"), Decimal("0E-8"), Decimal("-0.00"), Decimal("12.3400")])
EXPLANATIONS = st.builds(
    Explanation,
    clause=TEXT,
    contract_version=st.integers(1, 9),
    formula=TEXT,
    inputs=st.dictionaries(TEXT, TEXT, max_size=3),
    source_ids=st.lists(TEXT, max_size=3),
)
LINES = st.builds(
    StatementLine,
    kind=st.sampled_from(list(LineKind)),
    item_code=TEXT,
    quantity=DECIMALS,
    rate=DECIMALS,
    amount=DECIMALS,
    explanation=EXPLANATIONS,
)
INSTANTS = st.none() | st.builds(
    lambda dt, minutes: dt.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from([0, 0, 60, -300, 330]),
)


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(LINES, max_size=6),
    total=DECIMALS,
    ara=DECIMALS,
    currency=st.sampled_from(["USD", "EUR", "JPY", "KWD"]),
    units=st.lists(TEXT, max_size=3),
    record_ids=st.lists(TEXT, max_size=3),
    revision=st.none() | st.integers(1, 50),
    computed_at=INSTANTS,
)
def test_the_document_is_the_charges_apis_dump(
    lines: list[StatementLine],
    total: Decimal,
    ara: Decimal,
    currency: str,
    units: list[str],
    record_ids: list[str],
    revision: int | None,
    computed_at: datetime | None,
) -> None:
    terms = examples.contract_terms(contract_id=uuid.uuid4()).model_copy(
        update={"currency": currency}
    )
    statement = Statement(
        terms=terms,
        period_label="2026-03",
        charges=MonthlyCharges(lines=[], total=total, units_without_consumption=units),
        at_risk_amount=ara,
        lines=lines,
        actuals={},
        consumption_record_ids=record_ids,
        revision=revision,
        computed_at=computed_at,
    )
    document = statement.document()
    assert document == statement.to_read().model_dump(mode="json")
    assert list(document) == list(statement.to_read().model_dump(mode="json"))
    if revision is not None and computed_at is not None:
        # The event cut from it validates and dumps to the same fields.
        event = charges_computed(document).json
        assert ChargesComputed.model_validate(event).model_dump(mode="json") == event
