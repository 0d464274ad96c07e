"""Credits over several periods: earn-back as a state machine, repeated defaults, the cap."""

from __future__ import annotations

from collections.abc import Callable

from billing_harness import Billing, terms_with

from crm_events.envelope import Envelope
from crm_testing import examples


def for_period(period: str) -> Callable[[Envelope], bool]:
    return lambda e: e.data["period_label"] == period


def _avail(**changes: object) -> list[dict[str, object]]:
    sla = examples.contract_document()["sla_definitions"][0]
    return [{**sla, **changes}]


async def test_credit_is_earned_back_after_three_met_periods(billing: Billing) -> None:
    await billing.activate(
        terms_with(billing.contract_id, sla_definitions=_avail(earn_back_periods=3))
    )
    await billing.consume(examples.consumption_items(billing.contract_id))
    await billing.close("2026-03", "failed")
    [credit] = await billing.wait("billing.credit_calculated")
    assert credit.data["credit_amount"] == "4414.08"
    for period in ("2026-04", "2026-05"):
        await billing.close(period, "met")
        await billing.wait("billing.charges_computed", for_period(period))
    credits = (await billing.client.get(f"/contracts/{billing.subject}/credits")).json()["items"]
    assert (credits[0]["earn_back"]["status"], credits[0]["earn_back"]["progress"]) == (
        "pending",
        2,
    )
    await billing.close("2026-06", "met")
    [earned] = await billing.wait("billing.credit_earned_back")
    assert (
        earned.data["amount"],
        earned.data["credited_period"],
        earned.data["earned_back_in_period"],
    ) == ("4414.08", "2026-03", "2026-06")
    assert "met in each of the 3 periods 2026-04..2026-06" in earned.data["explanation"]["formula"]

    # June's charges return the credit: base 90,000.00 (baseline assumed) + 4,414.08.
    june = (await billing.client.get(f"/contracts/{billing.subject}/charges/2026-06")).json()
    assert [(ln["kind"], ln["amount"]) for ln in june["lines"] if ln["kind"] == "earn_back"] == [
        ("earn_back", "4414.08")
    ]
    assert june["expected_total"] == "94414.08" and june["credits_total"] == "4414.08"
    credits = (await billing.client.get(f"/contracts/{billing.subject}/credits")).json()["items"]
    earn_back = credits[0]["earn_back"]
    assert earn_back["status"] == "earned_back"
    assert [
        (t["from_status"], t["to_status"], t["progress"]) for t in earn_back["transitions"]
    ] == [
        (None, "pending", 0),
        ("pending", "pending", 1),
        ("pending", "pending", 2),
        ("pending", "earned_back", 3),
    ]
    # A July close, or the June close again, returns nothing more.
    await billing.close("2026-06", "met")
    await billing.close("2026-07", "met")
    await billing.wait("billing.charges_computed", lambda e: e.data["period_label"] == "2026-07")
    await billing.settle()
    assert len(billing.of("billing.credit_earned_back")) == 1


async def test_a_period_below_expected_cancels_the_earn_back(billing: Billing) -> None:
    await billing.activate(
        terms_with(billing.contract_id, sla_definitions=_avail(earn_back_periods=3))
    )
    await billing.close("2026-03", "failed")
    await billing.close("2026-04", "met")
    await billing.close("2026-05", "below_expected")
    await billing.close("2026-06", "met")
    await billing.wait("billing.charges_computed", lambda e: e.data["period_label"] == "2026-06")
    [credit] = (await billing.client.get(f"/contracts/{billing.subject}/credits")).json()["items"]
    assert credit["credit_amount"] == "4320.00"  # no consumption: M = 90,000.00 at baseline
    assert (credit["earn_back"]["status"], credit["earn_back"]["earned_back_in_period"]) == (
        "cancelled",
        None,
    )
    assert "2026-05 was below_expected" in credit["earn_back"]["transitions"][-1]["explanation"]
    await billing.settle()
    assert billing.of("billing.credit_earned_back") == []


async def test_third_below_expected_in_twelve_periods_is_credited_as_a_failure(
    billing: Billing,
) -> None:
    await billing.activate(
        terms_with(billing.contract_id, sla_definitions=_avail(repeated_default_count=3))
    )
    await billing.consume(examples.consumption_items(billing.contract_id))
    for period in ("2026-01", "2026-02"):
        await billing.close(period, "below_expected")
        await billing.wait("billing.charges_computed", for_period(period))
    await billing.settle(0.5)
    assert billing.of("billing.credit_calculated") == []  # once or twice is no default
    await billing.close("2026-03", "below_expected")
    [credit] = await billing.wait("billing.credit_calculated")
    assert (credit.data["period_label"], credit.data["credit_amount"]) == ("2026-03", "4414.08")
    assert credit.data["outcome"] == "below_expected"
    assert (
        "repeated default: below_expected in 3 of the 12 periods"
        in (credit.data["explanation"]["formula"])
    )
    [stored] = (await billing.client.get(f"/contracts/{billing.subject}/credits")).json()["items"]
    assert stored["reason"] == "repeated_default"


async def test_credits_beyond_the_at_risk_amount_share_it_pro_rata_whatever_closes_first(
    billing: Billing,
) -> None:
    sla = examples.contract_document()["sla_definitions"][0]
    slas = [
        {**sla, "allocation_pct": "70"},
        {**sla, "code": "AVAIL-EDGE", "service_key": "edge", "allocation_pct": "50"},
    ]
    await billing.activate(terms_with(billing.contract_id, sla_definitions=slas))
    await billing.consume(examples.consumption_items(billing.contract_id))
    await billing.close("2026-03", "failed")
    [first] = await billing.wait("billing.credit_calculated")
    # Alone, AVAIL-CORE is owed ARA 11,035.20 × 70% = 7,724.64: within the ceiling.
    assert (first.data["credit_amount"], first.data["previous_amount"]) == ("7724.64", "0.00")
    assert first.data["delta_amount"] == "7724.64" and first.data["cap_reduction"] == "0.00"
    await billing.close("2026-03", "failed", sla_code="AVAIL-EDGE")
    events = await billing.wait("billing.credit_calculated", count=3)
    # Both: 7,724.64 + 5,517.60 = 13,242.24 > 11,035.20, shared pro rata:
    # 7,724.64 × 11,035.20 / 13,242.24 = 6,437.20 and 5,517.60 × … = 4,598.00.
    core, edge = events[1].data, events[2].data
    assert (core["sla_code"], core["credit_amount"], core["revision"]) == (
        "AVAIL-CORE",
        "6437.20",
        2,
    )
    assert (core["previous_amount"], core["delta_amount"], core["cap_reduction"]) == (
        "7724.64",
        "-1287.44",
        "1287.44",
    )
    assert (edge["sla_code"], edge["credit_amount"], edge["uncapped_amount"]) == (
        "AVAIL-EDGE",
        "4598.00",
        "5517.60",
    )
    assert (edge["previous_amount"], edge["delta_amount"], edge["cap_reduction"]) == (
        "0.00",
        "4598.00",
        "919.60",
    )
    assert (
        "shared pro rata: 5517.60 × 11035.20 / 13242.24 = 4598.00"
        in (edge["explanation"]["formula"])
    )
    march = (await billing.client.get(f"/contracts/{billing.subject}/charges/2026-03")).json()
    assert march["credits_total"] == "-11035.20"
    credits = (await billing.client.get(f"/contracts/{billing.subject}/credits")).json()["items"]
    assert {(c["sla_code"], c["credit_amount"], c["cap_reduction"]) for c in credits} == {
        ("AVAIL-CORE", "6437.20", "1287.44"),
        ("AVAIL-EDGE", "4598.00", "919.60"),
    }
