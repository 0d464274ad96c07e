"""DESIGN.md's worked example, as test data shared by integration and end-to-end tests.

Contract in America/New_York, March 2026: SRV-WIN baseline 200 at 150.00 (ARC 140, RRC 120,
deadband 5%), TCK-L1 baseline 5,000 at 12.00 (ARC 11, RRC 9, deadband 10%); AVAIL-CORE
expected 99.9 / minimum 99.5 / allocation 40%; at-risk 12%. A 300-minute outage, 60 minutes
of it inside a maintenance window, makes 99.4609% (failed) and a credit of 4,414.08.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from crm_events.schemas.billing import CreditCalculated, Explanation
from crm_events.schemas.contracts import ContractTerms, MetricKind
from crm_events.schemas.sla import AvailabilityFigures, Outcome, Period, SlaPeriodClosed

PERIOD = "2026-03"
OUTAGE = {"started_at": "2026-03-14T03:00:00Z", "ended_at": "2026-03-14T08:00:00Z"}
MAINTENANCE = {
    "start": "2026-03-14T06:00:00Z",
    "end": "2026-03-14T07:00:00Z",
    "description": "Agreed storage firmware upgrade",
}
CONSUMPTION = {"SRV-WIN": "214", "TCK-L1": "4700"}
EXPECTED = {
    "attainment": Decimal("99.4609"),
    "arc": Decimal("1960.00"),
    "monthly_charges": Decimal("91960.00"),
    "at_risk_amount": Decimal("11035.20"),
    "credit": Decimal("4414.08"),
}


def contract_document(
    *,
    reference: str | None = None,
    service_key: str | None = None,
    tenant_id: str | None = "acme-bank",
) -> dict[str, Any]:
    """The contract as a deal team would POST it to contract-registry."""
    suffix = uuid.uuid4().hex[:8]
    doc: dict[str, Any] = {
        "reference": reference or f"ACME-ITO-{suffix}",
        "customer": "Acme Bank",
        "supplier": "Globex Services",
        "currency": "USD",
        "timezone": "America/New_York",
        "start_date": "2026-01-01",
        "end_date": "2028-12-31",
        "price_book": [
            {
                "code": "SRV-WIN",
                "name": "Windows server",
                "unit": "server",
                "unit_price": "150.00",
                "baseline_volume": "200",
                "arc_rate": "140.00",
                "rrc_rate": "120.00",
                "deadband_pct": "5",
            },
            {
                "code": "TCK-L1",
                "name": "Level-1 ticket",
                "unit": "ticket",
                "unit_price": "12.00",
                "baseline_volume": "5000",
                "arc_rate": "11.00",
                "rrc_rate": "9.00",
                "deadband_pct": "10",
            },
        ],
        "sla_definitions": [
            {
                "code": "AVAIL-CORE",
                "name": "Core banking availability",
                "metric_kind": "availability",
                "service_key": service_key or f"core-{suffix}",
                "expected_level": "99.9",
                "minimum_level": "99.5",
                "allocation_pct": "40",
                "maintenance_windows": {"fixed": [MAINTENANCE]},
            },
        ],
        "credit_terms": {
            "at_risk_pct": "12",
            "pool_pct": "200",
            "root_cause_due_business_days": 10,
        },
    }
    if tenant_id is not None:
        doc["tenant_id"] = tenant_id
    return doc


def contract_terms(
    *,
    contract_id: uuid.UUID | None = None,
    tenant_id: str = "acme-bank",
    service_key: str | None = None,
    version: int = 1,
) -> ContractTerms:
    """The same contract as contracts.v1 carries it."""
    doc = contract_document(service_key=service_key, tenant_id=None)
    return ContractTerms.model_validate(
        {
            **doc,
            "contract_id": contract_id or uuid.uuid4(),
            "tenant_id": tenant_id,
            "version": version,
            "effective_from": doc["start_date"],
        }
    )


def march_close_time() -> datetime:
    return datetime(2026, 4, 4, 12, 0, tzinfo=UTC)


def period_closed(
    contract_id: uuid.UUID, *, outcome: str = "failed", closed_at: datetime | None = None
) -> SlaPeriodClosed:
    """sla-monitor's event for AVAIL-CORE in March 2026 (the worked example's figures)."""
    return SlaPeriodClosed(
        contract_id=contract_id,
        contract_version=1,
        sla_code="AVAIL-CORE",
        metric_kind=MetricKind.AVAILABILITY,
        period=Period(
            label=PERIOD,
            start=datetime(2026, 3, 1, 5, tzinfo=UTC),
            end=datetime(2026, 4, 1, 4, tzinfo=UTC),
        ),
        timezone="America/New_York",
        attainment=EXPECTED["attainment"],
        expected_level=Decimal("99.9"),
        minimum_level=Decimal("99.5"),
        outcome=Outcome(outcome),
        figures=AvailabilityFigures(
            period_minutes=Decimal(44580),
            excluded_minutes=Decimal(60),
            downtime_minutes=Decimal(240),
        ),
        explanation="worked example",
        closed_at=closed_at or march_close_time(),
    )


def credit_calculated(contract_id: uuid.UUID) -> CreditCalculated:
    """billing-reconciler's event for the worked example's credit."""
    return CreditCalculated(
        credit_id=uuid.uuid4(),
        contract_id=contract_id,
        sla_code="AVAIL-CORE",
        period_label=PERIOD,
        currency="USD",
        monthly_charges=EXPECTED["monthly_charges"],
        at_risk_pct=Decimal(12),
        at_risk_amount=EXPECTED["at_risk_amount"],
        allocation_pct=Decimal(40),
        credit_amount=EXPECTED["credit"],
        outcome="failed",
        explanation=Explanation(
            clause="Service credits", contract_version=1, formula="11035.20 × 40%", inputs={}
        ),
        calculated_at=datetime.now(UTC),
    )
