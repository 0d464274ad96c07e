"""The alert every event type raises, pinned to the letter: severity, title, key, details
and amount (a characterisation of `candidate`, one case per event type and variant)."""

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from tracker_events import at_risk

import crm_testing.examples as examples
from crm_events.schemas.billing import DiscrepancyFound, VolumeBandExceeded
from crm_events.schemas.obligations import ObligationTransitioned
from crm_events.schemas.sla import (
    Outcome,
    Period,
    PreviousFigures,
    SlaAtRisk,
    SlaBreached,
    SlaPeriodRestated,
)
from obligation_tracker.alerts.rules import AlertCandidate, candidate

CONTRACT = uuid.UUID("0b7e6a52-91d4-4c3f-8f0e-5d2a6c1e9b47")
CREDIT = uuid.UUID("5c3d1e8f-7a26-4b90-b1d4-9e0f2a6c7d83")
INVOICE = uuid.UUID("e2a94f10-6b3c-4d75-8c21-3f7b0a9d5e66")
OBLIGATION = uuid.UUID("9d0c7b3a-2e15-4f68-a4b9-1c6e8f2d0a54")
MARCH = Period(
    label="2026-03",
    start=datetime(2026, 3, 1, 5, tzinfo=UTC),
    end=datetime(2026, 4, 1, 4, tzinfo=UTC),
)
DETECTED = datetime(2026, 3, 14, 8, 1, tzinfo=UTC)
FAILURE_KEY = f"sla_failure:{CONTRACT}:AVAIL-CORE:2026-03"


def _breached(best: D | None) -> SlaBreached:
    return SlaBreached(
        contract_id=CONTRACT,
        contract_version=1,
        sla_code="AVAIL-CORE",
        period=MARCH,
        best_possible_attainment=best,
        minimum_level=D("99.5"),
        explanation="240 minutes down",
        detected_at=DETECTED,
    )


def _closed_details(attainment: str | None, outcome: str) -> dict[str, Any]:
    return {
        "sla_code": "AVAIL-CORE",
        "period": "2026-03",
        "attainment": attainment,
        "outcome": outcome,
        "expected_level": "99.9",
        "minimum_level": "99.5",
    }


def _restated(outcome: str) -> SlaPeriodRestated:
    closed = examples.period_closed(CONTRACT, outcome=outcome)
    return SlaPeriodRestated(
        **closed.model_dump(),
        restatement=1,
        previous=PreviousFigures(attainment=D("99.95"), outcome=Outcome.MET),
        reason="late telemetry",
    )


def _no_data() -> Any:
    return examples.period_closed(CONTRACT, outcome="no_data").model_copy(
        update={"attainment": None}
    )


def _at_risk(remaining: D | None) -> SlaAtRisk:
    return at_risk(CONTRACT).model_copy(
        update={
            "projected_attainment": D("99.41"),
            "remaining_budget_minutes": remaining,
            "detected_at": DETECTED,
        }
    )


def _credit(measurement_period: str | None) -> Any:
    return examples.credit_calculated(CONTRACT).model_copy(
        update={
            "credit_id": CREDIT,
            "measurement_period": measurement_period,
            "period_label": "2026-04" if measurement_period == "2026-Q1" else "2026-03",
            "revision": 2,
        }
    )


def _discrepancy(item_code: str | None) -> DiscrepancyFound:
    return DiscrepancyFound(
        discrepancy_id=uuid.UUID("3a8f6d21-0c94-4e7b-9b5a-7d1e2f4c6a08"),
        invoice_id=INVOICE,
        invoice_number="GLX-2026-0314",
        contract_id=CONTRACT,
        period_label="2026-03",
        currency="USD",
        discrepancy_class="rate_error",
        direction="under_billed",
        amount=D("-240.00"),
        item_code=item_code,
        explanation="billed at 148.00, the contract says 150.00",
        found_at=DETECTED,
    )


def _obligation(status: str, *, level: int = 0, to: str | None = None) -> ObligationTransitioned:
    return ObligationTransitioned(
        obligation_id=OBLIGATION,
        contract_id=CONTRACT,
        kind="contractual",
        title="Monthly service report",
        from_status="due",
        status=status,
        due_date=date(2026, 3, 6),
        owner_role="service_delivery_manager",
        owner="m.jones",
        escalation_level=level,
        escalated_to=to,
        at=DETECTED,
    )


OBLIGATION_DETAILS = {
    "obligation_id": str(OBLIGATION),
    "kind": "contractual",
    "due_date": "2026-03-06",
    "owner_role": "service_delivery_manager",
    "owner": "m.jones",
}

BREACH = AlertCandidate(
    contract_id=CONTRACT,
    severity="high",
    title="SLA AVAIL-CORE breached in 2026-03: below its minimum of 99.5% (at best 99.4609%)",
    dedup_key=FAILURE_KEY,
    details={
        "sla_code": "AVAIL-CORE",
        "period": "2026-03",
        "minimum_level": "99.5",
        "best_possible_attainment": "99.4609",
        "breach_explanation": "240 minutes down",
        "detected_at": "2026-03-14T08:01:00+00:00",
    },
)
AT_RISK = AlertCandidate(
    contract_id=CONTRACT,
    severity="medium",
    title="SLA AVAIL-CORE at risk in 2026-03: projected 99.41% against a minimum of 99.5%",
    dedup_key=f"sla_at_risk:{CONTRACT}:AVAIL-CORE:2026-03",
    details={
        "sla_code": "AVAIL-CORE",
        "period": "2026-03",
        "projected_attainment": "99.41",
        "remaining_budget_minutes": "12.5",
        "risk_explanation": "budget nearly spent",
    },
)
CREDIT_ALERT = AlertCandidate(
    contract_id=CONTRACT,
    severity="high",
    title="SLA AVAIL-CORE failed in 2026-03: service credit 4414.08 USD",
    dedup_key=FAILURE_KEY,
    details={
        "credit_id": str(CREDIT),
        "credit_amount": "4414.08",
        "credit_revision": 2,
        "currency": "USD",
        "sla_code": "AVAIL-CORE",
        "period": "2026-03",
        "formula": "11035.20 × 40%",
    },
    amount=D("4414.08"),
)
INVOICE_ALERT = AlertCandidate(
    contract_id=CONTRACT,
    severity="medium",
    title="Invoice GLX-2026-0314 (2026-03) differs from the contract",
    dedup_key=f"invoice_discrepancy:{CONTRACT}:{INVOICE}",
    details={
        "invoice_id": str(INVOICE),
        "invoice_number": "GLX-2026-0314",
        "period": "2026-03",
        "currency": "USD",
        "discrepancies": ["rate_error under_billed -240.00 on SRV-WIN"],
    },
    amount=D("240.00"),
)


def _but(alert: AlertCandidate, *, title: str | None = None, **details: Any) -> AlertCandidate:
    """The alert with another title and some details changed."""
    return replace(alert, title=title or alert.title, details={**alert.details, **details})


CASES: list[tuple[str, Any, AlertCandidate | None]] = [
    ("sla.breached", _breached(D("99.4609")), BREACH),
    (
        "sla.breached",
        _breached(None),
        _but(
            BREACH,
            title="SLA AVAIL-CORE breached in 2026-03: below its minimum of 99.5%",
            best_possible_attainment=None,
        ),
    ),
    (
        "sla.period_closed",
        examples.period_closed(CONTRACT),
        AlertCandidate(
            contract_id=CONTRACT,
            severity="high",
            title="SLA AVAIL-CORE failed in 2026-03: 99.4609% against a minimum of 99.5%",
            dedup_key=FAILURE_KEY,
            details=_closed_details("99.4609", "failed"),
        ),
    ),
    (
        "sla.period_restated",
        _restated("below_expected"),
        AlertCandidate(
            contract_id=CONTRACT,
            severity="medium",
            title="SLA AVAIL-CORE below expected in 2026-03: 99.4609% against 99.9%",
            dedup_key=f"sla_below_expected:{CONTRACT}:AVAIL-CORE:2026-03",
            details=_closed_details("99.4609", "below_expected"),
        ),
    ),
    (
        "sla.period_closed",
        _no_data(),
        AlertCandidate(
            contract_id=CONTRACT,
            severity="low",
            title="SLA AVAIL-CORE had no data in 2026-03",
            dedup_key=f"sla_no_data:{CONTRACT}:AVAIL-CORE:2026-03",
            details=_closed_details(None, "no_data"),
        ),
    ),
    ("sla.period_restated", _restated("met"), None),
    ("sla.at_risk", _at_risk(D("12.5")), AT_RISK),
    ("sla.at_risk", _at_risk(None), _but(AT_RISK, remaining_budget_minutes=None)),
    ("billing.credit_calculated", _credit(None), CREDIT_ALERT),
    (
        "billing.credit_calculated",
        _credit("2026-Q1"),
        replace(
            _but(
                CREDIT_ALERT,
                title=(
                    "SLA AVAIL-CORE failed in 2026-Q1: service credit 4414.08 USD "
                    "(billed in 2026-04)"
                ),
                period="2026-04",
            ),
            dedup_key=f"sla_failure:{CONTRACT}:AVAIL-CORE:2026-Q1",
        ),
    ),
    (
        "billing.volume_band_exceeded",
        VolumeBandExceeded(
            contract_id=CONTRACT,
            period_label="2026-03",
            resource_unit="SRV-WIN",
            actual=D("252"),
            baseline=D("200"),
            floor_pct=D("80"),
            ceiling_pct=D("120"),
            direction="above",
            detected_at=DETECTED,
        ),
        AlertCandidate(
            contract_id=CONTRACT,
            severity="medium",
            title="SRV-WIN volume above its band in 2026-03: 252 against a baseline of 200",
            dedup_key=f"volume_band:{CONTRACT}:SRV-WIN:2026-03",
            details={
                "resource_unit": "SRV-WIN",
                "period": "2026-03",
                "actual": "252",
                "baseline": "200",
                "band": "80%–120%",
                "direction": "above",
            },
        ),
    ),
    ("reconciliation.discrepancy_found", _discrepancy("SRV-WIN"), INVOICE_ALERT),
    (
        "reconciliation.discrepancy_found",
        _discrepancy(None),
        _but(INVOICE_ALERT, discrepancies=["rate_error under_billed -240.00"]),
    ),
    (
        "obligation.overdue",
        _obligation("overdue"),
        AlertCandidate(
            contract_id=CONTRACT,
            severity="medium",
            title="Overdue since 2026-03-06: Monthly service report",
            dedup_key=f"obligation_overdue:{OBLIGATION}",
            details={**OBLIGATION_DETAILS, "escalation_level": 0, "escalated_to": None},
        ),
    ),
    (
        "obligation.escalated",
        _obligation("escalated", level=2, to="account_executive"),
        AlertCandidate(
            contract_id=CONTRACT,
            severity="high",
            title=(
                "Escalated to account_executive (level 2): Monthly service report, due 2026-03-06"
            ),
            dedup_key=f"obligation_escalated:{OBLIGATION}:2",
            details={
                **OBLIGATION_DETAILS,
                "escalation_level": 2,
                "escalated_to": "account_executive",
            },
        ),
    ),
    # Events that raise no alert, and payloads of another type than the event's.
    ("obligation.due_soon", _obligation("due_soon"), None),
    ("obligation.fulfilled", _obligation("fulfilled"), None),
    ("sla.breached", _at_risk(None), None),
    ("billing.credit_calculated", examples.period_closed(CONTRACT), None),
    ("contract.activated", examples.period_closed(CONTRACT), None),
]


@pytest.mark.parametrize(
    ("event_type", "payload", "expected"),
    CASES,
    ids=[f"{i:02}-{event_type}" for i, (event_type, _, _) in enumerate(CASES)],
)
def test_each_event_type_raises_exactly_its_alert(
    event_type: str, payload: Any, expected: AlertCandidate | None
) -> None:
    assert candidate(event_type, payload) == expected
