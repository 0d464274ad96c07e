from decimal import Decimal

import pytest

from billing_reconciler.charges.domain import LineKind, monthly_charges, volume_adjustment
from billing_reconciler.credits.domain import at_risk_amount, service_credit
from crm_events.schemas.contracts import DeadbandMode, ResourceUnit

SRV_WIN = ResourceUnit(
    code="SRV-WIN",
    unit_price="150.00",
    baseline_volume="200",
    arc_rate="140.00",
    rrc_rate="120.00",
    deadband_pct="5",
)
TCK_L1 = ResourceUnit(
    code="TCK-L1",
    unit_price="12.00",
    baseline_volume="5000",
    arc_rate="11.00",
    rrc_rate="9.00",
    deadband_pct="10",
)


def test_design_worked_example_charges_and_credit_to_the_cent() -> None:
    charges = monthly_charges(
        [SRV_WIN, TCK_L1], {"SRV-WIN": Decimal(214), "TCK-L1": Decimal(4700)}, "USD"
    )
    arc = [line for line in charges.lines if line.kind is LineKind.ARC]
    assert [(a.resource_unit, a.quantity, a.amount) for a in arc] == [
        ("SRV-WIN", Decimal(14), Decimal("1960.00"))
    ]
    assert not [line for line in charges.lines if line.kind is LineKind.RRC]  # within deadband
    assert charges.total == Decimal("91960.00")
    ara = at_risk_amount(charges.total, Decimal(12), "USD")
    assert ara == Decimal("11035.20")
    credit = service_credit(at_risk=ara, allocation_pct=Decimal(40), currency="USD")
    assert credit.amount == Decimal("4414.08")
    assert not credit.capped
    assert "11035.20 × allocation 40%" in credit.formula


def test_rrc_below_the_deadband_reduces_charges() -> None:
    line = volume_adjustment(SRV_WIN, Decimal(180), "USD")
    assert line is not None and line.kind is LineKind.RRC
    assert (line.quantity, line.amount) == (Decimal(20), Decimal("2400.00"))
    charges = monthly_charges([SRV_WIN], {"SRV-WIN": Decimal(180)}, "USD")
    assert charges.total == Decimal("30000.00") - Decimal("2400.00")


@pytest.mark.parametrize(
    "mode, quantity",
    [
        (DeadbandMode.FULL_VARIANCE, Decimal(14)),  # 214 − 200
        (DeadbandMode.EXCESS_ONLY, Decimal(4)),  # 214 − 210
    ],
)
def test_deadband_modes(mode: DeadbandMode, quantity: Decimal) -> None:
    unit = SRV_WIN.model_copy(update={"deadband_mode": mode})
    line = volume_adjustment(unit, Decimal(214), "USD")
    assert line is not None and line.quantity == quantity
    assert line.amount == quantity * Decimal("140.00")


def test_units_without_consumption_are_charged_at_baseline_and_listed() -> None:
    charges = monthly_charges([SRV_WIN, TCK_L1], {"SRV-WIN": Decimal(200)}, "USD")
    assert charges.total == Decimal("90000.00")
    assert charges.units_without_consumption == ["TCK-L1"]


def test_credits_in_a_period_never_exceed_the_at_risk_amount() -> None:
    ara = Decimal("1000.00")
    first = service_credit(at_risk=ara, allocation_pct=Decimal(70), currency="USD")
    second = service_credit(
        at_risk=ara, allocation_pct=Decimal(70), currency="USD", already_credited=first.amount
    )
    assert (first.amount, second.amount) == (Decimal("700.00"), Decimal("300.00"))
    assert second.capped and "capped" in second.formula


def test_performance_category_multiplies_the_allocation() -> None:
    # The public-sector clause: 100,000 × 10% = 10,000; × 50% × 40% = 2,000.
    ara = at_risk_amount(Decimal("100000"), Decimal(10), "GBP")
    credit = service_credit(
        at_risk=ara, allocation_pct=Decimal(40), category_pct=Decimal(50), currency="GBP"
    )
    assert (ara, credit.amount) == (Decimal("10000.00"), Decimal("2000.00"))
