"""A contract's health story told by the events contract-registry consumes, for tests of
its health views (the contract page, its charts): DESIGN's worked example over February
(AVAIL-CORE met, 99.95) and March (failed, 99.4609, credited 4,414.08, the invoice
reconciled with 4,694.08 of leakage), with a root-cause report done on time for February,
one gone overdue and one due 2026-05-01 for March."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
from pydantic import BaseModel

from crm_events.schemas.billing import ReconciliationCompleted
from crm_events.schemas.obligations import ObligationCreated, ObligationTransitioned
from crm_events.schemas.sla import Period
from crm_testing import examples
from crm_testing.kafka import make_event, publish_envelope, wait_until

REPORTED_AT = datetime(2026, 4, 20, 14, tzinfo=UTC)


def _february_closed(cid: uuid.UUID) -> BaseModel:
    event = examples.period_closed(cid, outcome="met")
    period = Period(
        label="2026-02",
        start=datetime(2026, 2, 1, 5, tzinfo=UTC),
        end=datetime(2026, 3, 1, 5, tzinfo=UTC),
    )
    return event.model_copy(update={"period": period, "attainment": Decimal("99.95")})


def _created(cid: uuid.UUID, oid: uuid.UUID, period: str, due: date) -> ObligationCreated:
    return ObligationCreated(
        obligation_id=oid,
        contract_id=cid,
        kind="root_cause_report",
        title=f"Root-cause report {period}",
        owner_role="service_delivery_manager",
        severity="high",
        due_date=due,
        period_label=period,
        created_at=REPORTED_AT,
    )


def _moved(
    cid: uuid.UUID, oid: uuid.UUID, status: str, due: date, at: datetime
) -> ObligationTransitioned:
    return ObligationTransitioned(
        obligation_id=oid,
        contract_id=cid,
        kind="root_cause_report",
        title="Root-cause report",
        from_status="open",
        status=status,
        due_date=due,
        owner_role="service_delivery_manager",
        at=at,
    )


def march_invoice(cid: uuid.UUID) -> ReconciliationCompleted:
    return ReconciliationCompleted(
        invoice_id=uuid.uuid4(),
        invoice_number="GLX-2026-03-001",
        contract_id=cid,
        period_label="2026-03",
        currency="USD",
        expected_total=Decimal("87545.92"),
        invoiced_total=Decimal("92240.00"),
        difference=Decimal("4694.08"),
        sums_by_class={
            "consumption_error": Decimal("280.00"),
            "unapplied_credit": Decimal("4414.08"),
        },
        discrepancies=2,
        status="discrepancies",
        reconciled_at=REPORTED_AT,
    )


def health_events(cid: uuid.UUID) -> list[tuple[str, BaseModel]]:
    on_time, late, later = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    return [
        ("sla.period_closed", _february_closed(cid)),
        ("sla.period_closed", examples.period_closed(cid)),
        ("billing.credit_calculated", examples.credit_calculated(cid)),
        ("reconciliation.completed", march_invoice(cid)),
        ("obligation.created", _created(cid, on_time, "2026-02", date(2026, 3, 10))),
        ("obligation.created", _created(cid, late, "2026-03", date(2026, 4, 10))),
        ("obligation.created", _created(cid, later, "2026-03", date(2026, 5, 1))),
        (
            "obligation.fulfilled",
            _moved(cid, on_time, "fulfilled", date(2026, 3, 10), datetime(2026, 3, 8, tzinfo=UTC)),
        ),
        (
            "obligation.overdue",
            _moved(cid, late, "overdue", date(2026, 4, 10), datetime(2026, 4, 11, tzinfo=UTC)),
        ),
    ]


async def tell_health_story(
    kafka: str, http: httpx.AsyncClient, health_url: str, cid: uuid.UUID
) -> list[dict[str, Any]]:
    """Publish the story on Kafka; the contract's JSON health once the registry has it all
    (exact figures are the caller's to check: other services may add to them)."""
    for event_type, data in health_events(cid):
        await publish_envelope(kafka, make_event(event_type, subject=str(cid), data=data))

    async def taken_in() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = (await http.get(health_url)).json()["items"]
        feb, march = [*rows, {}, {}][:2]
        # At least the story's figures: with the other services running, they react to
        # the same events (billing's own credit, recurring obligations) and add to them.
        done = (
            len(rows) == 2
            and feb.get("obligations_on_time", 0) >= 1
            and march.get("slas_failed") == 1
            and march.get("invoices") == 1
            and march.get("credits_total", "0.00") != "0.00"
            and march.get("obligations_opened", 0) >= 2
            and march.get("obligations_late", 0) >= 1
        )
        return rows if done else None

    try:
        found = await wait_until(taken_in, timeout=90, message="health read model fed")
    except AssertionError as exc:
        rows = (await http.get(health_url)).json()["items"]
        keys = [
            "period_label",
            "slas_failed",
            "credits_total",
            "invoices",
            "obligations_opened",
            "obligations_on_time",
            "obligations_late",
            "obligations_pending",
        ]
        now = [{k: r.get(k) for k in keys} for r in rows]
        raise AssertionError(f"{exc}; the health now: {now}") from exc
    assert isinstance(found, list)
    return found
