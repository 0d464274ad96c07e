"""`Credit`, the settlement pass's plain row of `service_credits`: read positionally from a
select of `CREDIT_COLUMNS`, so its fields must be the table's columns in the table's order;
`write_credits` writes only what is new or changed; `credit_document` writes out what
`billing.credit_calculated` carries, as the payload model would dump it."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_reconciler.credits.service import (
    CREDIT_COLUMNS,
    Credit,
    credit_document,
    credit_payload,
    write_credits,
)
from billing_reconciler.models import ServiceCredit
from crm_events.schemas.billing import CreditCalculated, Explanation


def test_a_credits_fields_are_the_tables_columns_in_order() -> None:
    fields = [f.name for f in dataclasses.fields(Credit) if f.name != "stored"]
    assert fields == list(CREDIT_COLUMNS)
    assert list(CREDIT_COLUMNS) == [c.name for c in ServiceCredit.__table__.columns]


def _credit(**changes: Any) -> Credit:
    now = datetime(2026, 4, 1, tzinfo=UTC)
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "tenant_id": "acme-bank",
        "contract_id": uuid.uuid4(),
        "contract_version": 1,
        "sla_code": "AVAIL-CORE",
        "period_label": "2026-03",
        "currency": "USD",
        "monthly_charges": Decimal("90000.00"),
        "at_risk_pct": Decimal("12"),
        "at_risk_amount": Decimal("10800.00"),
        "allocation_pct": Decimal("40"),
        "credit_amount": Decimal("4320.00"),
        "measurement_period": "2026-03",
        "uncapped_amount": Decimal("4320.00"),
        "cap_reduction": Decimal("0.00"),
        "outcome": "failed",
        "explanation": {"clause": "5.2", "inputs": {"a": "1"}},
        "source_event_id": "e-1",
        "calculated_at": now,
        "revision": 1,
        "reason": "failed",
        "first_calculated_at": now,
        "earn_back_status": "pending",
        "earn_back_progress": 0,
        "earn_back_periods": 3,
        "earn_back_period": None,
    }
    return Credit(**(values | changes))


class _Session:
    """Records what `write_credits` executes (the statement's rows)."""

    def __init__(self) -> None:
        self.rows: list[list[dict[str, Any]]] = []

    async def execute(self, _statement: Any, rows: list[dict[str, Any]]) -> None:
        self.rows.append(rows)


@pytest.mark.asyncio
async def test_only_new_and_changed_credits_are_written_and_then_count_as_stored() -> None:
    new, same, moved, explained = _credit(), _credit(), _credit(), _credit()
    for stored in (same, moved, explained):
        stored.stored = stored.values()
    moved.credit_amount = Decimal("5000.00")
    # An equal document is no change; a changed one is.
    same.explanation = {"clause": "5.2", "inputs": {"a": "1"}}
    explained.explanation = {"clause": "5.2", "inputs": {"a": "2"}}
    session = _Session()
    assert await write_credits(session, [new, same, moved, explained]) == 3  # type: ignore[arg-type]
    [rows] = session.rows
    assert [r["id"] for r in rows] == [new.id, moved.id, explained.id]
    assert rows[1]["credit_amount"] == Decimal("5000.00")
    assert set(rows[0]) == set(CREDIT_COLUMNS)
    # Written once: the same credits again write nothing (no statement at all).
    assert await write_credits(session, [new, same, moved, explained]) == 0  # type: ignore[arg-type]
    assert len(session.rows) == 1


_DECIMALS = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False
) | st.sampled_from([Decimal("1E+2"), Decimal("0E-8"), Decimal("-0.00")])
_INSTANTS = st.builds(
    lambda dt, minutes: dt.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from([0, 0, 60, -300]),
)
_EXPLANATIONS = st.builds(
    Explanation,
    clause=st.text(max_size=8),
    contract_version=st.integers(1, 9),
    formula=st.text(max_size=12),
    inputs=st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    source_ids=st.lists(st.text(max_size=5), max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(
    figures=st.fixed_dictionaries(
        {
            name: _DECIMALS
            for name in (
                "monthly_charges",
                "at_risk_pct",
                "at_risk_amount",
                "allocation_pct",
                "credit_amount",
                "cap_reduction",
            )
        }
    ),
    uncapped=st.none() | _DECIMALS,
    outcome=st.none() | st.sampled_from(["failed", "met", "no_data"]),
    measurement_period=st.none() | st.sampled_from(["2026-03", "2026-Q1"]),
    revision=st.integers(1, 9),
    previous=_DECIMALS,
    delta=_DECIMALS,
    calculated_at=_INSTANTS,
    explanation=_EXPLANATIONS,
)
def test_the_credit_event_written_out_is_the_payloads_dump(
    figures: dict[str, Decimal],
    uncapped: Decimal | None,
    outcome: str | None,
    measurement_period: str | None,
    revision: int,
    previous: Decimal,
    delta: Decimal,
    calculated_at: datetime,
    explanation: Explanation,
) -> None:
    row = _credit(
        **figures,
        uncapped_amount=uncapped,
        outcome=outcome,
        measurement_period=measurement_period,
        revision=revision,
        calculated_at=calculated_at,
        explanation=explanation.model_dump(mode="json"),
    )
    document = credit_document(row, previous, delta)
    payload = credit_payload(row, previous, delta, explanation).model_dump(mode="json")
    assert document == payload
    assert list(document) == list(payload)
    assert CreditCalculated.model_validate(document).model_dump(mode="json") == document
