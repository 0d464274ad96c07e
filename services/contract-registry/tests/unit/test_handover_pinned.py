"""The whole handover brief and its Markdown, pinned on a contract that uses every section.

A characterisation test: the brief of a terminated contract in its second version, with
service hours, maintenance windows, a performance category, volume bands and band rates,
recurring and one-off obligations, a governance cadence, rebate tiers, clauses with agreed
readings, holidays and health. The expected output is in `pinned/`; a change to it is a
change of the brief that people read and that the API returns.
"""

import copy
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from contract_registry.handover.brief import build_brief
from contract_registry.handover.markdown import render_markdown
from contract_registry.handover.schemas import (
    ContractFacts,
    HandoverBrief,
    HealthLine,
    VersionLine,
)
from crm_events.schemas.contracts import ContractDocument
from crm_testing import examples

PINNED = Path(__file__).parent / "pinned"
AS_OF = date(2026, 3, 16)
AGREED = {
    "note": "Maintenance counts as excluded only when announced five days ahead.",
    "agreed_by": ["J. Smith (Acme)", "A. Lee (Globex)"],
    "agreed_on": "2026-02-10",
}


def _document() -> ContractDocument:
    raw: dict[str, Any] = copy.deepcopy(
        examples.contract_document(
            reference="ACME-ITO-2026", service_key="core-banking", tenant_id=None
        )
    )
    srv, tck = raw["price_book"]
    srv["volume_band"] = {"floor_pct": "80", "ceiling_pct": "120"}
    tck["deadband_mode"] = "excess_only"
    tck["band_rates"] = [
        {"from_pct": "0", "to_pct": "100", "rrc_rate": "8.50"},
        {"from_pct": "100", "to_pct": "150", "arc_rate": "10.50"},
    ]
    [avail] = raw["sla_definitions"]
    avail.update(
        clause="Schedule 2 §1.1",
        earn_back_periods=3,
        repeated_default_count=3,
        service_hours={
            "weekdays": [0, 1, 2, 3, 4],
            "start": "07:00",
            "end": "19:00",
            "exclude_holidays": True,
        },
    )
    avail["maintenance_windows"]["weekly"] = [
        {"weekday": 6, "start": "02:00", "duration_minutes": 120}
    ]
    raw["sla_definitions"] += [
        {
            "code": "INC-P1",
            "name": "P1 incident resolution",
            "metric_kind": "incident_resolution",
            "service_key": "core-banking",
            "priority": "P1",
            "target_minutes": 240,
            "expected_level": "95",
            "minimum_level": "90",
            "allocation_pct": "50",
            "performance_category": "Category A",
            "small_sample": {"minimum_sample": 20, "allowed_misses": 1},
            "clause": "Schedule 2 §2.3",
        },
        {
            "code": "LAT-API",
            "name": "",
            "metric_kind": "measurement",
            "service_key": "payments-api",
            "direction": "lower_is_better",
            "expected_level": "250",
            "minimum_level": "400",
            "statistic": "percentile",
            "percentile": "95",
            "unit": "ms",
            "measurement_period": "quarter",
            "allocation_pct": "10",
        },
    ]
    raw["credit_terms"]["performance_categories"] = [{"name": "Category A", "allocation_pct": "80"}]
    raw.update(
        holidays=["2026-04-03", "2026-12-25"],
        contract_year_start="2026-01-01",
        obligation_definitions=[
            {
                "code": "MSR",
                "title": "Monthly service report",
                "clause": "Schedule 5 §1",
                "owner_role": "service_delivery_manager",
                "rrule": "FREQ=MONTHLY;BYMONTHDAY=1",
                "due_offset_business_days": 5,
                "evidence_required": True,
            },
            {
                "code": "EXIT",
                "title": "Exit plan | first issue",
                "owner_role": "account_executive",
                "due_offset_business_days": 20,
                "severity": "high",
            },
        ],
        governance={
            "review_rrule": "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15",
            "owner_role": "account_executive",
            "due_offset_business_days": 2,
        },
        escalation={"delay_business_days": 2, "levels": ["service_delivery_manager", "cio"]},
        rebate_tiers=[
            {"from_amount": "0", "to_amount": "1000000", "rebate_pct": "0"},
            {"from_amount": "1000000", "rebate_pct": "2.5", "retroactive": True},
        ],
        clauses=[
            {
                "ref": "Schedule 2 §1.1",
                "title": "Availability",
                "text": (
                    "Core banking shall be available 99.9% of service hours.\nMeasured monthly."
                ),
                "interpretation_notes": [AGREED],
            },
            {"ref": "Schedule 2 §2.3", "title": ""},
        ],
    )
    return ContractDocument.model_validate(raw)


def _brief() -> HandoverBrief:
    doc = _document()
    facts = ContractFacts(
        **doc.model_dump(
            include={"reference", "customer", "supplier", "currency", "timezone"}
            | {"start_date", "end_date"}
        ),
        id=uuid.UUID("6f1c2a9e-3b57-4d0e-9a43-2a7c5e1b8d10"),
        tenant_id="acme-bank",
        status="terminated",
        version=2,
        effective_from=date(2026, 3, 1),
        terminates_on=date(2027, 7, 1),
        termination_reason="for convenience, with 15 months' notice",
        days_to_end=471,
    )
    versions = [
        VersionLine(version=v, state=state, effective_from=start, note=note, activated_at=at)
        for v, state, start, note, at in [
            (1, "activated", doc.start_date, "", datetime(2025, 12, 20, tzinfo=UTC)),
            (
                2,
                "activated",
                date(2026, 3, 1),
                "P1 resolution and API latency added",
                datetime(2026, 2, 25, 9, 30, tzinfo=UTC),
            ),
            (3, "draft", date(2026, 7, 1), "ticket baseline | raised", None),
        ]
    ]
    health = [
        HealthLine(
            period_label="2026-01",
            score=None,
            slas_failed=0,
            slas_below_expected=0,
            credits_total=D("0.00"),
            leakage_total=D("0.00"),
        ),
        HealthLine(
            period_label="2026-02",
            score=D("72.5"),
            slas_failed=1,
            slas_below_expected=1,
            credits_total=D("4320.00"),
            leakage_total=D("118.40"),
        ),
    ]
    return build_brief(
        facts=facts,
        doc=doc,
        versions=versions,
        health=health,
        as_of=AS_OF,
        generated_at=datetime(2026, 3, 16, 14, tzinfo=UTC),
    )


def test_the_brief_of_a_contract_using_every_section_is_as_pinned() -> None:
    pinned = json.loads((PINNED / "handover_brief.json").read_text())
    assert _brief().model_dump(mode="json") == pinned


def test_its_markdown_is_as_pinned_to_the_character() -> None:
    assert render_markdown(_brief()) == (PINNED / "handover_brief.md").read_text()
