from dataclasses import replace
from datetime import date
from typing import Any

import pytest

import crm_testing.examples as examples
from crm_events.schemas.contracts import ContractTerms
from obligation_tracker.obligations.recurrence import (
    GOVERNANCE_REVIEW,
    PlannedInstance,
    RecurrenceError,
    occurrences,
    plan_instances,
    previous_occurrence,
)

MONTHLY_REPORT = {
    "code": "SVC-REPORT",
    "title": "Monthly service report",
    "clause": "Schedule 5 §3",
    "owner_role": "service_delivery_manager",
    "rrule": "FREQ=MONTHLY;BYMONTHDAY=1",
    "due_offset_business_days": 4,
    "evidence_required": True,
    "severity": "high",
}


def terms(version: int = 1, effective_from: str = "2026-01-01", **changes: Any) -> ContractTerms:
    base = examples.contract_terms(version=version).model_dump(mode="json")
    base.update(
        {
            "effective_from": effective_from,
            "holidays": ["2027-01-01"],
            "obligation_definitions": [MONTHLY_REPORT],
        }
    )
    base.update(changes)
    return ContractTerms.model_validate(base)


def test_monthly_instances_are_due_on_the_fifth_business_day_across_holidays_and_weekends() -> None:
    planned, problems = plan_instances(
        [terms()], today=date(2026, 11, 30), horizon_end=date(2027, 2, 28)
    )
    assert problems == []
    assert [(p.occurrence, p.due_date) for p in planned] == [
        (date(2026, 12, 1), date(2026, 12, 7)),  # across a weekend
        (date(2027, 1, 1), date(2027, 1, 8)),  # across New Year's Day and a weekend
        (date(2027, 2, 1), date(2027, 2, 5)),
    ]
    first = planned[0]
    assert (first.code, first.owner_role, first.severity, first.evidence_required) == (
        "SVC-REPORT",
        "service_delivery_manager",
        "high",
        True,
    )


def test_an_instance_still_due_today_is_planned_even_though_it_occurred_before() -> None:
    planned, _ = plan_instances([terms()], today=date(2026, 12, 3), horizon_end=date(2026, 12, 31))
    assert [p.due_date for p in planned] == [date(2026, 12, 7)]
    planned, _ = plan_instances([terms()], today=date(2026, 12, 8), horizon_end=date(2026, 12, 31))
    assert planned == []


def test_each_version_governs_the_occurrences_from_its_effective_date() -> None:
    v1 = terms()
    v2 = terms(
        version=2,
        effective_from="2027-01-15",
        obligation_definitions=[{**MONTHLY_REPORT, "due_offset_business_days": 9}],
    )
    planned, _ = plan_instances([v1, v2], today=date(2026, 11, 30), horizon_end=date(2027, 3, 31))
    assert [(p.occurrence, p.due_date, p.contract_version) for p in planned] == [
        (date(2026, 12, 1), date(2026, 12, 7), 1),
        (date(2027, 1, 1), date(2027, 1, 8), 1),
        (date(2027, 2, 1), date(2027, 2, 12), 2),  # the 10th business day under version 2
        (date(2027, 3, 1), date(2027, 3, 12), 2),
    ]


def test_an_amendment_plan_starts_at_its_boundary() -> None:
    planned, _ = plan_instances(
        [terms()],
        today=date(2026, 12, 3),
        horizon_end=date(2027, 2, 28),
        occurrence_from=date(2027, 1, 1),
    )
    assert [p.occurrence for p in planned] == [date(2027, 1, 1), date(2027, 2, 1)]


def test_nothing_is_planned_after_the_contract_ends() -> None:
    planned, _ = plan_instances(
        [terms(end_date="2027-01-31")], today=date(2026, 11, 30), horizon_end=date(2027, 6, 30)
    )
    assert [p.occurrence for p in planned] == [date(2026, 12, 1), date(2027, 1, 1)]


def test_the_governance_review_is_planned_on_its_quarterly_cadence() -> None:
    planned, _ = plan_instances(
        [terms(obligation_definitions=[], governance={"owner_role": "account_executive"})],
        today=date(2026, 11, 30),
        horizon_end=date(2027, 12, 31),
    )
    assert [(p.kind, p.occurrence, p.due_date) for p in planned] == [
        (GOVERNANCE_REVIEW, date(2027, 1, 1), date(2027, 1, 4)),  # holiday → next business day
        (GOVERNANCE_REVIEW, date(2027, 4, 1), date(2027, 4, 1)),
        (GOVERNANCE_REVIEW, date(2027, 7, 1), date(2027, 7, 1)),
        (GOVERNANCE_REVIEW, date(2027, 10, 1), date(2027, 10, 1)),
    ]
    assert {p.owner_role for p in planned} == {"account_executive"}


def test_a_definition_without_rrule_is_one_obligation_from_the_start() -> None:
    once = {
        **MONTHLY_REPORT,
        "code": "TRANSITION-PLAN",
        "rrule": None,
        "due_offset_business_days": 20,
    }
    planned, _ = plan_instances(
        [terms(start_date="2026-12-01", obligation_definitions=[once])],
        today=date(2026, 11, 30),
        horizon_end=date(2027, 12, 31),
    )
    assert [(p.code, p.occurrence, p.due_date) for p in planned] == [
        ("TRANSITION-PLAN", date(2026, 12, 1), date(2026, 12, 29))
    ]


def test_a_broken_rrule_is_reported_and_the_other_definitions_still_planned() -> None:
    broken = {**MONTHLY_REPORT, "code": "BROKEN", "rrule": "FREQ=MONTHLY;BYMONTHDAY=banana"}
    hourly = {**MONTHLY_REPORT, "code": "HOURLY", "rrule": "FREQ=HOURLY"}
    planned, problems = plan_instances(
        [terms(obligation_definitions=[broken, hourly, MONTHLY_REPORT])],
        today=date(2026, 11, 30),
        horizon_end=date(2026, 12, 31),
    )
    assert [p.code for p in planned] == ["SVC-REPORT"]
    assert [p.code for p in problems] == ["BROKEN", "HOURLY"]
    assert "finer than daily" in problems[1].message


def test_occurrences_accept_an_rrule_prefix_and_refuse_no_freq() -> None:
    assert occurrences(
        "RRULE:FREQ=WEEKLY;BYDAY=MO",
        dtstart=date(2026, 1, 1),
        first=date(2026, 12, 1),
        last=date(2026, 12, 14),
    ) == [date(2026, 12, 7), date(2026, 12, 14)]
    with pytest.raises(RecurrenceError):
        occurrences(
            "BYMONTHDAY=1", dtstart=date(2026, 1, 1), first=date(2026, 1, 1), last=date(2027, 1, 1)
        )


def test_the_previous_review_is_the_occurrence_before() -> None:
    rule = "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1"
    assert previous_occurrence(rule, dtstart=date(2026, 1, 1), before=date(2027, 1, 1)) == date(
        2026, 10, 1
    )
    assert previous_occurrence(rule, dtstart=date(2026, 1, 1), before=date(2026, 1, 1)) is None


def test_dedup_keys_name_the_contract_the_definition_and_the_occurrence() -> None:
    t = terms()
    planned, _ = plan_instances([t], today=date(2026, 11, 30), horizon_end=date(2026, 12, 31))
    assert (
        planned[0].dedup_key(t.contract_id) == f"contractual:{t.contract_id}:SVC-REPORT:2026-12-01"
    )


def test_a_plan_is_pinned_whole_for_recurring_one_off_and_review_instances() -> None:
    once = {
        "code": "EXIT-PLAN",
        "title": "Exit plan",
        "owner_role": "account_executive",
        "due_offset_business_days": -3,  # read as 0: due on the day it occurs
    }
    planned, problems = plan_instances(
        [
            terms(
                start_date="2026-12-01",
                obligation_definitions=[MONTHLY_REPORT, once],
                governance={
                    "review_rrule": "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1",
                    "owner_role": "account_executive",
                    "due_offset_business_days": 2,
                },
            )
        ],
        today=date(2026, 11, 30),
        horizon_end=date(2027, 1, 31),
    )
    assert problems == []
    report = PlannedInstance(
        kind="contractual",
        code="SVC-REPORT",
        title="Monthly service report",
        clause="Schedule 5 §3",
        owner_role="service_delivery_manager",
        severity="high",
        evidence_required=True,
        occurrence=date(2026, 12, 1),
        due_date=date(2026, 12, 7),
        contract_version=1,
        rule="FREQ=MONTHLY;BYMONTHDAY=1",
        offset_business_days=4,
    )
    review = PlannedInstance(
        kind=GOVERNANCE_REVIEW,
        code="GOVERNANCE-REVIEW",
        title="Governance review with the customer",
        clause="Governance",
        owner_role="account_executive",
        severity="medium",
        evidence_required=False,
        occurrence=date(2026, 12, 1),
        due_date=date(2026, 12, 3),
        contract_version=1,
        rule="FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1",
        offset_business_days=2,
    )
    assert planned == [
        PlannedInstance(
            kind="contractual",
            code="EXIT-PLAN",
            title="Exit plan",
            clause="",
            owner_role="account_executive",
            severity="medium",
            evidence_required=False,
            occurrence=date(2026, 12, 1),
            due_date=date(2026, 12, 1),
            contract_version=1,
            rule="once, on the contract's start date",
            offset_business_days=0,
        ),
        review,
        report,
        replace(report, occurrence=date(2027, 1, 1), due_date=date(2027, 1, 8)),
    ]
