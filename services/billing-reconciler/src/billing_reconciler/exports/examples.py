"""The worked example (DESIGN.md §5) as the JSON items the CSV examples are rendered from:
the AVAIL-CORE credit, March's statement, the invoice's two discrepancies and their ledger
rows. Validated against the read models when the examples are rendered."""

from __future__ import annotations

from typing import Any

CONTRACT = "7b0c6f2e-8f7d-4a59-9d0e-2a1c3e5b6d7f"
INVOICE = "36a0e9ab-5c1d-4e2f-9a3b-7c8d9e0f1a2b"
CLOSED_EVENT = "efa5fc14-54b7-44a1-926d-9152561a96b0"
RECORDS = ["ERP-2026-03-0001", "ERP-2026-03-0002"]
AT = "2026-04-01T05:00:00.120000Z"
RECONCILED_AT = "2026-04-06T09:30:00.250000Z"

CREDIT_EXPLANATION: dict[str, Any] = {
    "clause": "Service credits: SLA AVAIL-CORE (Core banking availability), at-risk 12% of "
    "monthly charges",
    "contract_version": 1,
    "formula": "2026-03 failed (worse than the minimum level); M = base + ARC − RRC = "
    "91960.00; ARA = 12% × M = 11035.20; credit = at-risk 11035.20 × allocation 40% = "
    "4414.08; within the ceiling (the period cap is the at-risk amount 11035.20)",
    "inputs": {
        "outcome": "failed",
        "attainment": "99.4609",
        "expected_level": "99.9",
        "minimum_level": "99.5",
        "monthly_charges": "91960.00",
        "at_risk_amount": "11035.20",
        "allocation_pct": "40",
    },
    "source_ids": [CLOSED_EVENT, *RECORDS],
}

CREDIT: dict[str, Any] = {
    "credit_id": "632eebb4-c163-4057-bed7-b60c21fe8dad",
    "contract_id": CONTRACT,
    "contract_version": 1,
    "sla_code": "AVAIL-CORE",
    "period_label": "2026-03",
    "measurement_period": "2026-03",
    "currency": "USD",
    "monthly_charges": "91960.00",
    "at_risk_pct": "12",
    "at_risk_amount": "11035.20",
    "allocation_pct": "40",
    "uncapped_amount": "4414.08",
    "cap_reduction": "0.00",
    "credit_amount": "4414.08",
    "revision": 1,
    "previous_amount": "0.00",
    "delta_amount": "4414.08",
    "outcome": "failed",
    "reason": "failed",
    "explanation": CREDIT_EXPLANATION,
    "calculated_at": AT,
    "source_event_id": CLOSED_EVENT,
    "revisions": [
        {
            "revision": 1,
            "credit_amount": "4414.08",
            "previous_amount": "0.00",
            "delta_amount": "4414.08",
            "uncapped_amount": "4414.08",
            "cap_reduction": "0.00",
            "monthly_charges": "91960.00",
            "at_risk_amount": "11035.20",
            "outcome": "failed",
            "reason": "failed",
            "explanation": CREDIT_EXPLANATION,
            "source_event_id": CLOSED_EVENT,
            "calculated_at": AT,
        }
    ],
    "earn_back": {
        "status": "not_applicable",
        "periods": 0,
        "progress": 0,
        "earned_back_in_period": None,
        "explanation": None,
        "transitions": [
            {
                "from_status": None,
                "to_status": "not_applicable",
                "progress": 0,
                "period_label": None,
                "explanation": "no earn-back clause",
                "at": AT,
            }
        ],
    },
}


def _line(kind: str, item: str, quantity: str, rate: str, amount: str, **expl: Any) -> Any:
    return {
        "kind": kind,
        "item_code": item,
        "quantity": quantity,
        "rate": rate,
        "amount": amount,
        "formula": expl["formula"],
        "explanation": {"contract_version": 1, "source_ids": [], **expl},
    }


STATEMENT: dict[str, Any] = {
    "contract_id": CONTRACT,
    "contract_version": 1,
    "period_label": "2026-03",
    "currency": "USD",
    "lines": [
        _line(
            "base",
            "SRV-WIN",
            "200",
            "150.00",
            "30000.00",
            clause="Price book: SRV-WIN (Windows server), baseline 200 server at 150.00",
            formula="baseline 200 × unit price 150.00 = 30000.00",
            inputs={"baseline_volume": "200", "unit_price": "150.00"},
        ),
        _line(
            "arc",
            "SRV-WIN",
            "14",
            "140.00",
            "1960.00",
            clause="Price book: SRV-WIN (Windows server) additional resource charge (ARC), "
            "deadband 5% (full_variance)",
            formula="ARC = (actual 214 − baseline 200) × rate 140.00 = 14 × 140.00 = 1960.00",
            inputs={"actual": "214", "baseline_volume": "200", "rate": "140.00"},
            source_ids=RECORDS[:1],
        ),
        _line(
            "base",
            "TCK-L1",
            "5000",
            "12.00",
            "60000.00",
            clause="Price book: TCK-L1 (Level-1 ticket), baseline 5000 ticket at 12.00",
            formula="baseline 5000 × unit price 12.00 = 60000.00",
            inputs={"baseline_volume": "5000", "unit_price": "12.00"},
        ),
        {
            "kind": "credit",
            "item_code": "AVAIL-CORE",
            "quantity": "1",
            "rate": "4414.08",
            "amount": "-4414.08",
            "formula": CREDIT_EXPLANATION["formula"],
            "explanation": CREDIT_EXPLANATION,
        },
    ],
    "monthly_charges": "91960.00",
    "at_risk_pct": "12",
    "at_risk_amount": "11035.20",
    "credits_total": "-4414.08",
    "rebates_total": "0.00",
    "expected_total": "87545.92",
    "units_without_consumption": [],
    "consumption_record_ids": RECORDS,
    "revision": 1,
    "computed_at": AT,
}


def _discrepancy(number: str, **fields: Any) -> dict[str, Any]:
    return {
        "discrepancy_id": number,
        "invoice_id": INVOICE,
        "invoice_number": "GLX-2026-03-0042",
        "contract_id": CONTRACT,
        "period_label": "2026-03",
        "currency": "USD",
        "direction": "over_billed",
        **fields,
        "revision": 1,
        "found_at": RECONCILED_AT,
    }


DISCREPANCIES: tuple[dict[str, Any], ...] = (
    _discrepancy(
        "b2d9a7c8-eaae-4f73-98ed-7aa0f4a8a919",
        discrepancy_class="consumption_error",
        amount="280.00",
        item_code="SRV-WIN",
        line_number=2,
        expected="14",
        invoiced="16",
        explanation="arc SRV-WIN: billed quantity 16 (line 2), measured 14: (billed 16 − "
        "measured 14) × rate 140.00 = 2240.00 − 1960.00 = 280.00",
        explanation_detail={
            "clause": "Price book: SRV-WIN (Windows server) additional resource charge (ARC), "
            "deadband 5% (full_variance)",
            "contract_version": 1,
            "formula": "(billed 16 − measured 14) × rate 140.00 = 2240.00 − 1960.00 = 280.00",
            "inputs": {"expected": "14", "invoiced": "16", "rate": "140.00"},
            "source_ids": ["invoice:GLX-2026-03-0042#line-2", RECORDS[0]],
        },
    ),
    _discrepancy(
        "bfc0851c-8b3a-486a-bf05-13546bf6fada",
        discrepancy_class="unapplied_credit",
        amount="4414.08",
        item_code="AVAIL-CORE",
        line_number=None,
        expected="-4414.08",
        invoiced="0.00",
        explanation="the service credit for AVAIL-CORE of 4414.08 is not on the invoice: "
        "invoiced 0.00 − due -4414.08 = 4414.08",
        explanation_detail={
            "clause": CREDIT_EXPLANATION["clause"],
            "contract_version": 1,
            "formula": "invoiced 0.00 − due -4414.08 = 4414.08",
            "inputs": {"expected": "-4414.08", "invoiced": "0.00", "tolerance": "0.00"},
            "source_ids": ["invoice:GLX-2026-03-0042#total", CLOSED_EVENT],
        },
    ),
)

LEDGER_ROWS: tuple[dict[str, Any], ...] = tuple(
    {
        "contract_id": CONTRACT,
        "period_label": "2026-03",
        "discrepancy_class": d["discrepancy_class"],
        "direction": "over_billed",
        "currency": "USD",
        "amount": d["amount"],
        "count": 1,
    }
    for d in DISCREPANCIES
)
