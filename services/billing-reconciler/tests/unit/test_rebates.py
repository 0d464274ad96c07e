"""Rebate tiers on cumulative spend in the contract year: marginal and retroactive."""

from datetime import date
from decimal import Decimal

from billing_reconciler.rebates.domain import contract_year, period_rebate, rebate_due
from crm_events.schemas.contracts import RebateTier

MARGINAL = [
    RebateTier(from_amount=Decimal(0), to_amount=Decimal(100_000), rebate_pct=Decimal(0)),
    RebateTier(from_amount=Decimal(100_000), to_amount=Decimal(200_000), rebate_pct=Decimal(2)),
    RebateTier(from_amount=Decimal(200_000), rebate_pct=Decimal(3)),
]
RETROACTIVE = [
    RebateTier(from_amount=Decimal(0), to_amount=Decimal(100_000), rebate_pct=Decimal(0)),
    RebateTier(
        from_amount=Decimal(100_000),
        to_amount=Decimal(200_000),
        rebate_pct=Decimal(2),
        retroactive=True,
    ),
    RebateTier(from_amount=Decimal(200_000), rebate_pct=Decimal(3), retroactive=True),
]


def test_marginal_tiers_apply_to_the_spend_inside_each_tier() -> None:
    # 250,000: (200,000 − 100,000) × 2% + (250,000 − 200,000) × 3% = 2,000 + 1,500
    assert rebate_due(Decimal(250_000), MARGINAL).amount == Decimal(3500)
    assert rebate_due(Decimal(90_000), MARGINAL).amount == 0


def test_retroactive_tier_applies_to_all_spend_once_reached() -> None:
    assert rebate_due(Decimal(150_000), RETROACTIVE).amount == Decimal(3000)  # 150,000 × 2%
    assert rebate_due(Decimal(250_000), RETROACTIVE).amount == Decimal(7500)  # 250,000 × 3%
    assert rebate_due(Decimal(99_999), RETROACTIVE).amount == 0


def test_mixed_tiers_retroactive_below_marginal_above() -> None:
    tiers = [RETROACTIVE[1], MARGINAL[2]]
    # 250,000: 200,000 × 2% (retroactive up to its edge) + 50,000 × 3% = 4,000 + 1,500
    assert rebate_due(Decimal(250_000), tiers).amount == Decimal(5500)


def test_period_rebate_is_the_growth_of_the_rebate_due_marginal() -> None:
    # Four months of M = 91,960.00: spend crosses 100,000 in month 2 and 200,000 in month 3.
    months = [Decimal("91960.00")] * 4
    spend = Decimal(0)
    rebates = []
    for m in months:
        r = period_rebate(spend_before=spend, period_spend=m, tiers=MARGINAL, currency="USD")
        rebates.append(r.amount)
        spend += m
    # due: 0; (183,920 − 100,000) × 2% = 1,678.40; 2,000 + 75,880 × 3% = 4,276.40;
    #      2,000 + 167,840 × 3% = 7,035.20
    assert rebates == [
        Decimal("0.00"),
        Decimal("1678.40"),
        Decimal("2598.00"),
        Decimal("2758.80"),
    ]
    assert sum(rebates) == Decimal("7035.20")


def test_period_rebate_retroactive_catches_up_on_earlier_spend() -> None:
    months = [Decimal("91960.00")] * 3
    spend = Decimal(0)
    rebates = []
    for m in months:
        r = period_rebate(spend_before=spend, period_spend=m, tiers=RETROACTIVE, currency="USD")
        rebates.append(r.amount)
        spend += m
    # due: 0; 183,920 × 2% = 3,678.40; 275,880 × 3% = 8,276.40
    assert rebates == [Decimal("0.00"), Decimal("3678.40"), Decimal("4598.00")]
    last = period_rebate(
        spend_before=Decimal("183920.00"),
        period_spend=Decimal("91960.00"),
        tiers=RETROACTIVE,
        currency="USD",
    )
    assert "already granted 3678.40" in last.formula and "retroactive" in last.formula


def test_contract_years_start_on_the_anniversary() -> None:
    start = date(2026, 4, 1)
    assert contract_year(start, date(2026, 4, 1))[0] == 1
    assert contract_year(start, date(2027, 3, 1))[:2] == (1, date(2026, 4, 1))
    assert contract_year(start, date(2027, 4, 1))[:2] == (2, date(2027, 4, 1))
