"""DESIGN.md's worked example, as test data shared by integration and end-to-end tests.

Contract in America/New_York, March 2026: SRV-WIN baseline 200 at 150.00 (ARC 140, RRC 120,
deadband 5%), TCK-L1 baseline 5,000 at 12.00 (ARC 11, RRC 9, deadband 10%); AVAIL-CORE
expected 99.9 / minimum 99.5 / allocation 40%; at-risk 12%. A 300-minute outage, 60 minutes
of it inside a maintenance window, makes 99.4609% (failed) and a credit of 4,414.08.
"""

from __future__ import annotations

import csv
import io
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
                "maintenance_windows": {"fixed": [dict(MAINTENANCE)]},  # a copy: tests edit it
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


# The supplier's invoice for March (DESIGN §5) and what reconciling it must find ----------

INVOICE_TOTAL = "92240.00"
INVOICE_LINES: list[dict[str, Any]] = [
    {
        "line_number": 1,
        "item_code": "SRV-WIN",
        "kind": "base",
        "description": "Windows servers, baseline",
        "quantity": "200",
        "unit_price": "150.00",
        "amount": "30000.00",
    },
    {
        "line_number": 2,
        "item_code": "SRV-WIN",
        "kind": "arc",
        "description": "Windows servers above baseline",
        "quantity": "16",
        "unit_price": "140.00",
        "amount": "2240.00",
    },
    {
        "line_number": 3,
        "item_code": "TCK-L1",
        "kind": "base",
        "description": "Level-1 tickets, baseline",
        "quantity": "5000",
        "unit_price": "12.00",
        "amount": "60000.00",
    },
]
RECONCILIATION = {
    "expected_total": Decimal("87545.92"),
    "invoiced_total": Decimal("92240.00"),
    "difference": Decimal("4694.08"),
    "consumption_error": Decimal("280.00"),  # billed ARC 16 vs measured 14 → 2 × 140.00
    "unapplied_credit": Decimal("4414.08"),  # AVAIL-CORE's credit is not on the invoice
}


def consumption_items(
    contract_id: uuid.UUID | str, *, prefix: str | None = None
) -> list[dict[str, str]]:
    """March's consumption records as the ERP posts them."""
    cid = str(contract_id)
    return [
        {
            "record_id": f"{prefix or cid}-{code}",
            "contract_id": cid,
            "resource_unit": code,
            "period_label": PERIOD,
            "quantity": qty,
        }
        for code, qty in CONSUMPTION.items()
    ]


def invoice_document(
    contract_id: uuid.UUID | str, *, invoice_number: str | None = None
) -> dict[str, Any]:
    """The supplier's March invoice as the ERP posts it to billing-reconciler (JSON)."""
    return {
        "invoice_number": invoice_number or f"GLX-2026-03-{uuid.uuid4().hex[:6]}",
        "contract_id": str(contract_id),
        "period_label": PERIOD,
        "currency": "USD",
        "issued_on": "2026-04-05",
        "total": INVOICE_TOTAL,
        "lines": [dict(line) for line in INVOICE_LINES],
    }


def invoice_csv(contract_id: uuid.UUID | str, *, invoice_number: str | None = None) -> str:
    """The same invoice as a CSV export (one row per line, header first)."""
    doc = invoice_document(contract_id, invoice_number=invoice_number)
    head = ["invoice_number", "contract_id", "period_label", "currency", "issued_on", "total"]
    columns = ["line_number", "item_code", "kind", "description", "quantity", "unit_price"]
    columns.append("amount")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(head + columns)
    for line in doc["lines"]:
        writer.writerow([doc[h] for h in head] + [line[c] for c in columns])
    return out.getvalue()
