from decimal import Decimal

import pytest

from billing_reconciler.charges.domain import (
    BandDirection,
    LineKind,
    base_charge,
    monthly_charges,
    outside_volume_band,
    volume_adjustment,
)
from billing_reconciler.credits.domain import at_risk_amount, service_credit
from crm_events.schemas.contracts import BandRate, DeadbandMode, ResourceUnit, VolumeBand

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


def test_performance_category_multiplies_the_allocation() -> None:
    # The public-sector clause: 100,000 × 10% = 10,000; × 50% × 40% = 2,000.
    ara = at_risk_amount(Decimal("100000"), Decimal(10), "GBP")
    credit = service_credit(
        at_risk=ara, allocation_pct=Decimal(40), category_pct=Decimal(50), currency="GBP"
    )
    assert (ara, credit.amount) == (Decimal("10000.00"), Decimal("2000.00"))


# Band rates, the band floor and the volume band --------------------------------------

BANDED = SRV_WIN.model_copy(
    update={
        "volume_band": VolumeBand(floor_pct=Decimal(80), ceiling_pct=Decimal(120)),
        "band_rates": [
            BandRate(from_pct=Decimal(80), to_pct=Decimal(100), rrc_rate=Decimal("110.00")),
            BandRate(from_pct=Decimal(100), to_pct=Decimal(110), arc_rate=Decimal("140.00")),
            BandRate(from_pct=Decimal(110), to_pct=Decimal(150), arc_rate=Decimal("130.00")),
        ],
    }
)


def test_arc_uses_the_rate_of_the_band_the_actual_falls_in_for_the_whole_variance() -> None:
    # 230 is 115% of 200: band 110–150 at 130.00; the whole variance 30 is charged at it.
    line = volume_adjustment(BANDED, Decimal(230), "USD")
    assert line is not None and line.kind is LineKind.ARC
    assert (line.quantity, line.rate, line.amount) == (
        Decimal(30),
        Decimal("130.00"),
        Decimal("3900.00"),
    )
    assert line.inputs["band"] == "110%–150%"
    # 214 is 107%: band 100–110 at 140.00 → the worked example's 1,960.00 is unchanged.
    near = volume_adjustment(BANDED, Decimal(214), "USD")
    assert near is not None and near.amount == Decimal("1960.00")


def test_rrc_uses_the_band_rate_and_stops_at_the_band_floor() -> None:
    # 170 is 85%: band 80–100, RRC rate 110.00: (200 − 170) × 110 = 3,300.00.
    inside = volume_adjustment(BANDED, Decimal(170), "USD")
    assert inside is not None and inside.kind is LineKind.RRC
    assert (inside.quantity, inside.amount) == (Decimal(30), Decimal("3300.00"))
    # 120 is 60%, below the floor of 80% (160): charged as if 160 → (200 − 160) × 110.
    below = volume_adjustment(BANDED, Decimal(120), "USD")
    assert below is not None
    assert (below.quantity, below.rate, below.amount) == (
        Decimal(40),
        Decimal("110.00"),
        Decimal("4400.00"),
    )
    assert "below the band floor 80% × 200 = 160" in below.formula
    assert below.inputs["charged_as_actual"] == "160"


def test_band_floor_without_a_volume_band_is_the_lowest_band() -> None:
    unit = SRV_WIN.model_copy(
        update={"band_rates": [BandRate(from_pct=Decimal(90), to_pct=Decimal(100))]}
    )
    line = volume_adjustment(unit, Decimal(100), "USD")
    # floor 90% of 200 = 180 → RRC (200 − 180) × 120.00 (the unit's own rate: band has none)
    assert line is not None and (line.quantity, line.amount) == (Decimal(20), Decimal("2400.00"))


def test_excess_only_rrc_counts_from_the_deadband_edge() -> None:
    unit = SRV_WIN.model_copy(update={"deadband_mode": DeadbandMode.EXCESS_ONLY})
    line = volume_adjustment(unit, Decimal(180), "USD")
    # lower edge 200 × 95% = 190 → (190 − 180) × 120.00
    assert line is not None and line.kind is LineKind.RRC
    assert (line.quantity, line.amount) == (Decimal(10), Decimal("1200.00"))


def test_actual_on_the_deadband_edge_is_not_adjusted() -> None:
    assert volume_adjustment(SRV_WIN, Decimal(210), "USD") is None
    assert volume_adjustment(SRV_WIN, Decimal(190), "USD") is None
    assert volume_adjustment(SRV_WIN, Decimal("210.01"), "USD") is not None


def test_leaving_the_volume_band_is_detected_in_both_directions() -> None:
    assert outside_volume_band(BANDED, Decimal(241)) is BandDirection.ABOVE
    assert outside_volume_band(BANDED, Decimal(240)) is None
    assert outside_volume_band(BANDED, Decimal(159)) is BandDirection.BELOW
    assert outside_volume_band(SRV_WIN, Decimal(1000)) is None  # no band, nothing to say


def test_yen_amounts_round_half_even_to_whole_units() -> None:
    unit = SRV_WIN.model_copy(
        update={"unit_price": Decimal("150.5"), "baseline_volume": Decimal(3)}
    )
    assert base_charge(unit, "JPY").amount == Decimal("452")  # 451.5 → 452 (even)
