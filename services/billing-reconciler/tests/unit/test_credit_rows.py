"""`Credit`, the settlement pass's plain row of `service_credits`: read positionally from a
select of `CREDIT_COLUMNS`, so its fields must be the table's columns in the table's order;
`write_credits` writes only what is new or changed."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from billing_reconciler.credits.service import CREDIT_COLUMNS, Credit, write_credits
from billing_reconciler.models import ServiceCredit


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
