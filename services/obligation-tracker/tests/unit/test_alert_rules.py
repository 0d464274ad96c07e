import uuid
from datetime import UTC, datetime
from decimal import Decimal

from tracker_events import Rule

import crm_testing.examples as examples
from crm_events.schemas.sla import Period, SlaBreached
from obligation_tracker.alerts.rules import candidate, choose_rule, decide, merge_details

CONTRACT = uuid.uuid4()


def breached() -> SlaBreached:
    return SlaBreached(
        contract_id=CONTRACT,
        contract_version=1,
        sla_code="AVAIL-CORE",
        period=Period(
            label="2026-03",
            start=datetime(2026, 3, 1, 5, tzinfo=UTC),
            end=datetime(2026, 4, 1, 4, tzinfo=UTC),
        ),
        best_possible_attainment=Decimal("99.4609"),
        minimum_level=Decimal("99.5"),
        explanation="240 minutes down",
        detected_at=datetime(2026, 3, 14, 8, 1, tzinfo=UTC),
    )


def test_every_event_about_one_failed_period_has_the_same_key() -> None:
    keys = {
        candidate("sla.breached", breached()).dedup_key,  # type: ignore[union-attr]
        candidate("sla.period_closed", examples.period_closed(CONTRACT)).dedup_key,  # type: ignore[union-attr]
        candidate("billing.credit_calculated", examples.credit_calculated(CONTRACT)).dedup_key,  # type: ignore[union-attr]
    }
    assert keys == {f"sla_failure:{CONTRACT}:AVAIL-CORE:2026-03"}


def test_a_met_period_raises_nothing_and_below_expected_is_a_separate_medium_alert() -> None:
    assert candidate("sla.period_closed", examples.period_closed(CONTRACT, outcome="met")) is None
    below = candidate(
        "sla.period_closed", examples.period_closed(CONTRACT, outcome="below_expected")
    )
    assert below is not None
    assert below.severity == "medium" and below.dedup_key.startswith("sla_below_expected:")


def test_the_credit_alert_carries_the_amount() -> None:
    found = candidate("billing.credit_calculated", examples.credit_calculated(CONTRACT))
    assert found is not None
    assert found.amount == Decimal("4414.08")
    assert found.details["credit_amount"] == "4414.08"


def test_the_most_specific_rule_decides() -> None:
    other = uuid.uuid4()
    rules = [
        Rule("sla.breached"),
        Rule("sla.breached", tenant_id="acme-bank", alert_severity="critical"),
        Rule("sla.breached", tenant_id="acme-bank", contract_id=CONTRACT, enabled=False),
        Rule("sla.at_risk"),
    ]
    mine = choose_rule(
        rules, event_type="sla.breached", tenant_id="acme-bank", contract_id=CONTRACT
    )
    assert mine is rules[2]
    theirs = choose_rule(rules, event_type="sla.breached", tenant_id="acme-bank", contract_id=other)
    assert theirs is rules[1]
    elsewhere = choose_rule(rules, event_type="sla.breached", tenant_id="globex", contract_id=other)
    assert elsewhere is rules[0]
    assert (
        choose_rule(rules, event_type="sla.period_closed", tenant_id="x", contract_id=other) is None
    )


def test_a_rule_filters_by_severity_and_amount_and_may_set_the_severity() -> None:
    found = candidate("billing.credit_calculated", examples.credit_calculated(CONTRACT))
    assert found is not None
    assert decide(Rule("billing.credit_calculated"), found) == "high"
    assert decide(Rule("billing.credit_calculated", alert_severity="critical"), found) == "critical"
    assert decide(Rule("billing.credit_calculated", min_severity="critical"), found) is None
    assert decide(Rule("billing.credit_calculated", min_amount=Decimal("5000")), found) is None
    assert decide(Rule("billing.credit_calculated", min_amount=Decimal("4414.08")), found) == "high"
    assert decide(Rule("billing.credit_calculated", enabled=False), found) is None
    assert decide(None, found) is None


def test_later_facts_join_the_alert_without_erasing_earlier_ones() -> None:
    merged = merge_details(
        {"best_possible_attainment": "99.4609", "discrepancies": ["a"], "credit_amount": None},
        {"credit_amount": "4414.08", "best_possible_attainment": None, "discrepancies": ["a", "b"]},
    )
    assert merged == {
        "best_possible_attainment": "99.4609",
        "discrepancies": ["a", "b"],
        "credit_amount": "4414.08",
    }
