"""Pure charge arithmetic: base charges, ARC/RRC with the deadband, band rates and the band
floor, the volume band, monthly charges.

Every amount is Decimal in the contract currency, rounded half-even to the currency's minor
unit at line level; totals are sums of rounded lines. Each line carries its formula and the
exact inputs behind it.

Rules chosen where DESIGN.md leaves room (docs/billing-reconciler.md repeats them):
- Band rates apply to the whole variance: the ARC/RRC rate is the rate of the band in which
  the actual volume falls (`from_pct` ≤ actual/baseline·100 < `to_pct`); a band without a
  rate, or an actual outside every band, uses the resource unit's own rate.
- The band floor is the volume band's `floor_pct` (else the lowest `from_pct` of the band
  rates). Below it the actual counts as the floor: the minimum commitment, so the RRC stops
  there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from crm_events.schemas.contracts import BandRate, DeadbandMode, ResourceUnit
from crm_events.types import round_money

HUNDRED = Decimal(100)


class LineKind(StrEnum):
    BASE = "base"
    ARC = "arc"
    RRC = "rrc"
    CREDIT = "credit"
    EARN_BACK = "earn_back"
    REBATE = "rebate"

    @property
    def reduces_total(self) -> bool:
        """RRC, credits and rebates are subtracted from what the customer owes."""
        return self in (LineKind.RRC, LineKind.CREDIT, LineKind.REBATE)


@dataclass(frozen=True)
class ChargeLine:
    kind: LineKind
    resource_unit: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    formula: str
    inputs: dict[str, str] = field(default_factory=dict)

    @property
    def signed_amount(self) -> Decimal:
        """RRC reduces the monthly charges."""
        return -self.amount if self.kind.reduces_total else self.amount


def base_charge(unit: ResourceUnit, currency: str) -> ChargeLine:
    amount = round_money(unit.baseline_volume * unit.unit_price, currency)
    return ChargeLine(
        kind=LineKind.BASE,
        resource_unit=unit.code,
        quantity=unit.baseline_volume,
        rate=unit.unit_price,
        amount=amount,
        formula=f"baseline {unit.baseline_volume} × unit price {unit.unit_price} = {amount}",
        inputs={"baseline_volume": str(unit.baseline_volume), "unit_price": str(unit.unit_price)},
    )


def band_floor_pct(unit: ResourceUnit) -> Decimal | None:
    """The minimum commitment, as % of baseline: the volume band's floor, else the lowest
    band of the band rates, else none."""
    if unit.volume_band is not None:
        return unit.volume_band.floor_pct
    if unit.band_rates:
        return min(b.from_pct for b in unit.band_rates)
    return None


def band_at(unit: ResourceUnit, actual: Decimal) -> BandRate | None:
    """The band of the band rates in which `actual` falls: from_pct ≤ actual/B·100 < to_pct."""
    if not unit.band_rates or unit.baseline_volume == 0:
        return None
    pct = actual * HUNDRED / unit.baseline_volume
    for band in sorted(unit.band_rates, key=lambda b: b.from_pct):
        if band.from_pct <= pct < band.to_pct:
            return band
    return None


def _pct(value: Decimal) -> str:
    return format(value.normalize(), "f")


def volume_adjustment(unit: ResourceUnit, actual: Decimal, currency: str) -> ChargeLine | None:
    """ARC when actual exceeds baseline beyond the deadband, RRC when it falls short.

    full_variance: the whole variance is charged once outside the deadband;
    excess_only:   only the part beyond the deadband edge is charged.
    """
    baseline = unit.baseline_volume
    inputs = {
        "actual": str(actual),
        "baseline_volume": str(baseline),
        "deadband_pct": str(unit.deadband_pct),
        "deadband_mode": unit.deadband_mode.value,
    }
    measured = actual
    floor_note = ""
    floor_pct = band_floor_pct(unit)
    if floor_pct is not None:
        floor = baseline * floor_pct / HUNDRED
        inputs["band_floor_pct"] = str(floor_pct)
        if actual < floor:
            measured = floor
            floor_note = (
                f"actual {actual} is below the band floor {_pct(floor_pct)}% × {baseline} = "
                f"{_pct(floor)}, charged as if at the floor; "
            )
            inputs["charged_as_actual"] = _pct(floor)
    band = baseline * unit.deadband_pct / HUNDRED
    upper, lower = baseline + band, baseline - band
    if lower <= measured <= upper:
        return None
    excess_only = unit.deadband_mode is DeadbandMode.EXCESS_ONLY
    shown = _pct(measured) if floor_note else str(actual)
    banded = band_at(unit, measured)
    if measured > upper:
        kind, rate = LineKind.ARC, unit.arc_rate
        if banded is not None and banded.arc_rate is not None:
            rate = banded.arc_rate
        quantity = measured - (upper if excess_only else baseline)
        edge = (
            f"baseline {baseline} × (1 + {unit.deadband_pct}%)"
            if excess_only
            else f"baseline {baseline}"
        )
        variance = f"(actual {shown} − {edge})"
    else:
        kind, rate = LineKind.RRC, unit.rrc_rate
        if banded is not None and banded.rrc_rate is not None:
            rate = banded.rrc_rate
        quantity = (lower if excess_only else baseline) - measured
        edge = (
            f"baseline {baseline} × (1 − {unit.deadband_pct}%)"
            if excess_only
            else f"baseline {baseline}"
        )
        variance = f"({edge} − actual {shown})"
    rate_note = ""
    if banded is not None:
        inputs["band"] = f"{_pct(banded.from_pct)}%–{_pct(banded.to_pct)}%"
        rate_note = f" (band {inputs['band']} of baseline)"
    amount = round_money(quantity * rate, currency)
    inputs["rate"] = str(rate)
    return ChargeLine(
        kind=kind,
        resource_unit=unit.code,
        quantity=quantity,
        rate=rate,
        amount=amount,
        formula=f"{floor_note}{kind.value.upper()} = {variance} × rate {rate}{rate_note} = "
        f"{quantity} × {rate} = {amount}",
        inputs=inputs,
    )


class BandDirection(StrEnum):
    ABOVE = "above"
    BELOW = "below"


def outside_volume_band(unit: ResourceUnit, actual: Decimal) -> BandDirection | None:
    """Whether actual volume left the volume band (a reason to renegotiate)."""
    vb = unit.volume_band
    if vb is None:
        return None
    if actual < unit.baseline_volume * vb.floor_pct / HUNDRED:
        return BandDirection.BELOW
    if actual > unit.baseline_volume * vb.ceiling_pct / HUNDRED:
        return BandDirection.ABOVE
    return None


@dataclass(frozen=True)
class MonthlyCharges:
    lines: list[ChargeLine]
    total: Decimal
    units_without_consumption: list[str]


def monthly_charges(
    units: Iterable[ResourceUnit], actuals: Mapping[str, Decimal], currency: str
) -> MonthlyCharges:
    """M = base charges + ARC − RRC for the period (before credits)."""
    lines: list[ChargeLine] = []
    missing: list[str] = []
    for unit in units:
        lines.append(base_charge(unit, currency))
        actual = actuals.get(unit.code)
        if actual is None:
            missing.append(unit.code)  # no consumption reported: baseline assumed
            continue
        adjustment = volume_adjustment(unit, actual, currency)
        if adjustment is not None:
            lines.append(adjustment)
    total = sum((line.signed_amount for line in lines), Decimal(0))
    return MonthlyCharges(lines=lines, total=total, units_without_consumption=missing)
