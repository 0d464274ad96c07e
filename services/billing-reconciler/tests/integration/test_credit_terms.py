"""Credit terms on real PostgreSQL and Kafka: the contract-year cap, a fixed period cap with
a priority split, a quarterly SLA credited in the month after its quarter, and an earn-back
a restatement undoes. No consumption is posted, so each month's charges are the baseline:
M = 90,000.00, ARA (12%) = 10,800.00, AVAIL-CORE (40%) = 4,320.00."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from billing_harness import Billing, sla_restated, terms_with

from crm_events.envelope import Envelope
from crm_testing import examples

SLA = examples.contract_document()["sla_definitions"][0]


def _credit_of(
    sla_code: str, period: str, revision: int | None = None
) -> Callable[[Envelope], bool]:
    def match(e: Envelope) -> bool:
        return (
            e.data["sla_code"] == sla_code
            and e.data["period_label"] == period
            and (revision is None or e.data["revision"] == revision)
        )

    return match


async def test_the_contract_year_cap_goes_to_the_earlier_month_whatever_closes_first(
    billing: Billing,
) -> None:
    await billing.activate(
        terms_with(
            billing.contract_id,
            credit_terms={
                "at_risk_pct": "12",
                "pool_pct": "200",
                "contract_year_cap": {"basis": "amount", "amount": "6000"},
            },
        )
    )
    await billing.close("2026-03", "failed")
    [march] = await billing.wait("billing.credit_calculated", _credit_of("AVAIL-CORE", "2026-03"))
    assert (march.data["credit_amount"], march.data["delta_amount"]) == ("4320.00", "4320.00")
    # January closes late: it takes 4,320.00 of the year's 6,000.00 first; March is revised
    # to the 1,680.00 left, by a delta.
    await billing.close("2026-01", "failed")
    [january] = await billing.wait("billing.credit_calculated", _credit_of("AVAIL-CORE", "2026-01"))
    assert january.data["credit_amount"] == "4320.00"
    [revised] = await billing.wait(
        "billing.credit_calculated", _credit_of("AVAIL-CORE", "2026-03", revision=2)
    )
    assert (
        revised.data["credit_amount"],
        revised.data["previous_amount"],
        revised.data["delta_amount"],
        revised.data["cap_reduction"],
    ) == ("1680.00", "4320.00", "-2640.00", "2640.00")
    formula = revised.data["explanation"]["formula"]
    assert "the contract-year cap 6000.00 less 4320.00 credited in the year's earlier" in formula
    assert revised.data["explanation"]["inputs"]["contract_year_room"] == "1680.00"
    march_charges = (
        await billing.client.get(f"/contracts/{billing.subject}/charges/2026-03")
    ).json()
    assert march_charges["credits_total"] == "-1680.00"


async def test_a_fixed_period_cap_is_paid_in_the_order_of_cap_priority(billing: Billing) -> None:
    slas = [
        {**SLA, "cap_priority": 2},
        {
            **SLA,
            "code": "AVAIL-EDGE",
            "service_key": "edge",
            "allocation_pct": "50",
            "cap_priority": 1,
        },
    ]
    await billing.activate(
        terms_with(
            billing.contract_id,
            sla_definitions=slas,
            credit_terms={
                "at_risk_pct": "12",
                "pool_pct": "200",
                "period_cap": {"basis": "amount", "amount": "5000"},
                "cap_split": "priority",
            },
        )
    )
    await billing.close("2026-03", "failed", sla_code="AVAIL-EDGE")
    await billing.close("2026-03", "failed")
    await billing.wait("billing.credit_calculated", _credit_of("AVAIL-CORE", "2026-03"))
    rows = (await billing.client.get(f"/contracts/{billing.subject}/credits")).json()["items"]
    by_sla = {r["sla_code"]: r for r in rows}
    # EDGE first: 10,800.00 × 50% = 5,400.00, capped at 5,000.00; nothing is left for CORE.
    assert (by_sla["AVAIL-EDGE"]["credit_amount"], by_sla["AVAIL-EDGE"]["cap_reduction"]) == (
        "5000.00",
        "400.00",
    )
    core = by_sla["AVAIL-CORE"]
    assert (core["credit_amount"], core["uncapped_amount"], core["cap_reduction"]) == (
        "0.00",
        "4320.00",
        "4320.00",
    )
    assert "paid in the order of cap_priority (this SLA: 2)" in core["explanation"]["formula"]
    assert (core["previous_amount"], core["delta_amount"], core["reason"]) == (
        "0.00",
        "0.00",
        "failed",
    )


async def test_a_quarterly_sla_is_credited_in_the_month_after_its_quarter(
    billing: Billing,
) -> None:
    await billing.activate(
        terms_with(
            billing.contract_id,
            sla_definitions=[{**SLA, "measurement_period": "quarter"}],
            credit_terms={"at_risk_pct": "12", "credited_in": "month_after_period"},
        )
    )
    await billing.close("2026-Q1", "failed")
    [credit] = await billing.wait("billing.credit_calculated")
    assert (
        credit.data["period_label"],
        credit.data["measurement_period"],
        credit.data["credit_amount"],
    ) == ("2026-04", "2026-Q1", "4320.00")
    assert credit.data["explanation"]["formula"].startswith("2026-Q1 failed")
    april = (await billing.client.get(f"/contracts/{billing.subject}/charges/2026-04")).json()
    assert [(ln["kind"], ln["item_code"], ln["amount"]) for ln in april["lines"][-1:]] == [
        ("credit", "AVAIL-CORE", "-4320.00")
    ]
    march = (await billing.client.get(f"/contracts/{billing.subject}/charges/2026-03")).json()
    assert march["credits_total"] == "0.00"


async def test_an_earn_back_a_restatement_undoes_is_reversed_by_an_event(
    billing: Billing,
) -> None:
    await billing.activate(
        terms_with(billing.contract_id, sla_definitions=[{**SLA, "earn_back_periods": 2}])
    )
    await billing.close("2026-03", "failed")
    await billing.close("2026-04", "met")
    await billing.close("2026-05", "met")
    [granted] = await billing.wait("billing.credit_earned_back")
    assert (
        granted.data["amount"],
        granted.data["previous_amount"],
        granted.data["delta_amount"],
        granted.data["earned_back_in_period"],
        granted.data["revision"],
    ) == ("4320.00", "0.00", "4320.00", "2026-05", 1)

    # April turns out below expected: the earn-back no longer holds.
    await billing.publish(
        "sla.period_restated",
        sla_restated(
            billing.contract_id, "2026-04", "below_expected", restatement=1, previous="met"
        ),
    )
    [reversed_] = await billing.wait("billing.credit_earn_back_reversed")
    assert (
        reversed_.data["amount"],
        reversed_.data["previous_amount"],
        reversed_.data["delta_amount"],
        reversed_.data["earned_back_in_period"],
        reversed_.data["revision"],
    ) == ("0.00", "4320.00", "-4320.00", "2026-05", 2)
    may = await billing.wait(
        "billing.charges_computed",
        lambda e: e.data["period_label"] == "2026-05" and e.data["revision"] == 2,
    )
    assert [ln for ln in may[0].data["lines"] if ln["kind"] == "earn_back"] == []

    # And back to met: granted again, as revision 3 of the earn-back.
    await billing.publish(
        "sla.period_restated",
        sla_restated(
            billing.contract_id, "2026-04", "met", restatement=2, previous="below_expected"
        ),
    )
    [_, again] = await billing.wait("billing.credit_earned_back", count=2)
    assert (again.data["previous_amount"], again.data["delta_amount"], again.data["revision"]) == (
        "0.00",
        "4320.00",
        3,
    )
    await billing.settle()
    earn_back_events = billing.of("billing.credit_earned_back") + billing.of(
        "billing.credit_earn_back_reversed"
    )
    assert sum(Decimal(e.data["delta_amount"]) for e in earn_back_events) == Decimal("4320.00")


async def test_restating_one_capped_sla_re_splits_the_month_with_deltas(billing: Billing) -> None:
    slas = [
        {**SLA, "allocation_pct": "60"},
        {**SLA, "code": "AVAIL-EDGE", "service_key": "edge", "allocation_pct": "60"},
        {**SLA, "code": "AVAIL-WEB", "service_key": "web", "allocation_pct": "30"},
    ]
    await billing.activate(terms_with(billing.contract_id, sla_definitions=slas))
    for code in ("AVAIL-CORE", "AVAIL-EDGE", "AVAIL-WEB"):
        await billing.close("2026-03", "failed", sla_code=code)
    # 6,480 + 6,480 + 3,240 = 16,200 > ARA 10,800: pro rata 4,320.00 / 4,320.00 / 2,160.00.
    await billing.wait("billing.credit_calculated", _credit_of("AVAIL-WEB", "2026-03"))

    async def split() -> dict[str, str]:
        rows = (await billing.client.get(f"/contracts/{billing.subject}/credits")).json()["items"]
        return {r["sla_code"]: r["credit_amount"] for r in rows}

    assert await split() == {
        "AVAIL-CORE": "4320.00",
        "AVAIL-EDGE": "4320.00",
        "AVAIL-WEB": "2160.00",
    }
    before = len(billing.of("billing.credit_calculated"))
    # EDGE is restated to met: 6,480 + 3,240 = 9,720 fits; CORE and WEB go back up.
    await billing.publish(
        "sla.period_restated",
        sla_restated(
            billing.contract_id, "2026-03", "met", restatement=1, previous="failed"
        ).model_copy(update={"sla_code": "AVAIL-EDGE"}),
    )
    revised = await billing.wait("billing.credit_calculated", lambda e: True, count=before + 3)
    moved = {e.data["sla_code"]: e.data for e in revised[before:]}
    assert {k: (v["credit_amount"], v["delta_amount"]) for k, v in moved.items()} == {
        "AVAIL-EDGE": ("0.00", "-4320.00"),
        "AVAIL-CORE": ("6480.00", "2160.00"),
        "AVAIL-WEB": ("3240.00", "1080.00"),
    }
    assert moved["AVAIL-CORE"]["cap_reduction"] == "0.00"
    await billing.settle()
    assert len(billing.of("billing.credit_calculated")) == before + 3
    assert await split() == {"AVAIL-CORE": "6480.00", "AVAIL-EDGE": "0.00", "AVAIL-WEB": "3240.00"}
