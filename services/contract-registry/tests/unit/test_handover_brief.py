"""The handover brief of DESIGN's worked example, built from its terms."""

import copy
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

from contract_registry.handover.brief import build_brief
from contract_registry.handover.markdown import render_markdown
from contract_registry.handover.schemas import ContractFacts, HandoverBrief, VersionLine
from crm_events.schemas.contracts import ContractDocument
from crm_testing import examples

AS_OF = date(2026, 3, 16)


def _brief(changes: dict[str, Any] | None = None) -> HandoverBrief:
    raw = copy.deepcopy(examples.contract_document(reference="ACME-ITO-2026", tenant_id=None))
    raw.update(changes or {})
    doc = ContractDocument.model_validate(raw)
    facts = ContractFacts(
        id=uuid.uuid4(),
        tenant_id="acme-bank",
        reference=doc.reference,
        customer=doc.customer,
        supplier=doc.supplier,
        currency=doc.currency,
        timezone=doc.timezone,
        status="active",
        start_date=doc.start_date,
        end_date=doc.end_date,
        version=1,
        effective_from=doc.start_date,
        days_to_end=1021,
    )
    versions = [
        VersionLine(
            version=1,
            state="activated",
            effective_from=doc.start_date,
            note="",
            activated_at=datetime(2025, 12, 20, tzinfo=UTC),
        )
    ]
    return build_brief(
        facts=facts,
        doc=doc,
        versions=versions,
        health=[],
        as_of=AS_OF,
        generated_at=datetime(2026, 3, 16, 14, tzinfo=UTC),
    )


def test_credits_are_shown_as_a_share_of_monthly_charges_and_in_money_at_baseline() -> None:
    brief = _brief()
    assert brief.commercials.monthly_base_charges == D("90000.00")  # 200 × 150 + 5,000 × 12
    assert brief.commercials.at_risk_amount_at_baseline == D("10800.00")  # 12% of it
    [avail] = brief.slas
    assert avail.credit_pct_of_monthly_charges == D("4.8")  # 12% × 40%
    assert avail.credit_at_baseline == D("4320.00")
    assert avail.credit_formula == (
        "12% × 40% = 4.8% of the period's monthly charges M; at baseline M = 90000.00 USD: "
        "4320.00 USD"
    )
    assert (avail.expected_level, avail.minimum_level) == (D("99.9"), D("99.5"))
    assert avail.service_key.startswith("core-")


def test_price_bands_say_between_which_volumes_nothing_is_adjusted() -> None:
    srv, tck = _brief().price_book
    assert (srv.base_charge, srv.no_adjustment_between) == (D("30000.00"), (D(190), D(210)))
    assert (tck.base_charge, tck.no_adjustment_between) == (D("60000.00"), (D(4500), D(5500)))
    assert srv.how_adjustments_work == (
        "Above 210: ARC = (A − 200) × 140.00; below 190: RRC = (200 − A) × 120.00 "
        "(the whole variance from baseline)."
    )


def test_a_performance_category_multiplies_into_the_credit() -> None:
    # DESIGN's public-sector clause: 10% of the at-risk amount to the category, 40% of it to
    # the SLA. With at-risk 12%: 12% × 10% × 40% = 0.48% of M.
    raw = examples.contract_document(tenant_id=None)
    sla = {**raw["sla_definitions"][0], "performance_category": "Category A"}
    brief = _brief(
        {
            "sla_definitions": [sla],
            "credit_terms": {
                "at_risk_pct": "12",
                "pool_pct": "200",
                "performance_categories": [{"name": "Category A", "allocation_pct": "10"}],
            },
        }
    )
    assert brief.slas[0].credit_pct_of_monthly_charges == D("0.48")
    assert brief.slas[0].credit_at_baseline == D("432.00")


def test_obligations_and_reviews_come_with_their_next_due_dates_and_key_dates() -> None:
    brief = _brief(
        {
            "holidays": ["2026-04-03"],
            "obligation_definitions": [
                {
                    "code": "MSR",
                    "title": "Monthly service report",
                    "owner_role": "service_delivery_manager",
                    "rrule": "FREQ=MONTHLY;BYMONTHDAY=1",
                    "due_offset_business_days": 5,
                }
            ],
            "governance": {"review_rrule": "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15"},
        }
    )
    [msr] = brief.obligations
    assert [(d.occurrence, d.due_date) for d in msr.next_due] == [
        (date(2026, 4, 1), date(2026, 4, 9)),  # Good Friday is a holiday
        (date(2026, 5, 1), date(2026, 5, 8)),
        (date(2026, 6, 1), date(2026, 6, 8)),
    ]
    assert brief.governance is not None
    assert [r.due_date for r in brief.governance.next_reviews] == [
        date(2026, 4, 15),
        date(2026, 7, 15),
        date(2026, 10, 15),
        date(2027, 1, 15),
    ]
    assert [(k.date, k.what) for k in brief.key_dates] == [
        (date(2026, 1, 1), "Contract starts"),
        (date(2026, 4, 9), "Due: Monthly service report"),
        (date(2026, 4, 15), "Next governance review"),
        (date(2028, 12, 31), "Contract ends (last day)"),
    ]


def test_interpretation_notes_follow_the_sla_that_cites_the_clause() -> None:
    raw = examples.contract_document(tenant_id=None)
    sla = {**raw["sla_definitions"][0], "clause": "Schedule 2 §1.1"}
    note = {
        "note": "Maintenance counts as excluded only when announced five days ahead.",
        "agreed_by": ["J. Smith (Acme)", "A. Lee (Globex)"],
        "agreed_on": "2026-02-10",
    }
    brief = _brief(
        {
            "sla_definitions": [sla],
            "clauses": [{"ref": "Schedule 2 §1.1", "interpretation_notes": [note]}],
        }
    )
    assert [n.note for n in brief.slas[0].interpretation_notes] == [note["note"]]
    markdown = render_markdown(brief)
    assert (
        "- Agreed reading (2026-02-10, J. Smith (Acme), A. Lee (Globex)): Maintenance counts "
        "as excluded only when announced five days ahead." in markdown
    )


def test_the_markdown_brief_reads_as_a_document() -> None:
    markdown = render_markdown(_brief())
    assert markdown.startswith("# Handover brief — ACME-ITO-2026\n")
    for line in (
        "| 2028-12-31 | Contract ends (last day) |",
        "M at baseline = Σ baseline × unit price = 90000.00 USD; at-risk amount = 12% × M = "
        "10800.00 USD. Actual M each period = base + ARC − RRC.",
        "| 99.9 | 99.5 | 40% | 4.8% of M | 4320.00 USD | none |",
        "| SRV-WIN Windows server | 150.00 | 200 server | 30000.00 | 140.00 | 120.00 | "
        "5% (full_variance) | 190–210 |  |",
        "- When an SLA period closes failed or below_expected: root-cause report, due 10 "
        "business days after the close, in America/New_York.",
    ):
        assert line in markdown, line


def test_a_drafts_unreadable_rrule_gives_no_dates_rather_than_an_error() -> None:
    brief = _brief(
        {
            "obligation_definitions": [
                {"code": "MSR", "title": "Report", "owner_role": "sdm", "rrule": "MONTHLY"}
            ],
            "governance": {"review_rrule": "FREQ=FORTNIGHTLY"},
        }
    )
    assert brief.obligations[0].next_due == []
    assert brief.governance is not None and brief.governance.next_reviews == []


def test_incident_targets_say_which_time_they_count() -> None:
    base = examples.contract_document(reference="ACME-ITO-2026", tenant_id=None)
    incident = {
        "metric_kind": "incident_resolution",
        "service_key": "itsm",
        "expected_level": "95",
        "minimum_level": "90",
        "allocation_pct": "10",
        "service_hours": {"weekdays": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"},
    }
    slas = [
        *base["sla_definitions"],
        {**incident, "code": "P1", "priority": "P1", "target_minutes": 240},
        {
            **incident,
            "code": "P2",
            "priority": "P2",
            "target_minutes": 480,
            "target_clock": "business_hours",
        },
        {
            **incident,
            "code": "P3",
            "priority": "P3",
            "target_business_days": 3,
            "target_clock": "business_hours",
        },
    ]
    measured = {s.code: s.measured for s in _brief({"sla_definitions": slas}).slas}
    assert "resolved within 240 minutes ÷" in measured["P1"]
    assert "within 480 business minutes (counted in the service hours)" in measured["P2"]
    assert "within 3 business days (service days of the service hours)" in measured["P3"]
