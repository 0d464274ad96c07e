"""Every activation rule, one case each: the broken contract and the path it names."""

import copy
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from contract_registry.contracts.validation import validate_amendment, validate_for_activation
from crm_events.schemas.contracts import ContractDocument
from crm_testing import examples

Doc = dict[str, Any]


def full_contract() -> Doc:
    """DESIGN's worked example with every optional part filled in, and sound."""
    doc = copy.deepcopy(examples.contract_document(reference="ACME-ITO-2026", tenant_id=None))
    doc["holidays"] = ["2026-05-25", "2026-07-03", "2026-12-25"]
    doc["price_book"][0]["volume_band"] = {"floor_pct": "80", "ceiling_pct": "120"}
    doc["price_book"][0]["band_rates"] = [
        {"from_pct": "80", "to_pct": "100", "rrc_rate": "120.00"},
        {"from_pct": "100", "to_pct": "120", "arc_rate": "140.00"},
    ]
    doc["sla_definitions"][0]["clause"] = "Schedule 2 §1.1"
    doc["sla_definitions"].append(
        {
            "code": "P1-RES",
            "name": "P1 incident resolution",
            "metric_kind": "incident_resolution",
            "service_key": "core-banking-itsm",
            "expected_level": "95",
            "minimum_level": "90",
            "priority": "P1",
            "target_minutes": 240,
            "allocation_pct": "30",
            "small_sample": {"minimum_sample": 20, "allowed_misses": 1},
            "service_hours": {"weekdays": [0, 1, 2, 3, 4], "start": "07:00", "end": "19:00"},
        }
    )
    doc["sla_definitions"].append(
        {
            "code": "LAT-API",
            "metric_kind": "measurement",
            "service_key": "api-gateway",
            "direction": "lower_is_better",
            "expected_level": "300",
            "minimum_level": "500",
            "statistic": "percentile",
            "percentile": "95",
            "unit": "ms",
            "allocation_pct": "10",
        }
    )
    doc["sla_definitions"].append(
        {
            "code": "P3-RES",
            "name": "P3 incident resolution in 3 business days",
            "metric_kind": "incident_resolution",
            "service_key": "core-banking-itsm",
            "expected_level": "90",
            "minimum_level": "85",
            "priority": "P3",
            "target_clock": "business_hours",
            "target_business_days": 3,
            "allocation_pct": "0",
            "service_hours": {
                "weekdays": [0, 1, 2, 3, 4],
                "start": "08:00",
                "end": "18:00",
            },
        }
    )
    doc["obligation_definitions"] = [
        {
            "code": "MSR",
            "title": "Monthly service report",
            "clause": "Schedule 5 §3",
            "owner_role": "service_delivery_manager",
            "rrule": "FREQ=MONTHLY;BYMONTHDAY=1",
            "due_offset_business_days": 5,
            "evidence_required": True,
            "severity": "medium",
        }
    ]
    doc["governance"] = {"review_rrule": "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15"}
    doc["clauses"] = [
        {
            "ref": "Schedule 2 §1.1",
            "title": "Availability",
            "interpretation_notes": [
                {
                    "note": "Agreed maintenance is excluded only when announced 5 days ahead.",
                    "agreed_by": ["J. Smith (Acme)", "A. Lee (Globex)"],
                    "agreed_on": "2026-02-10",
                }
            ],
        },
        {"ref": "Schedule 5 §3", "title": "Reporting"},
    ]
    doc["rebate_tiers"] = [
        {"from_amount": "0", "to_amount": "1000000", "rebate_pct": "0"},
        {"from_amount": "1000000", "rebate_pct": "2"},
    ]
    return doc


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        target: Any = doc
        parts = path.replace("[", ".").replace("]", "").split(".")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        last = parts[-1]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return change


def _append(path: str, value: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        target: Any = doc
        for part in path.replace("[", ".").replace("]", "").split("."):
            target = target[int(part)] if part.isdigit() else target[part]
        target.append(value)

    return change


def _no_holidays_but_excluded(doc: Doc) -> None:
    doc["holidays"] = []
    doc["sla_definitions"][1]["service_hours"]["exclude_holidays"] = True


SLA0, SLA1, SLA2 = "sla_definitions[0]", "sla_definitions[1]", "sla_definitions[2]"
SLA3 = "sla_definitions[3]"


def _priorities(doc: Doc, priorities: list[int | None]) -> None:
    doc["credit_terms"]["cap_split"] = "priority"
    for sla, priority in zip(doc["sla_definitions"], priorities, strict=True):
        sla["cap_priority"] = priority


OB0 = "obligation_definitions[0]"

# (what the rule says, how to break it, the path the problem names)
CASES: list[tuple[str, Callable[[Doc], None], str]] = [
    ("unknown currency", _set("currency", "ZZZ"), "currency"),
    ("unknown time zone", _set("timezone", "Mars/Olympus"), "timezone"),
    (
        "end not after start",
        lambda d: d.update(end_date="2026-01-01", governance=None),
        "end_date",
    ),
    ("holiday listed twice", _append("holidays", "2026-12-25"), "holidays[3]"),
    ("holiday outside the term", _set("holidays[0]", "2062-05-25"), "holidays[0]"),
    (
        "contract year outside the term",
        _set("contract_year_start", "2030-01-01"),
        "contract_year_start",
    ),
    ("negative tolerance", _set("reconciliation_tolerance", "-1"), "reconciliation_tolerance"),
    ("negative unit price", _set("price_book[1].unit_price", "-12"), "price_book[1].unit_price"),
    (
        "negative baseline",
        _set("price_book[1].baseline_volume", "-1"),
        "price_book[1].baseline_volume",
    ),
    ("negative ARC rate", _set("price_book[1].arc_rate", "-1"), "price_book[1].arc_rate"),
    ("negative RRC rate", _set("price_book[1].rrc_rate", "-1"), "price_book[1].rrc_rate"),
    ("deadband of 100%", _set("price_book[0].deadband_pct", "100"), "price_book[0].deadband_pct"),
    (
        "volume band floor above ceiling",
        _set("price_book[0].volume_band", {"floor_pct": "120", "ceiling_pct": "80"}),
        "price_book[0].volume_band",
    ),
    (
        "band running backwards",
        _set("price_book[0].band_rates[1].to_pct", "90"),
        "price_book[0].band_rates[1]",
    ),
    (
        "overlapping bands",
        _set("price_book[0].band_rates[1].from_pct", "95"),
        "price_book[0].band_rates[1]",
    ),
    (
        "negative band rate",
        _set("price_book[0].band_rates[0].rrc_rate", "-5"),
        "price_book[0].band_rates[0].rrc_rate",
    ),
    ("duplicate resource unit", _set("price_book[1].code", "SRV-WIN"), "price_book[1].code"),
    ("SLA without a service key", _set(f"{SLA0}.service_key", "  "), f"{SLA0}.service_key"),
    (
        "minimum better than expected (higher is better)",
        _set(f"{SLA0}.minimum_level", "99.95"),
        f"{SLA0}.minimum_level",
    ),
    (
        "minimum better than expected (lower is better)",
        _set(f"{SLA2}.minimum_level", "250"),
        f"{SLA2}.minimum_level",
    ),
    ("availability above 100%", _set(f"{SLA0}.expected_level", "100.5"), f"{SLA0}.expected_level"),
    ("incident SLA without priority", _set(f"{SLA1}.priority", None), f"{SLA1}.priority"),
    ("incident SLA without target", _set(f"{SLA1}.target_minutes", 0), f"{SLA1}.target_minutes"),
    (
        "incident SLA without any target",
        _set(f"{SLA3}.target_business_days", None),
        f"{SLA3}.target_minutes",
    ),
    (
        "target in minutes and in business days",
        _set(f"{SLA3}.target_minutes", 240),
        f"{SLA3}.target_business_days",
    ),
    (
        "business days on the wall clock",
        _set(f"{SLA3}.target_clock", "wall_clock"),
        f"{SLA3}.target_clock",
    ),
    (
        "business-hours target without service hours",
        _set(f"{SLA3}.service_hours", None),
        f"{SLA3}.service_hours",
    ),
    (
        "business-hours target on an availability SLA",
        _set(f"{SLA0}.target_clock", "business_hours"),
        f"{SLA0}.target_clock",
    ),
    (
        "business days on a measurement SLA",
        _set(f"{SLA2}.target_business_days", 2),
        f"{SLA2}.target_business_days",
    ),
    ("negative allocation", _set(f"{SLA2}.allocation_pct", "-10"), f"{SLA2}.allocation_pct"),
    (
        "undefined performance category",
        _set(f"{SLA0}.performance_category", "Category A"),
        f"{SLA0}.performance_category",
    ),
    (
        "maintenance window ending before it starts",
        _set(
            f"{SLA0}.maintenance_windows.fixed[0].end",
            "2026-03-14T05:00:00Z",
        ),
        f"{SLA0}.maintenance_windows.fixed[0]",
    ),
    (
        "service hours ending before they start",
        _set(f"{SLA1}.service_hours.end", "06:00"),
        f"{SLA1}.service_hours.end",
    ),
    (
        "service hours without weekdays",
        _set(f"{SLA1}.service_hours.weekdays", []),
        f"{SLA1}.service_hours.weekdays",
    ),
    (
        "service hours with a weekday twice",
        _set(f"{SLA1}.service_hours.weekdays", [0, 0, 1]),
        f"{SLA1}.service_hours.weekdays",
    ),
    (
        "holidays excluded without a holiday calendar",
        _no_holidays_but_excluded,
        f"{SLA1}.service_hours.exclude_holidays",
    ),
    (
        "small-sample rule on an availability SLA",
        _set(f"{SLA0}.small_sample", {"minimum_sample": 10}),
        f"{SLA0}.small_sample",
    ),
    (
        "small sample allowing every incident to miss",
        _set(f"{SLA1}.small_sample.allowed_misses", 20),
        f"{SLA1}.small_sample.allowed_misses",
    ),
    (
        "percentile statistic without a percentile",
        _set(f"{SLA2}.percentile", None),
        f"{SLA2}.percentile",
    ),
    ("percentile of 100", _set(f"{SLA2}.percentile", "100"), f"{SLA2}.percentile"),
    (
        "percentile given with the mean",
        _set(f"{SLA2}.statistic", "mean"),
        f"{SLA2}.percentile",
    ),
    (
        "percentile statistic on an availability SLA",
        lambda d: d["sla_definitions"][0].update(statistic="percentile", percentile="95"),
        f"{SLA0}.statistic",
    ),
    ("SLA citing an unknown clause", _set(f"{SLA0}.clause", "Schedule 9"), f"{SLA0}.clause"),
    ("duplicate SLA code", _set(f"{SLA2}.code", "AVAIL-CORE"), f"{SLA2}.code"),
    ("allocations beyond the pool", _set(f"{SLA0}.allocation_pct", "170"), "sla_definitions"),
    ("at-risk above 100%", _set("credit_terms.at_risk_pct", "120"), "credit_terms.at_risk_pct"),
    ("empty pool", _set("credit_terms.pool_pct", "0"), "credit_terms.pool_pct"),
    (
        "category allocation above 100%",
        _set("credit_terms.performance_categories", [{"name": "A", "allocation_pct": "110"}]),
        "credit_terms.performance_categories[0].allocation_pct",
    ),
    (
        "duplicate category",
        _set(
            "credit_terms.performance_categories",
            [{"name": "A", "allocation_pct": "10"}, {"name": "A", "allocation_pct": "20"}],
        ),
        "credit_terms.performance_categories[1].name",
    ),
    (
        "amount cap without an amount",
        _set("credit_terms.period_cap", {"basis": "amount"}),
        "credit_terms.period_cap.amount",
    ),
    (
        "percentage cap given an amount as well",
        _set("credit_terms.period_cap", {"basis": "pct_of_charges", "pct": "10", "amount": "5"}),
        "credit_terms.period_cap.amount",
    ),
    (
        "cap percentage above 100",
        _set("credit_terms.period_cap", {"basis": "pct_of_charges", "pct": "150"}),
        "credit_terms.period_cap.pct",
    ),
    (
        "negative cap amount",
        _set("credit_terms.contract_year_cap", {"basis": "amount", "amount": "-1"}),
        "credit_terms.contract_year_cap.amount",
    ),
    (
        "contract-year cap at the at-risk amount",
        _set("credit_terms.contract_year_cap", {"basis": "at_risk_amount"}),
        "credit_terms.contract_year_cap.basis",
    ),
    (
        "priority split without an SLA's priority",
        lambda d: _priorities(d, [None, 1, 2, 3]),
        f"{SLA0}.cap_priority",
    ),
    (
        "two SLAs with one cap priority",
        lambda d: _priorities(d, [1, 2, 1, 3]),
        f"{SLA2}.cap_priority",
    ),
    ("cap priority with a pro-rata split", _set(f"{SLA0}.cap_priority", 1), f"{SLA0}.cap_priority"),
    ("obligation RRULE without FREQ", _set(f"{OB0}.rrule", "BYMONTHDAY=1"), f"{OB0}.rrule"),
    (
        "obligation RRULE that does not parse",
        _set(f"{OB0}.rrule", "FREQ=FORTNIGHTLY"),
        f"{OB0}.rrule",
    ),
    (
        "obligation RRULE ending before the contract",
        _set(f"{OB0}.rrule", "FREQ=MONTHLY;UNTIL=20251201"),
        f"{OB0}.rrule",
    ),
    (
        "negative due offset",
        _set(f"{OB0}.due_offset_business_days", -2),
        f"{OB0}.due_offset_business_days",
    ),
    ("unknown severity", _set(f"{OB0}.severity", "urgent"), f"{OB0}.severity"),
    ("obligation without an owner", _set(f"{OB0}.owner_role", " "), f"{OB0}.owner_role"),
    ("obligation without a title", _set(f"{OB0}.title", ""), f"{OB0}.title"),
    ("obligation citing an unknown clause", _set(f"{OB0}.clause", "Schedule 7"), f"{OB0}.clause"),
    (
        "duplicate obligation code",
        lambda d: d["obligation_definitions"].append(dict(d["obligation_definitions"][0])),
        "obligation_definitions[1].code",
    ),
    (
        "governance RRULE that does not parse",
        _set("governance.review_rrule", "FREQ=QUARTERLY"),
        "governance.review_rrule",
    ),
    ("governance without an owner", _set("governance.owner_role", ""), "governance.owner_role"),
    ("escalation to nobody", _set("escalation", {"levels": []}), "escalation.levels"),
    ("duplicate clause", _append("clauses", {"ref": "Schedule 5 §3"}), "clauses[2].ref"),
    (
        "empty interpretation note",
        _set("clauses[0].interpretation_notes[0].note", " "),
        "clauses[0].interpretation_notes[0].note",
    ),
    (
        "rebate tier ending before it starts",
        _set("rebate_tiers[0].to_amount", "0"),
        "rebate_tiers[0].to_amount",
    ),
    (
        "overlapping rebate tiers",
        _set("rebate_tiers[1].from_amount", "900000"),
        "rebate_tiers[1].from_amount",
    ),
    (
        "tier after an open-ended tier",
        _append("rebate_tiers", {"from_amount": "5000000", "rebate_pct": "3"}),
        "rebate_tiers[2].from_amount",
    ),
    ("rebate above 100%", _set("rebate_tiers[1].rebate_pct", "101"), "rebate_tiers[1].rebate_pct"),
]


def test_the_full_contract_has_no_problems() -> None:
    assert validate_for_activation(ContractDocument.model_validate(full_contract())) == []


@pytest.mark.parametrize(("rule", "change", "loc"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_names_the_field(rule: str, change: Callable[[Doc], None], loc: str) -> None:
    doc = full_contract()
    change(doc)
    problems = validate_for_activation(ContractDocument.model_validate(doc))
    assert [p.loc for p in problems] == [loc], (rule, problems)
    assert problems[0].message


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    doc = full_contract()
    for _, change, _ in CASES[:6]:
        change(doc)
    problems = validate_for_activation(ContractDocument.model_validate(doc))
    assert {p.loc for p in problems} == {loc for _, _, loc in CASES[:6]}


def test_the_pool_message_says_the_total_and_the_pool() -> None:
    doc = full_contract()
    doc["sla_definitions"][0]["allocation_pct"] = "170"
    [problem] = validate_for_activation(ContractDocument.model_validate(doc))
    assert problem.message == "allocations total 210%, beyond the pool of 200%"


def _amend(**changes: Any) -> list[str]:
    before = ContractDocument.model_validate(full_contract())
    after = ContractDocument.model_validate({**full_contract(), **changes.pop("doc", {})})
    problems = validate_amendment(
        previous=before,
        previous_effective_from=changes.pop("previous_effective_from", date(2026, 1, 1)),
        doc=after,
        effective_from=changes.pop("effective_from", date(2026, 7, 1)),
    )
    return [p.loc for p in problems]


def test_an_amendment_may_change_terms_but_not_identity() -> None:
    assert _amend(doc={"end_date": "2029-12-31", "customer": "Acme Bank plc"}) == []
    assert _amend(
        doc={
            "reference": "OTHER",
            "currency": "EUR",
            "timezone": "Europe/Paris",
            "start_date": "2026-02-01",
        },
        effective_from=date(2026, 7, 1),
    ) == ["reference", "currency", "timezone", "start_date"]


def test_an_amendment_takes_effect_within_the_term_and_after_the_version_it_amends() -> None:
    assert _amend(effective_from=date(2025, 12, 1)) == ["effective_from"]
    assert _amend(previous_effective_from=date(2026, 9, 1), effective_from=date(2026, 8, 1)) == [
        "effective_from"
    ]
    assert _amend(effective_from=date(2029, 1, 1)) == ["effective_from"]
    # The same day as the version it amends is allowed: it supersedes it from that day.
    assert _amend(previous_effective_from=date(2026, 7, 1), effective_from=date(2026, 7, 1)) == []
